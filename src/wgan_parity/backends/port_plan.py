"""Coverage planning for :mod:`wgan_parity.backends.module_port`: what each port parameter gets.

Before a port's block runs, :func:`cover` gives every port parameter exactly one source: a tool
parameter (through the name map, :func:`resolve`) or a declared constant (``extra``). Anything
else raises :class:`PortError` with its cause, checked in this order:

1. a port parameter with 0 elements: the factory ignored the :class:`Spec` and built a zero-width
   layer (checked first: every name and shape message after it would mislead);
2. a tool parameter no name maps, or that maps to no port parameter;
3. a port parameter neither mapped nor held; an ``extra`` pattern that matches no parameter of a
   block it applies to; a mapped parameter that an ``extra`` pattern matches too (ambiguous).

**Extra parameters** (:func:`extra_sections`, :func:`rules`): glob patterns (``fnmatch``: ``*``
crosses dots) over the port's parameter names, each with the number its parameters are held at,
e.g. ``{"*conv_1*.bias": 0.0}``; such a pattern applies to every block. A key naming a name map
(``"residual_block:up"``, ``"good_generator"``...) holds a section of patterns for those blocks
only; a residual section applies inside the models too, under the name map's block prefixes
(``"res1.": "rb1."``), as the name map does. A layer (:data:`LAYERS`) takes its own section only:
it holds what the tool does not pass (``{"conv2d": {"conv.bias": 0.0}}``), maps what it does.
"""

from __future__ import annotations

import fnmatch
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from wgan_parity.core import blocks
from wgan_parity.core.model import join

Transform = Callable[[Any, Tuple[int, ...]], Any]
Entry = Union[str, Tuple[str, Union[str, Transform]]]
#: ``extra``: pattern -> value, or a name map's name -> {pattern: value}.
Extra = Mapping[str, Union[float, Mapping[str, float]]]
KINDS = ("residual_block", "good_generator", "good_discriminator")
RESIDUAL_TAPS = ("shortcut", "norm1", "conv1", "norm2", "conv2")
RESIDUAL_MAPS = ("residual_block:up", "residual_block:down")  # tried before residual_block
#: The layer cases a port may build from its own layers (``ModulePort.layers``).
LAYERS = ("conv2d", "depth_to_space", "conv_mean_pool", "mean_pool_conv", "upsample_conv",
          "layer_norm", "batch_norm")  # fmt: skip
MAPS = (*KINDS, *RESIDUAL_MAPS, *LAYERS)
MODEL_RESAMPLE = {"good_generator": "up", "good_discriminator": "down"}


class PortError(ValueError):
    """The port and its name map do not fit the tool's parameters; the message says how."""


@dataclass(frozen=True)
class Spec:
    """What a factory builds: a residual block's channels, size and kinds, a model's dim, or a
    layer's (:mod:`wgan_parity.backends.port_functions`: ``k``, ``bias``, ``block``, ``eps``)."""

    cin: int = 0
    cout: int = 0
    h: int = 0
    w: int = 0
    resample: str = ""
    norm: str = ""
    dim: int = 0
    k: int = 0
    bias: bool = False
    block: int = 0
    eps: float = 0.0


@dataclass(frozen=True)
class Rule:
    """One ``extra`` pattern as it applies to a block: under ``prefix`` (a model's block)."""

    section: str  # "" for a pattern of every block
    pattern: str
    value: float
    prefix: str = ""

    def matches(self, name: str) -> bool:
        """Whether the port parameter ``name`` is one this rule holds."""
        rest = name[len(self.prefix) :]
        return name.startswith(self.prefix) and fnmatch.fnmatchcase(rest, self.pattern)

    @property
    def label(self) -> str:
        """The pattern as declared: ``'pattern'`` or ``'section' {'pattern'}``."""
        return f"{self.section!r} {{{self.pattern!r}}}" if self.section else repr(self.pattern)


@dataclass(frozen=True)
class Coverage:
    """A block's plan: tool parameter -> (port parameter, transform); held port parameters."""

    mapped: Dict[str, Tuple[str, Transform]]
    held: Dict[str, float]


def tool_params(kind: str, spec: Spec) -> List[str]:
    """The tool's parameter names of a block of ``kind`` (relative to the block)."""
    if kind == "residual_block":
        return list(blocks.residual_params("", spec.cin, spec.cout, spec.resample))
    if kind in LAYERS:  # a conv's w (and b), a norm's scale and offset, depth_to_space's none
        if kind.endswith("_norm"):
            return list(blocks.norm_params("", spec.cin))
        return [] if kind == "depth_to_space" else ["w", "b"][: 1 + spec.bias]
    if kind == "good_generator":
        return list(blocks.generator_params(spec.dim))
    return list(blocks.discriminator_params(spec.dim))


