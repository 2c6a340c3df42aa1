"""pytest plugin: ``pytest -p toy_plugin`` runs the suite with the toy framework registered."""

from __future__ import annotations

import contextlib

import pytest

from toy_framework import ENTRY
from wgan_parity import frameworks

_STACK = contextlib.ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    """Register the toy framework before collection."""
    _STACK.enter_context(frameworks.registered(ENTRY))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Unregister it."""
    _STACK.close()
