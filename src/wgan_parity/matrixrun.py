"""``python -m wgan_parity.matrixrun``: kept working; the module is :mod:`wgan_parity.matrixrun`."""

from __future__ import annotations

import sys

from wgan_parity.matrix.runner_cli import main

if __name__ == "__main__":
    sys.exit(main())
