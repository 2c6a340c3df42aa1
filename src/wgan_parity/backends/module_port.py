"""Check a port as it is: :class:`ModulePort` turns a user's module tree into composites.

A user backend builds one port (a framework driver: :class:`wgan_parity.backends.torch_module.
ModulePort` for ``nn.Module``, :class:`wgan_parity.backends.keras_module.KerasPort` for Keras)
from a factory per block (``residual_block``, ``good_generator``, ``good_discriminator``), a name
map per block (tool name -> port name) and optional transforms, and exposes its composites::

    PORT = ModulePort(factories, names)  # optional: transforms=..., extra=...
    residual_block, good_generator, good_discriminator = PORT.composites()

Each call builds (once per shape) the port's module, maps the tool's tensors onto its
parameters and runs it functionally (``torch.func.functional_call``, Keras ``stateless_call``):
the parameters *are* the tool's tensors (transformed by differentiable ops), so first and
second-order gradients reach them. Taps are the outputs of the mapped submodules.

**Name map.** Keys are the tool's names relative to the block (``conv1.w``, ``norm1.scale``;
``input.w``, ``res1.conv1.w`` in the models); values are the port's parameter or submodule
names, or ``(name, transform)`` (a function or its name, e.g. ``"transpose"``, ``"expand"``). A
key ending in ``.`` renames a prefix (``"res1.": "rb1."``) and the rest of the name is looked up
again, in ``residual_block:up`` (the generator's blocks) or ``residual_block:down`` (the
critic's), then in ``residual_block``: ports often build up and down blocks differently.
``names`` may be a function returning the maps, so a module can state them after its code.
Taps use the same map: ``"conv1": "conv_1"`` taps the output of submodule ``conv_1``; a block's
own output is the tap of its prefix (``res1``).

**Transforms** ``(tensor, shape) -> tensor``. On a parameter: the tool's tensor to the port's
layout, ``shape`` the port parameter's. On a tap: the port's output to the tool's layout.

**Coverage** is checked before anything runs (:mod:`wgan_parity.backends.port_plan`): a port
parameter with 0 elements (a factory that ignored the :class:`Spec`), a port parameter no tool
name maps to, a tool parameter without a port parameter, or a shape that does not fit raises
:class:`PortError`.

**Extra parameters** tflib lacks (a conv bias the port adds) are declared, not mapped:
``extra={"*conv_1*.bias": 0.0}`` holds every port parameter a glob matches at that constant (a
tensor of its shape and the input's dtype, with no gradient), or per name map:
``extra={"residual_block:up": {"conv_1.bias": 0.0}}``. A pattern that matches nothing in a block
it applies to, or a mapped parameter, is a :class:`PortError`. :meth:`ModulePort.deviations`
lists the held parameters; ``wgan-parity dump`` records them in the metadata's
``port_deviations``: a backend module's ``deviations()`` if it defines one (``deviations =
PORT.deviations``), else that of every :class:`ModulePort` among its globals.

**Layer factories** (a driver with :attr:`ModulePort.LAYER_KINDS`: torch) run the port's own
layers in the layer cases: ``factories`` may also key ``conv2d``, ``depth_to_space``,
``conv_mean_pool``, ``mean_pool_conv``, ``upsample_conv``, ``layer_norm``, ``batch_norm``, each
a function of a :class:`Spec` (``cin``, ``cout``, ``k``, ``bias``; ``block``; ``eps``; ``h``,
``w``: :mod:`wgan_parity.backends.port_functions`), with a name map of the same key
(``"conv2d": {"w": "conv.weight", "b": "conv.bias"}``) and ``extra`` sections. A user backend
module defines them with ``globals().update(PORT.layers())``. The primitives among them
(``conv2d``, ``depth_to_space``, ``layer_norm``, ``batch_norm``) replace the base framework's
everywhere, in the tool's own composites too: a block without a factory runs on the port's
layers.

This module is framework-neutral; a driver supplies parameters, submodules, the functional call,
held constants and its named transforms.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from wgan_parity.backends import port_functions, port_plan
from wgan_parity.backends.port_plan import (
    KINDS,
    LAYERS,
    MAPS,
    RESIDUAL_MAPS,
    RESIDUAL_TAPS,
    Coverage,
    Entry,
    Extra,
    PortError,
    Spec,
    Transform,
    same,
    tool_params,
    tool_taps,
)
from wgan_parity.core.model import Taps, join

__all__ = [
    "KINDS",
    "LAYERS",
    "RESIDUAL_MAPS",
    "RESIDUAL_TAPS",
    "Coverage",
    "Entry",
    "Extra",
    "ModulePort",
    "PortError",
    "Spec",
    "Transform",
    "same",
    "tool_params",
    "tool_taps",
]


class ModulePort:
    """A user's module port as the tool's composites (see the module docstring).

    Subclasses are framework drivers: they implement :meth:`prepare`, :meth:`parameters`,
    :meth:`submodules`, :meth:`call` and :meth:`constant`, and may override :attr:`NAMED` and
    the layout hooks.
    """

    #: Transforms by name, for name maps written as plain data.
    NAMED: Mapping[str, Transform] = {}
    #: The layer kinds the driver runs (``factories`` may have a factory for each).
    LAYER_KINDS: Tuple[str, ...] = ()

    def __init__(
        self,
        factories: Mapping[str, Callable[[Spec], Any]],
        names: Union[Mapping[str, Mapping[str, Entry]], Callable[[], Mapping[str, Any]]],
        transforms: Optional[Mapping[str, Union[str, Transform]]] = None,
        extra: Optional[Extra] = None,
    ) -> None:
        kinds = (*KINDS, *self.LAYER_KINDS)
        unknown = sorted(set(factories) - set(kinds))
        if unknown:
            more = f" ({type(self).__name__} runs no layers)" if set(unknown) & set(LAYERS) else ""
            raise PortError(f"factories for {unknown}: expected some of {list(kinds)}{more}")
        self.factories = dict(factories)
        self._names = names
        self._maps: Optional[Dict[str, Dict[str, Entry]]] = None
        self.transforms = {k: self.transform(v) for k, v in (transforms or {}).items()}
        self.extra = port_plan.extra_sections(extra)
        self._built: Dict[Tuple[str, Spec], Any] = {}
        self._plans: Dict[Tuple[str, Spec], Coverage] = {}
        self._deviations: Set[str] = set()

    # -- the framework driver ------------------------------------------------------------------
    def prepare(self, kind: str, spec: Spec, module: Any) -> None:
        """Put a freshly built module in training mode (and build its variables)."""
        raise NotImplementedError

    def parameters(self, module: Any) -> Dict[str, Tuple[int, ...]]:
        """The port's trainable parameters: name -> shape."""
        raise NotImplementedError

    def submodules(self, module: Any) -> Set[str]:
        """The names of the port's submodules ("" is the module itself)."""
        raise NotImplementedError

    def call(
        self, module: Any, params: Mapping[str, Any], x: Any, tap_subs: Mapping[str, str]
    ) -> Tuple[Any, Dict[str, Any]]:
        """Run ``module`` on ``x`` with ``params``; return its output and each tap's output."""
        raise NotImplementedError

    def constant(self, value: float, shape: Tuple[int, ...], like: Any) -> Any:
        """A tensor of ``shape`` filled with ``value``, of ``like``'s dtype and device."""
        raise NotImplementedError

    def epsilons(self, module: Any) -> Dict[str, float]:
        """The ``eps`` a norm layer's module uses, by submodule ("": itself); default none."""
        del module
        return {}

    def to_port(self, kind: str, x: Any) -> Any:
        """The tool's block input in the port's layout (default: unchanged)."""
        del kind
        return x

    def from_port(self, kind: str, out: Any) -> Any:
        """The port's block output in the tool's layout (default: unchanged)."""
        del kind
        return out

    def tap_value(self, value: Any) -> Any:
        """A port tap in the tool's layout, owned by the tap (default: unchanged)."""
        return value

    # -- framework-neutral ---------------------------------------------------------------------
    def transform(self, value: Union[str, Transform]) -> Transform:
        """A transform given as a function or by a name of :attr:`NAMED`."""
        if callable(value):
            return value
        if value not in self.NAMED:
            raise PortError(f"unknown transform {value!r}: expected one of {sorted(self.NAMED)}")
        return self.NAMED[value]

    @property
    def names(self) -> Dict[str, Dict[str, Entry]]:
        """The name maps, per kind (read when the first block runs)."""
        if self._maps is None:
            names = self._names() if callable(self._names) else self._names
            unknown = sorted(set(names) - set(MAPS))
            if unknown:
                raise PortError(f"name maps for {unknown}: expected some of {list(MAPS)}")
            self._maps = {kind: dict(names.get(kind, {})) for kind in MAPS}
        return self._maps

    def resolve(
        self, kind: str, name: str, resample: str = ""
    ) -> Optional[Tuple[str, Optional[Transform]]]:
        """The port name (and transform) of a tool name in ``kind``'s map; None if unmapped.

        ``resample`` picks ``residual_block:up`` / ``:down`` before ``residual_block``.
        """
        return port_plan.resolve(self.names, self.transform, kind, name, resample)

    def module(self, kind: str, spec: Spec) -> Any:
        """The port's module for ``spec``, built once, in training mode, coverage checked."""
        key = (kind, spec)
        if key not in self._built:
            module = self.factories[kind](spec)
            self.prepare(kind, spec, module)
            plan = self.coverage(kind, spec, module)  # raises PortError before anything runs
            if spec.eps:  # a norm layer: the port's own eps against the tool's
                where = f"{kind} {type(module).__name__} ({spec})"
                port_functions.check_eps(where, spec, self.epsilons(module))
            shapes = self.parameters(module)
            self._deviations.update(
                port_plan.deviation(kind, spec, n, shapes[n], v) for n, v in plan.held.items()
            )
            self._plans[key], self._built[key] = plan, module
        return self._built[key]

    def coverage(self, kind: str, spec: Spec, module: Any) -> Coverage:
        """Each port parameter's tool parameter or ``extra`` constant (:func:`port_plan.cover`)."""
        return port_plan.cover(
            kind,
            spec,
            self.parameters(module),
            lambda tool: self.resolve(kind, tool, spec.resample),
            self.transforms,
            port_plan.rules(kind, spec.resample, self.extra, self.names),
            f"{kind} {type(module).__name__} ({spec})",
        )

    def plan(self, kind: str, spec: Spec, module: Any) -> Dict[str, Tuple[str, Transform]]:
        """Tool parameter -> (port parameter, transform); raises :class:`PortError` on a gap."""
        return self.coverage(kind, spec, module).mapped

    def deviations(self) -> List[str]:
        """The port's declared differences from tflib in the blocks built so far, sorted: one
        line per parameter held at an ``extra`` constant (and shape)."""
        return sorted(self._deviations)

    def taps(self, kind: str, spec: Spec, module: Any) -> Dict[str, Tuple[str, Transform]]:
        """Tool tap -> (port submodule, transform), for the taps the map covers ("": the block)."""
        subs = self.submodules(module)
        out: Dict[str, Tuple[str, Transform]] = {}
        if kind == "residual_block":
            out[""] = ("", same)  # the block's own output
        for tap in tool_taps(kind):
            found = self.resolve(kind, tap, spec.resample)
            if found is not None and found[0] in subs:
                out[tap] = (found[0], found[1] or same)
        return out

    def run(self, kind: str, spec: Spec, x: Any, p: Mapping[str, Any], scope: str,
            taps: Optional[Taps], expected: Sequence[int]) -> Any:  # fmt: skip
        """Run the port's module on ``x`` with the tool's tensors ``p`` (scoped by ``scope``)."""
        module = self.module(kind, spec)
        shapes = self.parameters(module)
        plan = self._plans[(kind, spec)]
        params = {n: self.constant(v, shapes[n], x) for n, v in plan.held.items()}
        for tool, (name, transform) in plan.mapped.items():
            value = transform(p[join(scope, tool)], shapes[name])
            if tuple(value.shape) != shapes[name]:
                raise PortError(
                    f"{kind}: tool {join(scope, tool)!r} {tuple(p[join(scope, tool)].shape)} "
                    f"became {tuple(value.shape)} for port {name!r} {shapes[name]}: give it "
                    f"a transform (one of {sorted(self.NAMED)}, or a function) in the name map"
                )
            params[name] = value
        tap_plan = self.taps(kind, spec, module)
        out, seen = self.call(
            module, params, self.to_port(kind, x), {t: s for t, (s, _) in tap_plan.items()}
        )
        out = self.from_port(kind, out)
        if tuple(int(d) for d in out.shape) != tuple(expected):
            raise PortError(
                f"{kind} {type(module).__name__}: expected an output of shape "
                f"{tuple(expected)}, found {tuple(out.shape)}; reshape it in the port's forward"
            )
        if taps is not None and taps.shadow is not None:
            # A replay can hand the truth's value on only where the tool's code resumes: after a
            # whole block. Inside the port's module nothing is substituted, so nothing is recorded.
            return taps.tap(scope, out) if kind == "residual_block" and scope else out
        if taps is not None:  # in the tool's order, whatever order the port runs them in
            for tap in tool_taps(kind):
                if tap in seen and join(scope, tap):
                    taps.tap(join(scope, tap), self._tap(tap_plan[tap][1], seen[tap]))
            if kind == "residual_block" and scope and "" in seen:
                taps.tap(scope, self._tap(same, seen[""]))
        return out

    def _tap(self, transform: Transform, value: Any) -> Any:
        if transform is same:
            return self.tap_value(value)
        return transform(value, tuple(int(d) for d in value.shape))

    def composites(self) -> Tuple[Callable[..., Any], ...]:
        """``(residual_block, good_generator, good_discriminator)`` for a user backend module
        (:func:`port_functions.composites`); a block without a factory keeps the tool's own."""
        return port_functions.composites(self)

    def layers(self) -> Dict[str, Callable[..., Any]]:
        """The port's layers by the protocol's names, one per layer factory, for a user backend
        module: ``globals().update(PORT.layers())`` (:func:`port_functions.layers`)."""
        return port_functions.layers(self)
