"""Matching a traced module port to tflib's blocks: the framework-neutral half of
:mod:`wgan_parity.backends.map_suggest` (a :class:`Trace` of submodules in call order, a
:class:`Driver` that traces and fits shapes, and the matchers of residual blocks and models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from wgan_parity.backends.module_port import KINDS, RESIDUAL_TAPS, Spec
from wgan_parity.backends.port_plan import MODEL_RESAMPLE
from wgan_parity.core import blocks

Shape = Tuple[int, ...]
Entries = Dict[str, Tuple[str, str]]  # tool name -> (port name, transform name or "")
Blocks = List[Tuple[str, "Match"]]  # a model's residual blocks: path, match (relative)
N = 2  # the batch every block runs at
SPECS = {
    "residual_block": (Spec(5, 7, 12, 20, "up", "batch"), Spec(5, 7, 12, 20, "down", "layer")),
    "good_generator": (Spec(dim=4),),
    "good_discriminator": (Spec(dim=4),),
}
ROLES = {"good_generator": {"linear": "input", "norm": "output_norm", "conv": "output"},
         "good_discriminator": {"conv": "input", "linear": "output"}}  # fmt: skip
NORM_GLOBS = ("*norm*.scale", "*norm*.offset")  # TRANSFORMS' keys when a norm needs "expand"
SECTIONS = ("residual_block", "residual_block:up", "residual_block:down", *KINDS[1:])


@dataclass(frozen=True)
class Call:
    """A submodule as the forward pass called it: its own parameters, first output, calls."""

    path: str
    type: str
    params: Tuple[Tuple[str, Shape], ...]
    out: Optional[Shape]
    calls: int


@dataclass(frozen=True)
class Trace:
    """Every submodule called, in call order (the root first), and every parameter's shape."""

    calls: Tuple[Call, ...]
    params: Dict[str, Shape]


class Driver(NamedTuple):
    """A framework's part: trace a module on a random input of a shape; how a tool shape fits a
    port shape (a transform's name, "" as it is, None not at all); a random tensor."""

    trace: Callable[[Any, Shape], Trace]
    fits: Callable[[Shape, Shape], Optional[str]]
    random: Callable[[Shape], Any]


@dataclass
class Match:
    """A block's suggestion: entries, port parameters tflib lacks, comment lines, problems."""

    entries: Entries = field(default_factory=dict)
    extra: List[str] = field(default_factory=list)
    lines: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)


def _under(path: str, base: str) -> bool:
    return not base or path == base or path.startswith(base + ".")


def _rel(path: str, base: str) -> str:
    return path[len(base) + 1 :] if base else path


def _role(call: Call) -> str:
    return {4: "conv", 2: "linear"}.get(max(len(s) for _, s in call.params), "norm")


def _suffix(call: Call, name: str) -> str:
    """The tool suffix of one of the call's own parameters: a weight's ``w`` (its largest),
    ``b`` (a 1-D one); a norm's ``scale``, ``offset`` (registration order: weight, bias)."""
    names = [n for n, _ in call.params]
    if _role(call) == "norm":
        return "scale" if name == names[0] else "offset"
    return "w" if name == max(call.params, key=lambda p: len(p[1]))[0] else "b"


def _bind(m: Match, call: Call, tool: str, base: str, shapes: Dict[str, Shape], d: Driver) -> None:
    """Map the tool's ``tool.*`` parameters onto ``call``'s own; note the line, extras, gaps."""
    for name, shape in call.params:
        port = _rel(f"{call.path}.{name}".lstrip("."), base)
        tname = f"{tool}.{_suffix(call, name)}"
        how = d.fits(shapes[tname], shape) if tname in shapes else None
        if tname not in shapes or tname in m.entries:
            m.extra.append(port)
        elif how is None:
            m.problems.append(f"{port} {shape} does not fit tool {tname} {shapes[tname]}")
        else:
            m.entries[tname] = (port, how)
    gaps = [t for t in shapes if t.rsplit(".", 1)[0] == tool and t not in m.entries]
    m.problems += [f"tool {t} {shapes[t]} has no parameter in {call.path}" for t in gaps]
    params = ", ".join(f"{n} {s}" for n, s in call.params)
    m.lines.append(f"{_rel(call.path, base)} {call.type} {params} -> {tool}")


def _tap(trace: Trace, leaf: Call, base: str, want: Shape) -> Optional[str]:
    """The submodule whose output is ``leaf``'s tap (see the module docstring), or None."""
    owners = {n.rpartition(".")[0] for n in trace.params}
    by_path, parts = {c.path: c for c in trace.calls}, leaf.path.split(".")
    for i in range(len(base.split(".")) + 1 if base else 1, len(parts) + 1):
        c = by_path.get(".".join(parts[:i]))
        alone = c is not None and {o for o in owners if _under(o, c.path)} == {leaf.path}
        if c is not None and alone and c.calls == 1 and c.out == want:
            return _rel(c.path, base)
    after = trace.calls[trace.calls.index(leaf) + 1 :]
    for c in (c for c in after if not _under(c.path, leaf.path)):
        if any(_under(o, c.path) for o in owners) or not _under(c.path, base):
            return None
        if c.calls == 1 and c.out == want:
            return _rel(c.path, base)
    return None


def _taps(m: Match, trace: Trace, base: str, wanted: Dict[str, Tuple[Call, Shape]]) -> None:
    found = []
    for tap, (leaf, want) in wanted.items():
        path = _tap(trace, leaf, base, want)
        if path is None:
            m.problems.append(f"no submodule around or after {leaf.path} outputs {tap}'s {want}")
        else:
            m.entries[tap] = (path, "")
            found.append(f"{tap}={path} {want}")
    m.lines.append("taps: " + ", ".join(found))


