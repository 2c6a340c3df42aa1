"""Planted-bug user backends: the mutants ``wgan-parity selftest`` scores the verdict against.

Each module of this package is a user backend (``BASE = "torch"`` or ``"tensorflow"``, see
:mod:`wgan_parity.backends`) that overrides exactly one primitive or composite to plant one
classic porting bug, and states as data what a working comparison should report about it:

- ``TOUCHES``: globs of the catalog cases the bug can change (the cases the selftest dumps);
- ``FIRST_TAP``: the tap where the bug first acts in a composite case (a string, or a mapping
  from case glob to tap; ``"out"`` when it acts after the last tap);
- ``SEED_FORWARD_VISIBLE``: whether seed mode's forward rows (``out``, ``tap/*``) can show it.
  Seed mode's constant 5e-2 kernels are symmetric and its biases zero, so a flipped, transposed
  or reshaped kernel and a dropped bias change no forward value there.

Importing a module imports no framework: the overrides reach the framework through the base
adapter's module globals, which its ``configure`` binds.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import List

PACKAGE = __name__
# Every case a conv2d override reaches: the conv layers and the residual blocks built on them.
CONV_CASES = (
    "conv2d.*",
    "conv_mean_pool.*",
    "mean_pool_conv.*",
    "upsample_conv.*",
    "residual_up.*",
    "residual_down.*",
)


def names() -> List[str]:
    """Short names of the bug modules, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(name: str) -> ModuleType:
    """Import the bug module ``name`` (short name, e.g. ``conv_kernel_flip``)."""
    return importlib.import_module(f"{PACKAGE}.{name}")
