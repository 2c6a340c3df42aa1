"""wgan-parity: numerical parity of the WGAN-GP 64x64 ResNet across frameworks.

``wgan_parity.assert_port(module, cases)`` checks a port from its own test suite
(:func:`wgan_parity.commands.check_port.assert_port`); it is imported on first use.
"""

from typing import Any

__version__ = "0.1.0"
SCHEMA_VERSION = 1


def __getattr__(name: str) -> Any:
    """``assert_port``, imported when first asked for (nothing heavy at import time)."""
    if name == "assert_port":
        from wgan_parity.commands.check_port import assert_port

        return assert_port
    raise AttributeError(f"module 'wgan_parity' has no attribute {name!r}")
