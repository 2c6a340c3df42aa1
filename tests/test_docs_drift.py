"""The docs name only what exists: commands, options, sets, sessions, cases and paths.

Scanned: README.md, docs/*.md and results/README.md. Only code (inline spans and fenced blocks)
and links count; prose is free. For each file (one test id per file and check):

- commands: every `wgan-parity <subcommand>` (its `--help` exits 0, run once per subcommand with
  this interpreter), `python -m wgan_parity[.module]`, `nox -s <session>` (a session of
  noxfile.py, parsed, not run), `tox -e <env>` / `tox -m <label>` (tox.ini);
- options: every `--flag` written after `wgan-parity <subcommand>` in the same span or command
  line appears in that subcommand's `--help`; after `nox -s compare|dump|lock --`, in the
  `--help` of the command the session runs (`wgan-parity run` or `wgan-parity lock`);
- names: `--set`/`--sets` name sets of matrix.toml, `--tags`/`nox -t` sets or frameworks,
  `--env` and `dump(<id>)` env ids, `--cases` globs match at least one case;
- paths: every repository path in code or a link (with a `/`, or a file name ending in a known
  extension; not a URL, glob or placeholder) exists in the checkout (tracked or not ignored), and
  every `#anchor` of a link to a Markdown file names one of its headings. Outputs that only exist
  after a run are allowed: folders the same file writes (`--out X`), and OUTPUT_ROOTS and
  OUTPUT_NAMES below, each with its reason.
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import functools
import os
import posixpath
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, FrozenSet, Iterator, List, Optional, Sequence, Set, Tuple

import pytest

from wgan_parity import frameworks
from wgan_parity.commands.check_port import check_cases
from wgan_parity.core.catalog import CATALOG
from wgan_parity.matrix.envtable import load_table

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "results" / "README.md"]
DOC_IDS = [doc.relative_to(ROOT).as_posix() for doc in DOCS]

# Paths under these exist only after a run (all git-ignored); a doc may name them freely.
OUTPUT_ROOTS = {
    "dumps": "where `nox -s compare` and `wgan-parity dump --out dumps/...` put the dumps",
    ".nox": "the venvs nox creates (`.nox/tests/bin/python` after `nox -s tests`)",
    "results/isa-avx2": ".ci/run's compare on the AVX2 stack writes it",
}
# Files the tools write into a results folder. A doc may name them bare (`summary.md`) or in a
# folder that exists or is written (`results/summary.md`, `results/history/report.html`).
OUTPUT_NAMES = {
    "summary.md": "aggregate, merge and report write it",
    "verdict.json": "aggregate, merge and report write it",
    "report.html": "aggregate, merge and report write it; generated, never committed",
    "pairs.csv": "aggregate and merge write it (committed folders keep pairs.csv.gz)",
    "envs.csv": "aggregate and merge write it",
    "cases.csv": "aggregate and merge write it",
    "steps.csv": "aggregate and merge write it",
    "bisect.csv": "aggregate and merge write it",
    "regressions.csv": "aggregate and merge write it with --baseline",
    "baseline_check.json": "aggregate and merge write it with --baseline",
    "matrix_cosine.csv": "aggregate and merge write it",
    "stamp.json": "written beside the rows of a committed results folder",
    "aggregate.txt": "the CI merge job's console output, in its artifact",
    "selftest.md": "wgan-parity selftest writes it",
    "selftest.csv": "wgan-parity selftest writes it",
}
# File endings that make a bare name (no `/`) a path; `.npz` dumps are always outputs.
EXTENSIONS = (".py", ".md", ".toml", ".csv", ".json", ".sh", ".ini", ".yml", ".gz", ".png")
NOT_PATH = re.compile(r"[<>*?\[\]{}$~…]|\.\.\.|://|^/|^[a-z]+:")
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]+")
CODE_LANGUAGES_WITHOUT_COMMANDS = {"python", "json", "toml", "yaml", "yml"}
# Options that name an output: the folder or file they name need not exist yet.
OUTPUT_OPTIONS = {"--out", "--partial", "-D"}


# ---- the docs, parsed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One piece of code: an inline span, or one (continued) line of a fenced block."""

    text: str
    line: int
    commands: bool  # may hold shell commands (not a Python, JSON or TOML block)


