"""A suggested name map for a module port: trace its modules, match them to tflib's blocks.

:func:`suggest` builds each block a port has a factory for at a small :class:`Spec`, runs it once
in training mode with hooks on every submodule, and matches the submodules owning parameters, in
call order and by shape, to tflib's: in a residual block the conv whose weight fits
``shortcut.w`` (1x1) is the shortcut, the other convs in call order conv1 and conv2, the norms
norm1 and norm2; a model's four residual blocks in call order are res1..res4 (prefix entries, or
own entries where a block differs), the generator's linear, norm, conv ``input``,
``output_norm``, ``output``, the critic's conv and linear ``input`` and ``output``. A tap is the
outermost submodule around the matched one holding no other parameters with the tool tap's
shape, else the first parameter-free module after it with it (a mean pool). A port parameter
tflib lacks (a conv1 bias) goes to ``EXTRA`` at 0.0, a declared deviation. What does not match
is a comment, never a guess; the map is checked on the port (coverage, one run).

Matching is framework-neutral, over a :class:`Trace`; a :class:`Driver` traces a module and says
how a tool shape fits a port shape. Only torch has one so far, imported when it runs.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from wgan_parity.backends.module_port import KINDS, RESIDUAL_TAPS, ModulePort, Spec, tool_taps
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


def _error(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"[:600]


def _wrap(lines: Sequence[str], lead: str = "#   ") -> List[str]:
    wrap = textwrap.TextWrapper(99, initial_indent=lead, subsequent_indent=lead + "    ")
    return [w for t in lines for w in wrap.wrap(t)]


def _match(port: ModulePort, kind: str, spec: Spec, d: Driver) -> Tuple[Match, Blocks, List[str]]:
    """The factory's module at ``spec`` traced and matched, and the comment on it."""
    label = _block(kind, spec)[0]
    try:
        module = port.factories[kind](spec)
        port.prepare(kind, spec, module)
        trace = d.trace(module, _block(kind, spec)[1])
    except Exception as e:  # the port's own code: anything
        why = f"{label}: UNMATCHED: its module did not run: {_error(e)}"
        return Match(), [], _wrap([why], "# ")
    res: Blocks = []
    if spec.dim:
        m, res = match_model(trace, kind, spec.dim, d)
    else:
        m = match_residual(trace, "", spec, d)
    notes = [*m.lines, *(f"UNMATCHED: {p}" for p in m.problems)]
    notes += [f"tflib has no {e} {trace.params[e]}: EXTRA holds it at 0.0" for e in m.extra]
    for i, (path, b) in enumerate(res, 1):
        notes += [f"UNMATCHED in res{i} ({path}): {p}" for p in b.problems]
    head = f"# {label}: {trace.calls[0].type}; parameter owners in call order:"
    return m, res, [head, *_wrap(notes)]


def _glob(entries: Entries, on: bool) -> Entries:
    """With ``TRANSFORMS``' norm globs (``on``), norm entries need no transform of their own."""
    norm = {k for k in entries if any(fnmatch.fnmatchcase(k, g) for g in NORM_GLOBS)}
    drop = {k for k, (_, t) in entries.items() if on and k in norm and t == "expand"}
    return {k: (p, "" if k in drop else t) for k, (p, t) in entries.items()}


