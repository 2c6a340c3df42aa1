"""Check a PyTorch ``nn.Module`` port as it is: :class:`ModulePort` turns it into composites.

A user backend (``BASE = "torch"``) builds one :class:`ModulePort` from a factory per block
(``residual_block``, ``good_generator``, ``good_discriminator``), a name map per block (tool
name -> port name) and optional transforms, and exposes its composites::

    PORT = ModulePort(factories, names)
    residual_block, good_generator, good_discriminator = PORT.composites()

Each call builds (once per shape) the port's module, maps the tool's tensors onto its
parameters and runs it through ``torch.func.functional_call``: the parameters *are* the tool's
tensors (transformed by differentiable ops), so first and second-order gradients reach them.
Taps come from forward hooks on the mapped submodules.

**Name map.** Keys are the tool's names relative to the block (``conv1.w``, ``norm1.scale``;
``input.w``, ``res1.conv1.w`` in the models); values are the port's parameter or submodule
names, or ``(name, transform)`` (a function or its name: ``"transpose"``, ``"expand"``). A key
ending in ``.`` renames a prefix (``"res1.": "rb1."``) and the rest of the name is looked up
again, in ``residual_block:up`` (the generator's blocks) or ``residual_block:down`` (the
critic's), then in ``residual_block``: ports often build up and down blocks differently.
``names`` may be a function returning the maps, so a module can state them after its code.
Taps use the same map: ``"conv1": "conv_1"`` taps the output of submodule ``conv_1``; a block's
own output is the tap of its prefix (``res1``).

**Transforms** ``(tool_tensor, port_shape) -> tensor``: :func:`transpose` (tflib's linear
``(in, out)`` against ``nn.Linear``'s ``(out, in)``) and :func:`expand` (per-channel against
per-element norm parameters, by broadcasting: each element's gradient sums into its channel).

**Coverage** is checked before anything runs: a port parameter no tool name maps to, a tool
parameter without a port parameter, or a shape that does not fit raises :class:`PortError`.

Importing this module imports no framework; torch is imported when a block first runs.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from wgan_parity.core import blocks
from wgan_parity.core.model import Taps, join

Transform = Callable[[Any, Tuple[int, ...]], Any]
Entry = Union[str, Tuple[str, Union[str, Transform]]]
KINDS = ("residual_block", "good_generator", "good_discriminator")
RESIDUAL_TAPS = ("shortcut", "norm1", "conv1", "norm2", "conv2")
RESIDUAL_MAPS = ("residual_block:up", "residual_block:down")  # tried before residual_block


class PortError(ValueError):
    """The port and its name map do not fit the tool's parameters; the message says how."""


