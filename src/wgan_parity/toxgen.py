"""``python -m wgan_parity.toxgen``: kept working; the module is :mod:`wgan_parity.toxgen`."""

from __future__ import annotations

import sys

from wgan_parity.matrix.toxgen import main

if __name__ == "__main__":
    sys.exit(main())
