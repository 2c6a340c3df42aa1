"""Entry point for ``python -m wgan_parity``."""

from wgan_parity.cli import main

raise SystemExit(main())