def transpose(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A 2-D weight transposed: tflib's ``(in, out)`` as ``nn.Linear``'s ``(out, in)``."""
    del shape
    return tensor.t()


def expand(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A per-channel ``(C,)`` tensor broadcast to the port's per-element ``(C, H, W)``.

    The identity when the port's parameter is per channel too (BatchNorm2d), so one map serves
    up blocks and down blocks.
    """
    if tuple(tensor.shape) == tuple(shape):
        return tensor
    return tensor.reshape(tensor.shape[0], *([1] * (len(shape) - 1))).expand(*shape)


@dataclass(frozen=True)
class Spec:
    """What a factory builds: a residual block's channels, size and kinds, or a model's dim."""

    cin: int = 0
    cout: int = 0
    h: int = 0
    w: int = 0
    resample: str = ""
    norm: str = ""
    dim: int = 0


def _tool_params(kind: str, spec: Spec) -> List[str]:
    if kind == "residual_block":
        return list(blocks.residual_params("", spec.cin, spec.cout, spec.resample))
    if kind == "good_generator":
        return list(blocks.generator_params(spec.dim))
    return list(blocks.discriminator_params(spec.dim))


def _tool_taps(kind: str) -> List[str]:
    res = [join(f"res{i}", t) for i in range(1, 5) for t in (*RESIDUAL_TAPS, "")]
    if kind == "residual_block":
        return list(RESIDUAL_TAPS)
    if kind == "good_generator":
        return ["input", *(t.rstrip(".") for t in res), "output_norm", "output_conv"]
    return ["input", *(t.rstrip(".") for t in res)]


class ModulePort:
    """A user's ``nn.Module`` port as the tool's composites (see the module docstring)."""

    def __init__(
        self,
        factories: Mapping[str, Callable[[Spec], Any]],
        names: Union[Mapping[str, Mapping[str, Entry]], Callable[[], Mapping[str, Any]]],
        transforms: Optional[Mapping[str, Union[str, Transform]]] = None,
    ) -> None:
        unknown = sorted(set(factories) - set(KINDS))
        if unknown:
            raise PortError(f"factories for {unknown}: expected some of {list(KINDS)}")
        self.factories = dict(factories)
        self._names = names
        self._maps: Optional[Dict[str, Dict[str, Entry]]] = None
        self.transforms = {k: _transform(v) for k, v in (transforms or {}).items()}
        self._built: Dict[Tuple[str, Spec], Any] = {}

    @property
    def names(self) -> Dict[str, Dict[str, Entry]]:
        """The name maps, per kind (read when the first block runs)."""
        if self._maps is None:
            names = self._names() if callable(self._names) else self._names
            maps = (*KINDS, *RESIDUAL_MAPS)
            unknown = sorted(set(names) - set(maps))
            if unknown:
                raise PortError(f"name maps for {unknown}: expected some of {list(maps)}")
            self._maps = {kind: dict(names.get(kind, {})) for kind in maps}
        return self._maps

    def resolve(
        self, kind: str, name: str, resample: str = ""
    ) -> Optional[Tuple[str, Optional[Transform]]]:
        """The port name (and transform) of a tool name in ``kind``'s map; None if unmapped.

        ``resample`` picks ``residual_block:up`` / ``:down`` before ``residual_block``.
        """
        resample = resample or {"good_generator": "up", "good_discriminator": "down"}.get(kind, "")
        residual = [self.names.get(f"residual_block:{resample}", {}), self.names["residual_block"]]
        maps = ([] if kind == "residual_block" else [self.names[kind]]) + residual
        for table in maps:
            if name in table:
                entry = table[name]
                return (entry, None) if isinstance(entry, str) else (entry[0], _transform(entry[1]))
        table = self.names[kind]
        for key in sorted((k for k in table if k.endswith(".")), key=len, reverse=True):
            prefix = table[key]
            target = prefix if isinstance(prefix, str) else prefix[0]
            if name == key[:-1]:
                return target.rstrip("."), None
            if name.startswith(key):
                rest = self.resolve("residual_block", name[len(key) :], resample)
                return None if rest is None else (target + rest[0], rest[1])
        return None

    def module(self, kind: str, spec: Spec) -> Any:
        """The port's module for ``spec``, built once, in training mode, coverage checked."""
        key = (kind, spec)
        if key not in self._built:
            module = self.factories[kind](spec)
            module.train()
            self.plan(kind, spec, module)  # raises PortError before anything runs
            self._built[key] = module
        return self._built[key]

    def plan(self, kind: str, spec: Spec, module: Any) -> Dict[str, Tuple[str, Transform]]:
        """Tool parameter -> (port parameter, transform); raises :class:`PortError` on a gap."""
        port = {n: tuple(p.shape) for n, p in module.named_parameters()}
        plan: Dict[str, Tuple[str, Transform]] = {}
        problems = []
        for tool in _tool_params(kind, spec):
            found = self.resolve(kind, tool, spec.resample)
            if found is None:
                problems.append(f"tool parameter {tool!r} is not in the name map")
                continue
            name, transform = found
            if name not in port:
                problems.append(f"tool parameter {tool!r} maps to {name!r}, not a parameter")
                continue
            glob = next((g for g in self.transforms if fnmatch.fnmatchcase(tool, g)), None)
            plan[tool] = (name, transform or (self.transforms[glob] if glob else _same))
        unused = sorted(set(port) - {name for name, _ in plan.values()})
        problems += [f"port parameter {n!r} {port[n]} is unmapped" for n in unused]
        if problems:
            raise PortError(
                f"{kind} {type(module).__name__} ({spec}): " + "; ".join(problems) + ". Every "
                f"port parameter needs one tool parameter: fix the name map. Port parameters: "
                f"{sorted(port)}"
            )
        return plan

    def taps(self, kind: str, spec: Spec, module: Any) -> Dict[str, str]:
        """Tool tap -> port submodule name, for the taps the map covers ("" is the module)."""
        subs = dict(module.named_modules())
        out = {"": ""} if kind == "residual_block" else {}  # the block's own output
        for tap in _tool_taps(kind):
            found = self.resolve(kind, tap, spec.resample)
            if found is not None and found[0] in subs:
                out[tap] = found[0]
        return out

    def run(self, kind: str, spec: Spec, x: Any, p: Mapping[str, Any], scope: str,
            taps: Optional[Taps], expected: Sequence[int]) -> Any:  # fmt: skip
        """Run the port's module on ``x`` with the tool's tensors ``p`` (scoped by ``scope``)."""
        import torch

        module = self.module(kind, spec).to(x.device)
        params = {}
        for tool, (name, transform) in self.plan(kind, spec, module).items():
            shape = tuple(dict(module.named_parameters())[name].shape)
            value = transform(p[join(scope, tool)], shape)
            if tuple(value.shape) != shape:
                raise PortError(
                    f"{kind}: tool {join(scope, tool)!r} {tuple(p[join(scope, tool)].shape)} "
                    f"became {tuple(value.shape)} for port {name!r} {shape}: give it a "
                    "transform (torch_module.transpose, torch_module.expand) in the name map"
                )
            params[name] = value
        seen: Dict[str, Any] = {}
        handles = []
        for tap, sub in self.taps(kind, spec, module).items():

            def hook(mod: Any, args: Any, out: Any, tap: str = tap) -> None:
                seen.setdefault(tap, out)

            handles.append(module.get_submodule(sub).register_forward_hook(hook))
        try:
            out = torch.func.functional_call(module, params, (x,))
        finally:
            for handle in handles:
                handle.remove()
        if taps is not None:  # in the tool's order, whatever order the port runs them in
            for tap in _tool_taps(kind):
                if tap in seen and join(scope, tap):
                    taps.tap(join(scope, tap), seen[tap].clone())
            if kind == "residual_block" and scope and "" in seen:
                taps.tap(scope, seen[""].clone())
        if tuple(out.shape) != tuple(expected):
            raise PortError(
                f"{kind} {type(module).__name__}: expected an output of shape "
                f"{tuple(expected)}, found {tuple(out.shape)}; reshape it in the port's forward"
            )
        return out

    def composites(self) -> Tuple[Callable[..., Any], ...]:
        """``(residual_block, good_generator, good_discriminator)`` for a user backend module;
        a block without a factory keeps the tool's own composite."""
        from wgan_parity.core import model

        def residual_block(ops: Any, x: Any, p: Any, scope: str, resample: str, norm: str,
                           taps: Optional[Taps] = None) -> Any:  # fmt: skip
            if "residual_block" not in self.factories:
                return model.residual_block(ops, x, p, scope, resample, norm, taps)
            n, cin, h, w = (int(d) for d in x.shape)
            cout = int(p[join(scope, "shortcut.w")].shape[0])
            spec = Spec(cin, cout, h, w, resample, norm)
            f = 2.0 if resample == "up" else 0.5
            return self.run("residual_block", spec, x, p, scope, taps,
                            (n, cout, int(h * f), int(w * f)))  # fmt: skip

        def good_generator(ops: Any, x: Any, p: Any, dim: int, taps: Optional[Taps] = None) -> Any:
            if "good_generator" not in self.factories:
                return model.good_generator(ops, x, p, dim, taps)
            expected = (int(x.shape[0]), 3 * 64 * 64)
            return self.run("good_generator", Spec(dim=dim), x, p, "", taps, expected)

        def good_discriminator(
            ops: Any, x: Any, p: Any, dim: int, taps: Optional[Taps] = None
        ) -> Any:
            if "good_discriminator" not in self.factories:
                return model.good_discriminator(ops, x, p, dim, taps)
            expected = (int(x.shape[0]),)
            return self.run("good_discriminator", Spec(dim=dim), x, p, "", taps, expected)

        return residual_block, good_generator, good_discriminator


def _same(tensor: Any, shape: Tuple[int, ...]) -> Any:
    del shape
    return tensor


#: Transforms by name, for name maps written as plain data.
NAMED: Dict[str, Transform] = {"transpose": transpose, "expand": expand}


def _transform(value: Union[str, Transform]) -> Transform:
    if callable(value):
        return value
    if value not in NAMED:
        raise PortError(f"unknown transform {value!r}: expected one of {sorted(NAMED)}")
    return NAMED[value]