def _assemble(found: Sequence[Tuple[str, Spec, Match, Blocks]], text: List[str]) -> Dict[str, Any]:
    """NAMES (entries), EXTRA (port names) and whether TRANSFORMS' norm globs are on."""
    on = any(_glob(e, True) != e for _, _, m, res in found
             for e in (m.entries, *(b.entries for _, b in res)))  # fmt: skip
    side = {s.resample: m for k, s, m, _ in found if k == "residual_block" and m.entries}
    for kind, _, _, res in found:
        if res:  # without a residual factory, the model's first block gives the map
            side.setdefault(MODEL_RESAMPLE[kind], res[0][1])
    maps: Dict[str, Entries] = {s: {} for s in SECTIONS}
    extra: Dict[str, List[str]] = {s: [] for s in SECTIONS}
    if "up" in side and "down" in side:
        up, down = _glob(side["up"].entries, on), _glob(side["down"].entries, on)
        maps["residual_block"] = {k: v for k, v in up.items() if down.get(k) == v}
        extra["residual_block"] = [e for e in side["up"].extra if e in side["down"].extra]
    for r, m in side.items():
        mine = _glob(m.entries, on).items()
        maps[f"residual_block:{r}"] = {k: v for k, v in mine if k not in maps["residual_block"]}
        extra[f"residual_block:{r}"] = [e for e in m.extra if e not in extra["residual_block"]]
    for kind, _, m, res in ((k, s, m, r) for k, s, m, r in found if k != "residual_block"):
        ref = side.get(MODEL_RESAMPLE[kind], Match())
        known, shared = _glob(ref.entries, on), []
        for i, (path, b) in enumerate(res, 1):
            maps[kind][f"res{i}."] = (path + ".", "")
            own = {k: v for k, v in _glob(b.entries, on).items() if known.get(k) != v}
            maps[kind].update({f"res{i}.{k}": (f"{path}.{p}", t) for k, (p, t) in own.items()})
            held = [f"{path}.{e}" for e in b.extra if e not in ref.extra]
            extra[kind] += held
            how = f"own entries for {sorted(own)}" if own else "shared"
            shared.append(f"res{i}: {how}" + (f", EXTRA holds {held} at 0.0" if held else ""))
        maps[kind].update(_glob(m.entries, on))
        extra[kind] += m.extra
        if res:
            text += _wrap([f"{kind}'s blocks and the residual map: {'; '.join(shared)}"], "# ")
    return {"NAMES": maps, "EXTRA": extra, "on": on}


def _render(name: str, maps: Dict[str, Dict[str, str]]) -> List[str]:
    """``name = {...}``: an entry a line, sections and keys in the tool's order."""
    keys = [*(f"res{i}." for i in range(1, 5)), *blocks.residual_params("", 1, 1, "up")]
    keys += [*RESIDUAL_TAPS, *blocks.generator_params(1), *blocks.discriminator_params(1)]
    order = list(dict.fromkeys(keys + tool_taps("good_generator")))
    out = [f"{name} = {{"]
    for section in (s for s in SECTIONS if maps.get(s)):
        ranked = sorted(maps[section], key=lambda k: (order.index(k) if k in order else 999, k))
        out += [f"    {json.dumps(section)}: {{"]
        out += [f"        {json.dumps(k)}: {maps[section][k]}," for k in ranked] + ["    },"]
    return [*out, "}"] if len(out) > 1 else [f"{name}: dict = {{}}"]


def _verify(port: ModulePort, code: Dict[str, Any], kinds: Sequence[str], d: Driver) -> List[str]:
    """Each block built with the map (coverage) and run once on random tool tensors."""
    try:
        check = type(port)(port.factories, code["NAMES"], code["TRANSFORMS"], code["EXTRA"])
    except Exception as e:
        return [f"NOT COVERED: {_error(e)}"]
    out = []
    for kind, spec in ((k, s) for k in kinds for s in SPECS[k]):
        label, x, y, tool = _block(kind, spec)
        try:
            check.module(kind, spec)
            p = {n: d.random(s) for n, s in tool.items()}
            got = check.run(kind, spec, d.random(x), p, "", None, y)
            out.append(f"{label}: covered; ran: output {tuple(got.shape)}")
        except Exception as e:
            out.append(f"NOT COVERED {label}: {_error(e)}")
    return out