def tool_taps(kind: str) -> List[str]:
    """The tool's tap names of a block of ``kind``, in the tool's order."""
    res = [join(f"res{i}", t) for i in range(1, 5) for t in (*RESIDUAL_TAPS, "")]
    if kind == "residual_block":
        return list(RESIDUAL_TAPS)
    if kind in LAYERS:
        return []
    if kind == "good_generator":
        return ["input", *(t.rstrip(".") for t in res), "output_norm", "output_conv"]
    return ["input", *(t.rstrip(".") for t in res)]


def same(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """The identity transform."""
    del shape
    return tensor


def _target(entry: Entry) -> str:
    return entry if isinstance(entry, str) else entry[0]


def resolve(
    names: Mapping[str, Mapping[str, Entry]],
    transform: Callable[[Union[str, Transform]], Transform],
    kind: str,
    name: str,
    resample: str = "",
) -> Optional[Tuple[str, Optional[Transform]]]:
    """The port name (and transform) of a tool name in ``kind``'s map; None if unmapped.

    ``resample`` picks ``residual_block:up`` / ``:down`` before ``residual_block``; a key ending
    in ``.`` renames a prefix and the rest is looked up in the residual maps.
    """
    resample = resample or MODEL_RESAMPLE.get(kind, "")
    residual = [names.get(f"residual_block:{resample}", {}), names["residual_block"]]
    residual = [] if kind in LAYERS else residual  # a layer: its own map, names as they are
    for table in ([] if kind == "residual_block" else [names[kind]]) + residual:
        if name in table:
            entry = table[name]
            return (entry, None) if isinstance(entry, str) else (entry[0], transform(entry[1]))
    table = names[kind]
    for key in sorted((k for k in table if k.endswith(".")), key=len, reverse=True):
        target = _target(table[key])
        if name == key[:-1]:
            return target.rstrip("./"), None  # the prefix itself: the block (a tap)
        if name.startswith(key):
            rest = resolve(names, transform, "residual_block", name[len(key) :], resample)
            return None if rest is None else (target + rest[0], rest[1])
    return None


def extra_sections(extra: Optional[Extra]) -> Dict[str, Dict[str, float]]:
    """``extra`` checked, by section ("": the patterns of every block)."""
    out: Dict[str, Dict[str, float]] = {}
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping):
            if key not in MAPS:
                raise PortError(
                    f"extra section {key!r}: expected one of {list(MAPS)} with patterns, or a "
                    f"pattern with a number (extra={{'*conv_1*.bias': 0.0}})"
                )
            out.setdefault(key, {}).update({str(p): _number(p, v) for p, v in value.items()})
        else:
            out.setdefault("", {})[str(key)] = _number(key, value)
    return out


