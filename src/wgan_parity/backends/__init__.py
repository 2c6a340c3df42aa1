"""Backend registry: names map to adapter modules, imported lazily.

A backend is built from a module that defines the primitives of
:data:`wgan_parity.core.protocol.PRIMITIVES`. A *user* backend is any importable module
path (``mypkg.my_port``) that sets ``BASE = "<built-in name>"`` and defines only what it changes:
any primitive (``layer_norm``) or any composite (``residual_block``). Composites take the backend
object as their first argument, so an override reaches every block built on it.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, cast

from wgan_parity import frameworks
from wgan_parity.core import precision
from wgan_parity.core.flags import Flags
from wgan_parity.core.model import COMPOSITE_IMPLS
from wgan_parity.core.protocol import COMPOSITES, CONSTANTS, PRIMITIVES, Ops, Primitives

if TYPE_CHECKING:  # a type checker proves each adapter module meets the protocol
    from wgan_parity.backends import jax, reference, tensorflow, torch

    _REFERENCE: Primitives = reference
    _TENSORFLOW: Primitives = tensorflow
    _TORCH: Primitives = torch
    _JAX: Primitives = jax

#: Built-in backends: name -> module, from the framework registry (a live view, so a framework
#: registered for a test is built in too). Nothing is imported until asked for.
BUILTIN: Mapping[str, str] = frameworks.BackendModules()


class BackendError(LookupError):
    """A backend name cannot be resolved into a working backend."""


class Backend:
    """Primitives of a framework adapter plus the composites, bound to this object.

    ``layers`` lists the modules it was built from, base first (for the dump's metadata).
    """

    def __init__(self, name: str, layers: list) -> None:
        self.name = name
        self.modules = layers
        self.flags: Dict[str, Any] = {}
        for composite in COMPOSITES:
            setattr(self, composite, functools.partial(COMPOSITE_IMPLS[composite], self))
        for module in layers:
            for attr in PRIMITIVES + CONSTANTS:
                if hasattr(module, attr):
                    setattr(self, attr, getattr(module, attr))
            for composite in COMPOSITES:
                if hasattr(module, composite):
                    setattr(self, composite, functools.partial(getattr(module, composite), self))
        missing = [a for a in PRIMITIVES + CONSTANTS if not hasattr(self, a)]
        if missing:
            raise BackendError(
                f"backend {name!r}: expected the protocol's primitives, missing {missing}. "
                f"Define them in the module or set BASE to a built-in backend ({sorted(BUILTIN)})."
            )

    @property
    def framework(self) -> str:
        """The underlying framework: reference, tensorflow or torch."""
        return self.FRAMEWORK  # type: ignore[attr-defined]


def import_backend_module(name: str) -> ModuleType:
    """Import a built-in backend module by name, or a user module by dotted path."""
    module_name = BUILTIN.get(name, name)
    try:
        return importlib.import_module(module_name)
    except Exception as exc:  # a user's module may fail to import in any way (SyntaxError...)
        if name in BUILTIN and isinstance(exc, ImportError):
            raise BackendError(
                f"backend {name!r} needs its framework installed ({exc}). "
                f"Install it, e.g. `pip install 'wgan-parity[{name}]'`."
            ) from exc
        raise BackendError(
            f"backend {name!r}: expected a built-in name ({sorted(BUILTIN)}) or an importable "
            f"module path, but importing it failed: {type(exc).__name__}: {exc}"
        ) from exc


def _module_chain(name: str, seen: Optional[list] = None) -> list:
    seen = seen or []
    if name in seen:
        raise BackendError(f"backend {name!r}: BASE chain loops through {seen}")
    module = import_backend_module(name)
    base = getattr(module, "BASE", None)
    if base is None:
        return [module]
    return [*_module_chain(base, [*seen, name]), module]


def load_backend(name: str, flags: Optional[Flags] = None) -> Ops:
    """Resolve ``name``, import its modules, apply ``flags`` via ``configure`` (and the
    precision policy, :mod:`wgan_parity.core.precision`) and return it."""
    flags = flags or Flags()
    modules = _module_chain(name)
    backend = cast(Ops, Backend(name, modules))
    backend.flags = dict(backend.configure(flags))
    if flags.precision != precision.FLOAT32 and backend.DTYPE == "float64":
        raise BackendError(
            f"--precision {flags.precision}: backend {name!r} is the float64 truth, which never "
            "runs reduced; run it without --precision (its --noise-precision measures the limits)"
        )
    hooks = {hook: _last(modules, hook) for hook in ("cast", "autocast", "cast_up")}
    try:
        backend.flags.update(precision.apply(backend, flags.precision, **hooks))
    except ValueError as exc:
        raise BackendError(str(exc)) from exc
    return backend


def _last(modules: list, attr: str) -> Any:
    """``attr`` of the last module of the chain that defines it (None if none does)."""
    found = [getattr(m, attr) for m in modules if hasattr(m, attr)]
    return found[-1] if found else None