def suggest(port: ModulePort, kinds: Sequence[str] = ()) -> str:
    """Python source of a suggested ``NAMES``, ``TRANSFORMS`` and ``EXTRA`` for ``port``'s
    blocks (``kinds``: some of its factories' kinds, default all), with what each block matched
    and what checking the map on the port gave, as comments; deterministic. Only the port's
    ``factories`` are used (its own map may be empty); what the port prints is dropped."""
    d = _driver(port)
    with contextlib.redirect_stdout(io.StringIO()):
        return _suggest(
            port, [k for k in KINDS if k in port.factories and k in (kinds or KINDS)], d
        )


def _suggest(port: ModulePort, chosen: Sequence[str], d: Driver) -> str:
    text = [
        "# Name map suggested by wgan_parity.backends.map_suggest (tflib's call order, shapes)",
        "# for ModulePort(factories, NAMES, TRANSFORMS, EXTRA): paste it above that line.",
    ]
    found = []
    for kind, spec in ((k, s) for k in chosen for s in SPECS[k]):
        m, res, comment = _match(port, kind, spec, d)
        text += comment
        found.append((kind, spec, m, res))
    got = _assemble(found, text)
    value = lambda p, t: f"({json.dumps(p)}, {json.dumps(t)})" if t else json.dumps(p)  # noqa: E731
    lines = ["# fmt: off", *_render("NAMES", {s: {k: value(*v) for k, v in e.items()}
                                             for s, e in got["NAMES"].items()})]  # fmt: skip
    globs = ", ".join(f'"{g}": "expand"' for g in NORM_GLOBS)
    lines += [f"TRANSFORMS = {{{globs}}}" if got["on"] else "TRANSFORMS: dict = {}"]
    lines += _render("EXTRA", {s: {e: "0.0" for e in es} for s, es in got["EXTRA"].items()})
    namespace: Dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # the literals just written
    checked = _wrap(_verify(port, namespace, chosen, d))
    text += ["# Checked on the port with this map:", *checked, *lines, "# fmt: on"]
    return "\n".join(text) + "\n"


def _torch_trace(module: Any, shape: Shape) -> Trace:
    """Run ``module`` once on a random input, with hooks on every submodule (torch)."""
    import torch

    subs = dict(module.named_modules())
    count: Dict[str, int] = {}  # in call order
    outs: Dict[str, Optional[Shape]] = {}

    def hooks(path: str, sub: Any) -> Tuple[Any, Any]:
        def pre(mod: Any, args: Any) -> None:
            count[path] = count.get(path, 0) + 1

        def post(mod: Any, args: Any, out: Any) -> None:
            outs.setdefault(path, tuple(out.shape) if isinstance(out, torch.Tensor) else None)

        return sub.register_forward_pre_hook(pre), sub.register_forward_hook(post)

    handles = [h for path, sub in subs.items() for h in hooks(path, sub)]
    try:
        with torch.no_grad():
            module(torch.randn(*shape, generator=torch.Generator().manual_seed(0)))
    finally:
        for handle in handles:
            handle.remove()
    own = {p: tuple((n, tuple(t.shape)) for n, t in s.named_parameters(recurse=False))
           for p, s in subs.items()}  # fmt: skip
    calls = tuple(Call(p, type(subs[p]).__name__, own[p], outs.get(p), n) for p, n in count.items())
    return Trace(calls, {n: tuple(t.shape) for n, t in module.named_parameters()})


def _torch_fits(tool: Shape, port: Shape) -> Optional[str]:
    if tool == port:
        return ""
    if len(tool) == 2 and port == tool[::-1]:
        return "transpose"  # tflib's (in, out), nn.Linear's (out, in)
    return "expand" if len(tool) == 1 and len(port) > 1 and port[0] == tool[0] else None


def _torch_random(shape: Shape) -> Any:
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(len(shape)))


def _driver(port: ModulePort) -> Driver:
    from wgan_parity.backends import torch_module

    if isinstance(port, torch_module.ModulePort):
        return Driver(_torch_trace, _torch_fits, _torch_random)
    raise NotImplementedError(f"map suggestions for {type(port).__name__}: only torch so far")