def _number(pattern: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PortError(
            f"extra {pattern!r}: expected the number its parameters are held at, found {value!r}"
        )
    return float(value)


def rules(
    kind: str, resample: str, sections: Mapping[str, Mapping[str, float]], names: Mapping[str, Any]
) -> List[Rule]:
    """The ``extra`` rules that apply to a block of ``kind`` (``names``: the name maps)."""
    resample = resample or MODEL_RESAMPLE.get(kind, "")
    residual = [] if kind in LAYERS else [f"residual_block:{resample}", "residual_block"]
    own = [kind] if kind in LAYERS else ["", *(residual if kind == "residual_block" else [kind])]
    out = [Rule(s, p, v) for s in own for p, v in sections.get(s, {}).items()]
    if kind != "residual_block":  # the model's residual blocks, under their prefixes
        table = names.get(kind, {})
        prefixes = sorted({_target(table[k]) for k in table if k.endswith(".")})
        for section in residual:
            for pattern, value in sections.get(section, {}).items():
                out += [Rule(section, pattern, value, prefix) for prefix in prefixes]
    return out


def spec_text(kind: str, spec: Spec) -> str:
    """The Spec fields a factory of ``kind`` builds from."""
    if kind == "residual_block" or kind in LAYERS:
        more = f"k={spec.k}, bias={spec.bias}, " if spec.k else ""
        return f"Spec(cin={spec.cin}, cout={spec.cout}, h={spec.h}, w={spec.w}, {more}...)"
    return f"Spec(dim={spec.dim}, ...)"


def zero_width(kind: str, spec: Spec, port: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
    """Why the port has parameters with 0 elements (a factory that ignored ``spec``), or None."""
    empty = [n for n in port if 0 in port[n]]
    if not empty:
        return None
    unset = "cin, cout, h and w are 0: use dim" if kind in KINDS[1:] else "dim is 0"
    more = f"; {len(empty) - 1} more have 0 elements: {empty[1:6]}" if len(empty) > 1 else ""
    return (
        f"port parameter {empty[0]!r} has 0 elements {port[empty[0]]}: the factory ignored "
        f"{spec_text(kind, spec)} and built a zero-width layer; build the block from the Spec's "
        f"sizes (for a {kind}, {unset}){more}"
    )


def deviation(kind: str, spec: Spec, name: str, shape: Tuple[int, ...], value: float) -> str:
    """One line of :meth:`ModulePort.deviations`: a held parameter, its shape and value."""
    block = f"{kind} ({spec.resample})" if kind == "residual_block" and spec.resample else kind
    return f"{block}: {name} {shape} held at {value!r}: tflib has no such parameter"


def cover(
    kind: str,
    spec: Spec,
    port: Mapping[str, Tuple[int, ...]],
    find: Callable[[str], Optional[Tuple[str, Optional[Transform]]]],
    transforms: Mapping[str, Transform],
    extra: Sequence[Rule],
    where: str,
) -> Coverage:
    """Every port parameter's source (see the module docstring); :class:`PortError` on a gap.

    ``find`` resolves a tool name, ``transforms`` are the port's transforms by tool-name glob,
    ``extra`` the rules of :func:`rules`, ``where`` names the block in messages.
    """
    empty = zero_width(kind, spec, port)
    if empty:
        raise PortError(f"{where}: {empty}")
    mapped: Dict[str, Tuple[str, Transform]] = {}
    problems = []
    for tool in tool_params(kind, spec):
        found = find(tool)
        if found is None:
            problems.append(f"tool parameter {tool!r} is not in the name map")
            continue
        name, transform = found
        if name not in port:
            problems.append(f"tool parameter {tool!r} maps to {name!r}, not a parameter")
            continue
        glob = next((g for g in transforms if fnmatch.fnmatchcase(tool, g)), None)
        mapped[tool] = (name, transform or (transforms[glob] if glob else same))
    source = {name: tool for tool, (name, _) in mapped.items()}
    held, extra_problems = _hold(port, {} if kind in LAYERS else source, extra)
    held = {n: v for n, v in held.items() if n not in source}  # a layer's: what the tool lacks
    unused = sorted(set(port) - set(source) - set(held))
    problems += [f"port parameter {n!r} {port[n]} is unmapped" for n in unused]
    hint = (
        " Every port parameter needs one tool parameter: fix the name map, or hold a parameter "
        "tflib lacks at a constant with extra={pattern: value}."
        if problems
        else ""
    )
    problems += extra_problems
    if problems:
        raise PortError(f"{where}: {'; '.join(problems)}.{hint} Port parameters: {sorted(port)}")
    return Coverage(mapped, held)


def _hold(
    port: Mapping[str, Tuple[int, ...]], source: Mapping[str, str], extra: Sequence[Rule]
) -> Tuple[Dict[str, float], List[str]]:
    """The port parameters ``extra`` holds, and what is wrong with the rules."""
    held: Dict[str, float] = {}
    problems: List[str] = []
    by_name: Dict[str, Rule] = {}
    matched = set()
    for rule in extra:
        for name in (n for n in port if rule.matches(n)):
            matched.add((rule.section, rule.pattern))
            if name in source:
                problems.append(
                    f"port parameter {name!r} is mapped from tool {source[name]!r} and matches "
                    f"extra {rule.label}: expected one or the other; narrow the pattern"
                )
            elif name in by_name and by_name[name].value != rule.value:
                problems.append(
                    f"port parameter {name!r} matches extra {by_name[name].label} "
                    f"({by_name[name].value!r}) and {rule.label} ({rule.value!r}): expected one "
                    "value; narrow a pattern"
                )
            else:
                by_name.setdefault(name, rule)
                held[name] = by_name[name].value
    for label in dict.fromkeys(r.label for r in extra if (r.section, r.pattern) not in matched):
        problems.append(
            f"extra {label} matches no parameter of this block: expected a glob over the "
            "port's parameter names below; fix it, or scope it to the blocks that have it "
            "(extra={'residual_block:up': {pattern: value}})"
        )
    return held, problems