@dataclass
class Doc:
    """A Markdown file: its code units, its links and its heading anchors."""

    path: Path
    units: List[Unit] = field(default_factory=list)
    links: List[Tuple[str, int]] = field(default_factory=list)


FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def parse(path: Path) -> Doc:
    """Split a Markdown file into code units (spans, block lines) and link targets."""
    doc = Doc(path)
    prose: List[str] = []
    fence: Optional[str] = None
    language = ""
    pending = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(line)
        if fence is None and match:
            fence, language = match.group(1), match.group(2).lower()
            prose.append("")
            continue
        if fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                fence = None
            else:
                pending += line
                if pending.endswith("\\"):
                    pending = pending[:-1] + " "
                else:
                    commands = language not in CODE_LANGUAGES_WITHOUT_COMMANDS
                    doc.units.append(Unit(pending, number, commands))
                    pending = ""
            prose.append("")
            continue
        prose.append(line)
    text = "\n".join(prose)
    for span in SPAN.finditer(text):
        line = text.count("\n", 0, span.start()) + 1
        doc.units.append(Unit(" ".join(span.group(2).split()), line, True))
    blanked = SPAN.sub(lambda m: " " * len(m.group(0)), text)
    for link in LINK.finditer(blanked):
        doc.links.append((link.group(1), blanked.count("\n", 0, link.start()) + 1))
    return doc


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: inline markup dropped, lower case, punctuation removed."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@functools.cache
def anchors(path: Path) -> FrozenSet[str]:
    """The anchors of a Markdown file's headings (outside fenced blocks), duplicates numbered."""
    seen: Dict[str, int] = {}
    fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fence = not fence
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading and not fence:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            seen.setdefault(base if count == 0 else f"{base}-{count}", 1)
    return frozenset(seen)


# ---- commands in a unit -------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One invocation found in the docs: what runs it, and its arguments."""

    tool: str  # wgan-parity | module | nox | tox
    name: str  # the subcommand, module, session or tox env
    args: Tuple[str, ...]  # what follows (for nox: the runner's arguments after `--`)
    where: str  # the text it was found in


SEPARATORS = re.compile(r"&&|\|\||;|\||(?:^|\s)#.*$")


def segments(unit: Unit) -> Iterator[List[str]]:
    """The unit's shell commands as token lists (comments and pipes split off)."""
    if not unit.commands:
        return
    for part in SEPARATORS.split(unit.text):
        try:
            tokens = shlex.split(part)
        except ValueError:  # prose with an apostrophe
            tokens = part.split()
        tokens = [t.strip("`") for t in tokens]  # a span written inside a text block
        if tokens:
            yield tokens


def commands(unit: Unit) -> Iterator[Command]:
    """Every wgan-parity, python -m wgan_parity, nox and tox invocation in the unit."""
    for tokens in segments(unit):
        for i, token in enumerate(tokens):
            rest = tokens[i + 1 :]
            if token in ("wgan-parity", "/wgan-parity") or token.endswith("/bin/wgan-parity"):
                if rest and re.fullmatch(r"[a-z][a-z-]*", rest[0]):
                    yield Command("wgan-parity", rest[0], tuple(rest[1:]), unit.text)
            elif token == "-m" and rest and rest[0].startswith("wgan_parity"):
                module, args = rest[0], rest[1:]
                if module == "wgan_parity":
                    if args and re.fullmatch(r"[a-z][a-z-]*", args[0]):
                        yield Command("wgan-parity", args[0], tuple(args[1:]), unit.text)
                else:
                    yield Command("module", module, tuple(args), unit.text)
            elif token == "nox":
                yield from _nox(rest, unit.text)
            elif token == "tox":
                yield from _tox(rest, unit.text)