def _leaves(trace: Trace, base: str) -> List[Call]:
    return [c for c in trace.calls if c.params and _under(c.path, base)]


def match_residual(trace: Trace, base: str, spec: Spec, d: Driver) -> Match:
    """A residual block's map, relative to ``base`` (its path in ``trace``; "" the root)."""
    _, (n, cin, h, w), out, shapes = _block("residual_block", spec)
    m, leaves = Match(), _leaves(trace, base)
    convs = [c for c in leaves if _role(c) == "conv"]
    norms = [c for c in leaves if _role(c) == "norm"]
    weight = {c.path: next(s for n, s in c.params if _suffix(c, n) == "w") for c in convs}
    short = [c for c in convs if d.fits(shapes["shortcut.w"], weight[c.path]) is not None]
    if len(short) != 1 or len(convs) != 3 or len(norms) != 2 or len(leaves) != 5:
        found = ", ".join(f"{c.path} {c.type}" for c in leaves)
        m.problems.append(f"expected 3 convs (one {shapes['shortcut.w']}) and 2 norms: {found}")
        return m
    rest = [c for c in convs if c is not short[0]]
    tools = dict(zip(("shortcut", "conv1", "conv2", "norm1", "norm2"), (*short, *rest, *norms)))
    for c in leaves:
        _bind(m, c, next(t for t, v in tools.items() if v is c), base, shapes, d)
    up = spec.resample == "up"
    mid = (n, spec.cout, 2 * h, 2 * w) if up else (n, cin, h, w)
    want = {"shortcut": out, "norm1": (n, cin, h, w), "conv1": mid, "norm2": mid, "conv2": out}
    _taps(m, trace, base, {t: (tools[t], want[t]) for t in RESIDUAL_TAPS})
    return m


def match_model(trace: Trace, kind: str, dim: int, d: Driver) -> Tuple[Match, Blocks]:
    """A model's own entries, and its residual blocks in call order."""
    m, leaves, block = Match(), _leaves(trace, ""), ["conv", "conv", "conv", "norm", "norm"]
    found = [c.path for c in trace.calls[1:] if sorted(map(_role, _leaves(trace, c.path))) == block]
    paths = [p for p in found if not any(q != p and _under(p, q) for q in found)]
    if len(paths) != 4:
        m.problems.append(f"expected 4 residual blocks (3 convs, 2 norms each), found {paths}")
        return m, []
    up = kind == "good_generator"
    chans = [(8, 8), (8, 4), (4, 2), (2, 1)] if up else [(1, 2), (2, 4), (4, 8), (8, 8)]
    res: Blocks = []
    for i, (path, (a, b)) in enumerate(zip(paths, chans)):
        hw = 4 * 2**i if up else 64 // 2**i
        spec = Spec(a * dim, b * dim, hw, hw, MODEL_RESAMPLE[kind], "batch" if up else "layer")
        res.append((path, match_residual(trace, path, spec, d)))
    outside = [c for c in leaves if not any(_under(c.path, p) for p in paths)]
    if sorted(map(_role, outside)) != sorted(ROLES[kind]):
        got = ", ".join(f"{c.path} {c.type}" for c in outside)
        m.problems.append(f"expected {sorted(ROLES[kind])} outside the blocks, found {got}")
        return m, res
    for c in outside:
        _bind(m, c, ROLES[kind][_role(c)], "", _block(kind, Spec(dim=dim))[3], d)
    calls = {c.path: c for c in trace.calls}
    before = sum(trace.calls.index(c) < trace.calls.index(calls[paths[0]]) for c in outside)
    m.lines.insert(before, ", ".join(f"{p} {calls[p].type}" for p in paths) + " -> res1..res4")
    leaf = {ROLES[kind][_role(c)]: c for c in outside}
    wanted: Dict[str, Tuple[Call, Shape]] = {"input": (leaf["input"], (N, dim, 64, 64))}
    if up:
        wanted = {"input": (leaf["input"], (N, 4 * 4 * 8 * dim)),
                  "output_norm": (leaf["output_norm"], (N, dim, 64, 64)),
                  "output_conv": (leaf["output"], (N, 3, 64, 64))}  # fmt: skip
    _taps(m, trace, "", wanted)
    return m, res


def _block(kind: str, spec: Spec) -> Tuple[str, Shape, Shape, Dict[str, Shape]]:
    """A block's label, input and output shapes, and the tool's parameter shapes, at ``spec``."""
    if kind == "residual_block":
        f, c, o, h, w = 2.0 if spec.resample == "up" else 0.5, spec.cin, spec.cout, spec.h, spec.w
        tool = blocks.residual_params("", c, o, spec.resample)
        return (f"residual_block ({spec.resample}, Spec({c}, {o}, {h}, {w}))", (N, c, h, w),
                (N, o, int(h * f), int(w * f)), {n: p.shape for n, p in tool.items()})  # fmt: skip
    gen = kind == "good_generator"
    tool = (blocks.generator_params if gen else blocks.discriminator_params)(spec.dim)
    return (f"{kind} (Spec(dim={spec.dim}))", (N, 128) if gen else (N, 3 * 64 * 64),
            (N, 3 * 64 * 64) if gen else (N,), {n: p.shape for n, p in tool.items()})  # fmt: skip
