"""wgan-parity: numerical parity of the WGAN-GP 64x64 ResNet across frameworks."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1