def _nox(args: Sequence[str], where: str) -> Iterator[Command]:
    posargs: Tuple[str, ...] = ()
    if "--" in args:
        cut = list(args).index("--")
        args, posargs = list(args)[:cut], tuple(args[cut + 1 :])
    sessions = []
    for option, value in zip(args, [*args[1:], ""]):
        if option in ("-s", "--session", "--sessions", "-e"):
            sessions.append(value)
        elif option in ("-t", "--tags"):
            yield Command("nox-tag", value, (), where)
    for session in sessions or (["compare"] if not args else []):
        yield Command("nox", session, posargs, where)


def _tox(args: Sequence[str], where: str) -> Iterator[Command]:
    for option, value in zip(args, [*args[1:], ""]):
        if option == "-e":
            for env in value.split(","):
                yield Command("tox", env, (), where)
        elif option == "-m":
            for label in value.split():
                yield Command("tox-label", label, (), where)


def option_values(args: Sequence[str], option: str) -> List[str]:
    """The words after ``option`` up to the next option (``--cases a b --out x`` -> a, b)."""
    values: List[str] = []
    for i, arg in enumerate(args):
        if arg == option:
            for value in args[i + 1 :]:
                if value.startswith("-"):
                    break
                values.append(value)
    return values


def flags(args: Sequence[str]) -> List[str]:
    """The long options among ``args`` (``--out=x`` counts as ``--out``)."""
    return [a.split("=", 1)[0] for a in args if re.fullmatch(r"--[a-z][a-z0-9-]*(=.*)?", a)]


# ---- what exists --------------------------------------------------------------------------------


def _run_help(argv: Sequence[str]) -> Tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, *argv, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


@functools.cache
def cli_help(argv: Tuple[str, ...]) -> Tuple[int, FrozenSet[str]]:
    """Exit code of ``python ARGV --help`` and the long options its option lines declare."""
    code, text = _run_help(argv)
    declared: Set[str] = set()
    for line in text.splitlines():
        if re.match(r"^\s{2}-", line):
            head = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            declared.update(re.findall(r"--[a-z][a-z0-9-]*", head))
    return code, frozenset(declared)


@functools.cache
def nox_sessions() -> FrozenSet[str]:
    """The functions of noxfile.py decorated with ``@nox.session``."""
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(ast.unparse(d).startswith("nox.session") for d in node.decorator_list)
    )


@functools.cache
def tox_config() -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """tox.ini's env names (``[testenv:NAME]``) and labels."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini", encoding="utf-8")
    envs = {s.split(":", 1)[1] for s in parser.sections() if s.startswith("testenv:")}
    raw = parser.get("tox", "labels", fallback="")
    labels = {line.split("=", 1)[0].strip() for line in raw.splitlines() if "=" in line}
    return frozenset(envs), frozenset(labels)


@functools.cache
def table() -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """matrix.toml's set names and env ids."""
    loaded = load_table(ROOT / "matrix.toml")
    return frozenset(loaded.sets), frozenset(e.id for e in loaded.envs)


@functools.cache
def case_names() -> FrozenSet[str]:
    """Every case a `--cases` glob may select: the catalog's, and check-port's ``*.check``."""
    return frozenset(c.name for c in CATALOG) | frozenset(c.name for c in check_cases([]))


