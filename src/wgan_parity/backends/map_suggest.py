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
from dataclasses import replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

from wgan_parity.backends.map_match import (
    NORM_GLOBS,
    SECTIONS,
    SPECS,
    Blocks,
    Call,
    Driver,
    Entries,
    Match,
    Shape,
    Trace,
    _block,
    match_model,
    match_residual,
)
from wgan_parity.backends.module_port import KINDS, RESIDUAL_TAPS, ModulePort, Spec, tool_taps
from wgan_parity.backends.port_plan import MODEL_RESAMPLE
from wgan_parity.core import blocks


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


def _specs(kind: str, dim: int) -> Tuple[Spec, ...]:
    """The specs a kind is traced at; the models at width ``dim``."""
    return tuple(replace(s, dim=dim) if s.dim else s for s in SPECS[kind])


def _verify(
    port: ModulePort, code: Dict[str, Any], kinds: Sequence[str], d: Driver, dim: int = 4
) -> List[str]:
    """Each block built with the map (coverage) and run once on random tool tensors."""
    try:
        check = type(port)(port.factories, code["NAMES"], code["TRANSFORMS"], code["EXTRA"])
    except Exception as e:
        return [f"NOT COVERED: {_error(e)}"]
    out = []
    for kind, spec in ((k, s) for k in kinds for s in _specs(k, dim)):
        label, x, y, tool = _block(kind, spec)
        try:
            check.module(kind, spec)
            p = {n: d.random(s) for n, s in tool.items()}
            got = check.run(kind, spec, d.random(x), p, "", None, y)
            out.append(f"{label}: covered; ran: output {tuple(got.shape)}")
        except Exception as e:
            out.append(f"NOT COVERED {label}: {_error(e)}")
    return out


def suggest(port: ModulePort, kinds: Sequence[str] = (), dim: int = 4) -> str:
    """Python source of a suggested ``NAMES``, ``TRANSFORMS`` and ``EXTRA`` for ``port``'s
    blocks (``kinds``: some of its factories' kinds, default all), with what each block matched
    and what checking the map on the port gave, as comments; deterministic. Only the port's
    ``factories`` are used (its own map may be empty); what the port prints is dropped. The models
    are traced at width ``dim`` (a port's own, e.g. 64, when it ties sizes to it)."""
    d = _driver(port)
    with contextlib.redirect_stdout(io.StringIO()):
        chosen = [k for k in KINDS if k in port.factories and k in (kinds or KINDS)]
        return _suggest(port, chosen, d, dim)


def _suggest(port: ModulePort, chosen: Sequence[str], d: Driver, dim: int) -> str:
    text = [
        "# Name map suggested by wgan_parity.backends.map_suggest (tflib's call order, shapes)",
        "# for ModulePort(factories, NAMES, TRANSFORMS, EXTRA): paste it above that line.",
    ]
    found = []
    for kind, spec in ((k, s) for k in chosen for s in _specs(k, dim)):
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
    checked = _wrap(_verify(port, namespace, chosen, d, dim))
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
