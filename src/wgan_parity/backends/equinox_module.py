"""Check an Equinox port as it is: the Equinox driver of :mod:`wgan_parity.backends.module_port`.

A user backend (``BASE = "jax"``) builds one :class:`EquinoxPort` from a factory per block, a
name map and optional transforms (all described in :mod:`module_port`)::

    PORT = EquinoxPort(factories, names)
    residual_block, good_generator, good_discriminator = PORT.composites()

**Names** are attribute paths, as ``jax.tree_util`` spells them: ``rb1.conv1.weight`` for a
parameter (an inexact array leaf), ``rb1.conv1`` for a submodule (a tap), ``blocks.0.conv1``
inside a list. A factory returns a module that takes the whole batch, NCHW (ports ``jax.vmap``
their per-sample layers inside; a submodule called inside ``jax.vmap`` cannot be a tap).

The module is a pytree: its parameters are replaced by the tool's arrays (``eqx.combine`` of the
port's static part with the tool's tensors), so ``jax.vjp`` reaches them to any order. Taps
wrap the mapped submodules (``eqx.tree_at``) in a recorder for the call; the JAX backend's
``jax.jit`` traces it like any other function.

**Transforms** (:attr:`EquinoxPort.NAMED`): ``transpose`` (tflib's linear ``(in, out)`` against
``eqx.nn.Linear``'s ``(out, in)``) and ``expand`` (per-channel against per-element ``(C, H, W)``
parameters, e.g. ``eqx.nn.LayerNorm((C, H, W))``'s).

Importing this module imports no framework; JAX and Equinox are imported when a block runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Mapping, Set, Tuple

from wgan_parity.backends import module_port
from wgan_parity.backends.module_port import Entry, PortError, Spec, Transform

__all__ = ["Entry", "EquinoxPort", "PortError", "Spec", "Transform"]


def transpose(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A 2-D weight transposed: tflib's ``(in, out)`` as ``eqx.nn.Linear``'s ``(out, in)``."""
    del shape
    return tensor.T


def expand(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A per-channel ``(C,)`` array broadcast to the port's per-element ``(C, H, W)``.

    The identity when the port's parameter is per channel too.
    """
    import jax.numpy as jnp

    if tuple(tensor.shape) == tuple(shape):
        return tensor
    return jnp.broadcast_to(jnp.reshape(tensor, (-1,) + (1,) * (len(shape) - 1)), shape)


def _key_name(key: Any) -> str:
    for attr in ("name", "idx", "key"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _dotted(path: Tuple[Any, ...]) -> str:
    return ".".join(_key_name(k) for k in path)


class EquinoxPort(module_port.ModulePort):
    """A user's Equinox port as the tool's composites."""

    NAMED: Mapping[str, Transform] = {"transpose": transpose, "expand": expand}

    def prepare(self, kind: str, spec: Spec, module: Any) -> None:
        """Check that the factory gave an Equinox module (its parameters exist already)."""
        import equinox as eqx

        if not isinstance(module, eqx.Module):
            raise PortError(
                f"{kind}: the factory returned a {type(module).__name__}, expected an "
                "equinox.Module that takes the whole NCHW batch"
            )

    def _leaves(self, module: Any) -> List[Tuple[str, Any]]:
        import equinox as eqx
        import jax

        params, _ = eqx.partition(module, eqx.is_inexact_array)
        flat, _ = jax.tree_util.tree_flatten_with_path(params)
        return [(_dotted(path), leaf) for path, leaf in flat]

    def parameters(self, module: Any) -> Dict[str, Tuple[int, ...]]:
        """Inexact array leaves by attribute path: name -> shape."""
        return {name: tuple(int(d) for d in leaf.shape) for name, leaf in self._leaves(module)}

    def submodules(self, module: Any) -> Set[str]:
        """Every submodule's attribute path, and "" (the module)."""
        return {"", *_submodules(module)}

    def call(
        self, module: Any, params: Mapping[str, Any], x: Any, tap_subs: Mapping[str, str]
    ) -> Tuple[Any, Dict[str, Any]]:
        """The module with the tool's arrays as its parameters, mapped submodules recording."""
        import equinox as eqx
        import jax

        trainable, static = eqx.partition(module, eqx.is_inexact_array)
        flat, treedef = jax.tree_util.tree_flatten_with_path(trainable)
        values = [params[_dotted(path)] for path, _ in flat]
        bound = eqx.combine(jax.tree_util.tree_unflatten(treedef, values), static)
        seen: Dict[str, Any] = {}
        subs = _submodules(bound)
        # deepest first: a recorder hides the submodules below it
        for tap, sub in sorted(tap_subs.items(), key=lambda item: -len(subs.get(item[1], ()))):
            if sub:
                getter = _getter(subs[sub])
                bound = eqx.tree_at(getter, bound, _Recorder(getter(bound), tap, seen))
        out = bound(x)
        if "" in tap_subs:
            seen[""] = out
        return out, seen

    def constant(self, value: float, shape: Tuple[int, ...], like: Any) -> Any:
        """``jnp.full``, of ``like``'s dtype (no gradient: not a tool array)."""
        import jax.numpy as jnp

        return jnp.full(tuple(shape), float(value), dtype=like.dtype)


class _Recorder:
    """Stands in for a submodule during one call and keeps its first output as a tap."""

    def __init__(self, inner: Callable[..., Any], tap: str, seen: Dict[str, Any]) -> None:
        self.inner, self.tap, self.seen = inner, tap, seen

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.inner(*args, **kwargs)
        if type(out).__name__ == "BatchTracer":
            raise PortError(
                f"tap {self.tap!r}: its submodule runs inside jax.vmap (one sample at a time), "
                "so its output is not the batch's; map the tap to the module that vmaps it, or "
                "leave it out of the name map"
            )
        self.seen.setdefault(self.tap, out)
        return out


def _submodules(module: Any, prefix: str = "", path: Tuple[Any, ...] = ()) -> Dict[str, Any]:
    """Submodules by attribute path -> their access path (attribute names and list indices)."""
    import equinox as eqx

    found: Dict[str, Any] = {}
    children: List[Tuple[Any, Any]] = []
    if isinstance(module, eqx.Module):
        children = [(f.name, getattr(module, f.name, None)) for f in dataclasses.fields(module)]
    elif isinstance(module, (list, tuple)):
        children = list(enumerate(module))
    for key, child in children:
        name, where = f"{prefix}{key}", (*path, key)
        if isinstance(child, eqx.Module):
            found[name] = where
        if isinstance(child, (eqx.Module, list, tuple)):
            found.update(_submodules(child, f"{name}.", where))
    return found


def _getter(where: Tuple[Any, ...]) -> Callable[[Any], Any]:
    def get(tree: Any) -> Any:
        for key in where:
            tree = tree[key] if isinstance(key, int) else getattr(tree, key)
        return tree

    return get