@functools.cache
def checkout() -> FrozenSet[str]:
    """Every file and folder of the checkout that a clone would have (tracked or not ignored)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode("utf-8")
        files = [f for f in out.split("\0") if f and (ROOT / f).exists()]
    except (OSError, subprocess.SubprocessError):  # no git: the file system, minus the obvious
        skip = {".git", ".nox", ".venv", ".tox", "dumps", "__pycache__", ".wgan-parity"}
        files = []
        for folder, dirs, names in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in skip]
            rel = Path(folder).relative_to(ROOT).as_posix()
            files += [posixpath.normpath(posixpath.join(rel, n)) for n in names]
    entries = set(files)
    for name in files:
        parent = posixpath.dirname(name)
        while parent:
            entries.add(parent)
            parent = posixpath.dirname(parent)
    return frozenset(entries)


@functools.cache
def basenames() -> FrozenSet[str]:
    return frozenset(posixpath.basename(e) for e in checkout())


def path_roots() -> Set[str]:
    """First components that make a `a/b` token a repository path (else: a tensor name etc.)."""
    package = ROOT / "src" / "wgan_parity"
    roots = {e.split("/", 1)[0] for e in checkout()}
    roots |= {p.name for p in package.iterdir() if p.is_dir()} | {"wgan_parity"}
    return roots | {r.split("/", 1)[0] for r in OUTPUT_ROOTS}


# ---- the checks ---------------------------------------------------------------------------------


def command_problems(doc: Doc) -> List[str]:
    """Subcommands, modules, nox sessions and tox envs that do not exist."""
    problems = []
    sessions = nox_sessions()
    tox_envs, tox_labels = tox_config()
    sets, env_ids = table()
    for unit in doc.units:
        for cmd in commands(unit):
            if cmd.tool == "wgan-parity" and cli_help(("-m", "wgan_parity", cmd.name))[0] != 0:
                problems.append(f"line {unit.line}: `wgan-parity {cmd.name}`: no such subcommand")
            elif cmd.tool == "module" and _module_help(cmd)[0] != 0:
                problems.append(f"line {unit.line}: `python -m {cmd.name}`: does not run")
            elif cmd.tool == "nox":
                session = re.fullmatch(r"([\w-]+)(?:\((.*)\))?", cmd.name)
                if not session or session.group(1) not in sessions:
                    problems.append(
                        f"line {unit.line}: `nox -s {cmd.name}`: no such session in noxfile.py "
                        f"({', '.join(sorted(sessions))})"
                    )
                elif (
                    session.group(2)
                    and not _placeholder(session.group(2))
                    and (session.group(2) not in env_ids)
                ):
                    problems.append(f"line {unit.line}: `{cmd.name}`: no such env id")
            elif cmd.tool == "nox-tag" and cmd.name not in sets | set(frameworks.names()):
                problems.append(f"line {unit.line}: `nox -t {cmd.name}`: no such tag")
            elif cmd.tool == "tox" and not _placeholder(cmd.name) and cmd.name not in tox_envs:
                problems.append(f"line {unit.line}: `tox -e {cmd.name}`: not in tox.ini")
            elif cmd.tool == "tox-label" and cmd.name not in tox_labels:
                problems.append(f"line {unit.line}: `tox -m {cmd.name}`: no such label")
    return problems


def _module_help(cmd: Command) -> Tuple[int, FrozenSet[str]]:
    """``python -m MODULE [SUB] --help``: a subcommand is the first word, if any."""
    sub = cmd.args[0] if cmd.args and re.fullmatch(r"[a-z][a-z-]*", cmd.args[0]) else None
    return cli_help(("-m", cmd.name, *([sub] if sub else [])))


# noxfile.py hands these sessions' posargs to a wgan-parity command
RUNNER_SESSIONS = {"compare": "run", "dump": "run", "lock": "lock"}


def flag_problems(doc: Doc) -> List[str]:
    """Options written after a command that its --help does not declare."""
    problems = []
    for unit in doc.units:
        for cmd in commands(unit):
            if cmd.tool == "wgan-parity":
                code, declared = cli_help(("-m", "wgan_parity", cmd.name))
                label = f"wgan-parity {cmd.name}"
            elif cmd.tool == "module":
                code, declared = _module_help(cmd)
                label = f"python -m {cmd.name}"
            elif cmd.tool == "nox" and cmd.name.split("(")[0] in RUNNER_SESSIONS and cmd.args:
                session = cmd.name.split("(")[0]
                command = RUNNER_SESSIONS[session]
                code, declared = cli_help(("-m", "wgan_parity", command))
                label = f"nox -s {session} -- (wgan-parity {command})"
            else:
                continue
            if code != 0:
                continue  # reported by the command check
            for flag in flags(cmd.args):
                if flag not in declared:
                    problems.append(
                        f"line {unit.line}: `{flag}` is not an option of `{label}` "
                        f"(in `{cmd.where}`)"
                    )
    return problems


def name_problems(doc: Doc) -> List[str]:
    """Sets, tags, env ids and case globs that name nothing."""
    problems = []
    sets, env_ids = table()
    tags = sets | set(frameworks.names())
    cases = case_names()
    for unit in doc.units:
        for tokens in segments(unit):
            where = f"line {unit.line}: `{' '.join(tokens)}`"
            for name in option_values(tokens, "--set") + option_values(tokens, "--sets"):
                if not _placeholder(name) and name not in sets:
                    problems.append(f"{where}: no set {name!r} in matrix.toml [sets]")
            for value in option_values(tokens, "--tags"):
                for tag in value.split(","):
                    if not _placeholder(tag) and tag not in tags:
                        problems.append(f"{where}: no tag {tag!r} (sets and frameworks)")
            for env in option_values(tokens, "--env"):
                if not _placeholder(env) and env not in env_ids:
                    problems.append(f"{where}: no env {env!r} in matrix.toml")
            for glob in option_values(tokens, "--cases"):
                if not _placeholder(glob) and not fnmatch.filter(cases, glob):
                    problems.append(f"{where}: --cases {glob!r} matches no case")
    return problems


def _placeholder(word: str) -> bool:
    """``<id>``, ``SET``, ``...``: a name the reader fills in (globs are real `--cases` values)."""
    return bool(re.search(r"[<>{}$…]|\.\.\.", word)) or bool(PLACEHOLDER.fullmatch(word))


def path_problems(doc: Doc) -> List[str]:
    """Repository paths in code or links that do not exist, and link anchors that name nothing."""
    problems = []
    outputs = _declared_outputs(doc)
    roots = path_roots()
    for unit in doc.units:
        for token in _path_tokens(unit.text, roots):
            if not _resolves(token, doc.path, outputs):
                problems.append(f"line {unit.line}: `{token}` does not exist")
    for target, line in doc.links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL
        file_part, _, anchor = target.partition("#")
        linked = Path(os.path.normpath(doc.path.parent / file_part)) if file_part else doc.path
        rel = _relative(linked)
        if rel is None or (rel not in checkout() and not _is_output(rel, outputs)):
            problems.append(f"line {line}: link `{target}`: {file_part} does not exist")
        elif (
            anchor and linked.suffix == ".md" and linked.is_file() and anchor not in anchors(linked)
        ):
            problems.append(f"line {line}: link `{target}`: no heading #{anchor}")
    return problems


def _path_tokens(text: str, roots: Set[str]) -> Iterator[str]:
    for raw in text.split():
        for token in raw.split("="):
            token = token.strip("([{'\"`,").rstrip(".,;:)]}'\"`")
            if token.startswith("./"):
                token = token[2:]
            if not token or NOT_PATH.search(token):
                continue
            if "/" in token:
                if token.split("/", 1)[0] in roots or token.endswith(EXTENSIONS):
                    yield token
            elif token.endswith(EXTENSIONS) and re.fullmatch(r"[\w][\w.-]*", token):
                yield token


def _declared_outputs(doc: Doc) -> Set[str]:
    """What the doc's own commands write (``--out X``): it need not exist before they run."""
    written = set()
    for unit in doc.units:
        for tokens in segments(unit):
            for option, value in zip(tokens, tokens[1:]):
                if option in OUTPUT_OPTIONS:
                    written.add(posixpath.normpath(value.rstrip("/")))
    return written | set(OUTPUT_ROOTS)


def _relative(path: Path) -> Optional[str]:
    """``path`` relative to the root, ``..`` folded but links not followed (venvs link Python)."""
    try:
        return Path(os.path.normpath(path)).relative_to(ROOT).as_posix()
    except ValueError:
        return None


def _is_output(rel: str, outputs: Set[str]) -> bool:
    """Written by a run: under (or holding) a declared output, or a results file in a folder."""
    for out in outputs:
        if rel == out or rel.startswith(out + "/") or out.startswith(rel + "/"):
            return True
    parent, name = posixpath.split(rel)
    if name in OUTPUT_NAMES:
        return not parent or parent in checkout() or _is_output(parent, outputs)
    return False


def _resolves(token: str, doc: Path, outputs: Set[str]) -> bool:
    if "/" not in token:
        return token in basenames() or token in OUTPUT_NAMES
    package = ROOT / "src" / "wgan_parity"
    for base in (ROOT, doc.parent, ROOT / "src", package):
        rel = _relative(base / token.rstrip("/"))
        if rel is not None and (rel in checkout() or _is_output(rel, outputs)):
            return True
    stems = [part.split(".")[0] for part in token.split("/")]
    return any(PLACEHOLDER.fullmatch(stem) for stem in stems)  # results/NAME, RESULTS_DIR/...


# ---- the tests ----------------------------------------------------------------------------------


@functools.cache
def parsed(doc: Path) -> Doc:
    return parse(doc)


def _report(doc: Path, problems: List[str]) -> None:
    if problems:
        rel = doc.relative_to(ROOT).as_posix()
        pytest.fail(f"{rel}: {len(problems)} problem(s)\n  " + "\n  ".join(problems), False)


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_commands_and_sessions_exist(doc: Path) -> None:
    _report(doc, command_problems(parsed(doc)))


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_options_exist(doc: Path) -> None:
    _report(doc, flag_problems(parsed(doc)))


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_sets_envs_and_cases_exist(doc: Path) -> None:
    _report(doc, name_problems(parsed(doc)))


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_paths_and_links_exist(doc: Path) -> None:
    _report(doc, path_problems(parsed(doc)))


def test_the_scan_sees_the_readme() -> None:
    """The parser finds what the README certainly holds, so an empty scan cannot pass."""
    readme = parsed(ROOT / "README.md")
    found = [c for u in readme.units for c in commands(u)]
    assert {"compare", "tests"} <= {c.name for c in found if c.tool == "nox"}
    assert {"check-port", "dump", "aggregate"} <= {c.name for c in found if c.tool == "wgan-parity"}
    paths = {t for u in readme.units for t in _path_tokens(u.text, path_roots())}
    assert "src/wgan_parity/core/catalog.py" in paths
    assert any(target.startswith("docs/") for target, _ in readme.links)


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """A doc naming what does not exist is caught by each check."""
    doc = ROOT / "docs" / "_drift_probe.md"  # parsed from text: the file is never written
    text = "\n".join(
        (
            "`wgan-parity no-such-command`, `nox -s no_such_session`, `tox -e no-such-env`",
            "```bash",
            "wgan-parity aggregate dumps/ --out results/x --no-such-flag",
            "nox -s compare -- --set no-such-set --env tf-0.0.0 --no-such-runner-flag",
            "wgan-parity dump --backend torch --out dumps/t.npz --cases 'no_such_case.*'",
            "```",
            "See `docs/no-such-file.md`, `src/wgan_parity/core/no_such.py`, `no_such_file.toml`,",
            "[a link](no-such.md), [an anchor](findings.md#no-such-heading), and `results/x/a.md`.",
            "Allowed: `results/x/summary.md`, `dumps/t.npz`, `results/summary.md`, `grad/x`.",
        )
    )
    probe = tmp_path / "probe.md"
    probe.write_text(text, encoding="utf-8")
    parsed_doc = parse(probe)
    parsed_doc = Doc(doc, parsed_doc.units, parsed_doc.links)
    commands_found = "\n".join(command_problems(parsed_doc))
    assert "no-such-command" in commands_found
    assert "no_such_session" in commands_found
    assert "no-such-env" in commands_found
    options = "\n".join(flag_problems(parsed_doc))
    assert "--no-such-flag" in options
    assert "--no-such-runner-flag" in options
    names = "\n".join(name_problems(parsed_doc))
    assert "no-such-set" in names
    assert "tf-0.0.0" in names
    assert "no_such_case" in names
    paths = path_problems(parsed_doc)
    text_paths = "\n".join(paths)
    for bogus in (
        "docs/no-such-file.md",
        "core/no_such.py",
        "no_such_file.toml",
        "no-such.md",
        "#no-such-heading",
    ):
        assert bogus in text_paths, bogus
    assert "results/x/a.md" not in text_paths  # under a folder the doc writes (--out results/x)
    assert len(paths) == 5, paths
