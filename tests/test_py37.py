"""The dump side runs on Python 3.7 (the era envs): its import closure, a real dump, the fixtures.

The live tests need a Python 3.7: ``WGAN_PARITY_PY37`` (an interpreter with NumPy >= 1.17 and
autograd, for the dump), else pyenv's 3.7 (compile only). They skip saying which is missing.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest

from wgan_parity.core.fixtures import catalog_hash
from wgan_parity.dump.dumpfile import META_KEY
from wgan_parity.dump.validate import decode_meta_bytes
from wgan_parity.matrix.cachekey import dump_source_files
from wgan_parity.matrix.locks import for_python
from wgan_parity.matrix.venvs import find_python

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "wgan_parity"
CLOSURE = dump_source_files(PACKAGE)
HOWTO = (
    "set WGAN_PARITY_PY37 to a Python 3.7 with NumPy and autograd, e.g. `uv venv --python 3.7 "
    "/tmp/py37 && uv pip install --python /tmp/py37/bin/python 'numpy>=1.17,<1.22' autograd`"
)
# Standard-library names a 3.7 dump must not use (added in 3.8 or later).
NEWER_ATTRS = {
    ("functools", "cache"),
    ("functools", "cached_property"),
    ("math", "prod"),
    ("math", "isqrt"),
    ("math", "dist"),
    ("math", "comb"),
    ("shlex", "join"),
    ("statistics", "fmean"),
    ("ast", "unparse"),
    ("typing", "Literal"),
    ("typing", "Final"),
    ("typing", "TypedDict"),
    ("zipfile", "Path"),
}
NEWER_METHODS = {"removeprefix", "removesuffix", "is_relative_to", "with_stem", "bit_count"}
NEWER_KEYWORDS = {"missing_ok", "strict", "slots", "kw_only"}


def _guarded(tree: ast.AST) -> set:
    """Nodes inside ``try`` bodies or ``if TYPE_CHECKING``/version checks: allowed fallbacks."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Try, ast.If)):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def _newer_uses(path: Path) -> List[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = _guarded(tree)
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and node.module == "importlib.metadata":
            if id(node) not in guarded:
                found.append(f"{where} importlib.metadata outside a try (3.8+)")
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if (node.module, alias.name) in NEWER_ATTRS and id(node) not in guarded:
                    found.append(f"{where} from {node.module} import {alias.name} (3.8+)")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in NEWER_ATTRS and id(node) not in guarded:
                found.append(f"{where} {node.value.id}.{node.attr} (3.8+)")
        elif isinstance(node, ast.Attribute) and node.attr in NEWER_METHODS:
            found.append(f"{where} .{node.attr}() (3.9+)")
        elif isinstance(node, ast.keyword) and node.arg in NEWER_KEYWORDS:
            found.append(f"{where} keyword {node.arg}= (3.8+ in the standard library)")
        elif isinstance(node, ast.NamedExpr):
            found.append(f"{where} walrus := (3.8+)")
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.BitOr)
            and (isinstance(node.left, ast.Dict) or isinstance(node.right, ast.Dict))
        ):
            found.append(f"{where} dict | dict (3.9+)")
    return found


def test_the_dump_closure_is_what_a_dump_runs() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in CLOSURE}
    assert {"cli.py", "commands/dump.py", "dump/catalog_dump.py", "core/fixtures.py"} <= names
    assert {"backends/tensorflow.py", "backends/torch.py", "backends/tfcompat.py"} <= names


@pytest.mark.parametrize("path", CLOSURE, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_the_dump_closure_uses_no_python38_api(path: Path) -> None:
    found = _newer_uses(path)
    assert not found, "the dump side must run on Python 3.7:\n" + "\n".join(found)


def _python37(need_numpy: bool) -> Optional[str]:
    explicit = os.environ.get("WGAN_PARITY_PY37")
    if explicit:
        return explicit
    if need_numpy:
        return None
    found = find_python("3.7")
    return found if found != "3.7" else None


def test_the_dump_closure_compiles_on_python37(tmp_path: Path) -> None:
    python = _python37(need_numpy=False)
    if python is None:
        pytest.skip(f"no Python 3.7 found (pyenv's versions/3.7.*, or {HOWTO})")
    code = (
        "import sys, py_compile\n"
        "for p in sys.argv[1:]:\n"
        "    py_compile.compile(p, cfile=p + '.37c', doraise=True)\n"
    )
    copies = []
    for path in CLOSURE:
        copy = tmp_path / path.relative_to(PACKAGE).as_posix().replace("/", "__")
        copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        copies.append(str(copy))
    done = subprocess.run(
        [python, "-c", code, *copies], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{python} cannot compile the dump closure:\n{done.stderr}"


def test_a_reference_dump_on_python37_has_todays_catalog_hash(tmp_path: Path) -> None:
    python = _python37(need_numpy=True)
    if python is None:
        pytest.skip(f"no Python 3.7 with NumPy and autograd: {HOWTO}")
    out, progress = tmp_path / "ref37.npz", tmp_path / "progress.json"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [
            *(python, "-m", "wgan_parity", "dump", "--backend", "reference", "--out", str(out)),
            *("--cases", "conv2d.seed", "--progress-file", str(progress), "--quiet"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"dump on {python} failed:\n{done.stdout}\n{done.stderr}"
    with np.load(out, allow_pickle=False) as dump:
        meta = decode_meta_bytes(dump[META_KEY].tobytes())
    assert isinstance(meta, dict), meta
    assert meta["python"].startswith("3.7"), meta["python"]
    assert json.loads(progress.read_text())["done"] == 1
    # The fixtures (NumPy's PCG64 stream) are bit-identical across NumPy releases: the hash the
    # 3.7 / old-NumPy dump records equals the one computed here with today's NumPy.
    assert meta["catalog_hash"] == catalog_hash(), (
        f"fixtures differ between NumPy {meta['numpy']} (Python {meta['python']}) and "
        f"NumPy {np.__version__} (Python {sys.version.split()[0]})"
    )


@pytest.mark.parametrize(
    ("requirement", "python", "expected"),
    [
        ("numpy>=1.22; python_version >= '3.9'", "3.11", "numpy>=1.22"),
        ("numpy>=1.22; python_version >= '3.9'", "3.7", None),
        ("numpy>=1.17; python_version < '3.9'", "3.7", "numpy>=1.17"),
        ("autograd>=1.6", "3.7", "autograd>=1.6"),
        ("tomli>=2; sys_platform == 'linux'", "3.7", "tomli>=2; sys_platform == 'linux'"),
    ],
)
def test_lock_inputs_keep_the_requirements_of_the_env_python(
    requirement: str, python: str, expected: Optional[str]
) -> None:
    assert for_python(requirement, python) == expected


def test_find_python_takes_pyenvs_newest_patch(tmp_path: Path) -> None:
    for patch in ("3.7.9", "3.7.16", "3.7.x-dev", "3.10.13"):
        exe = tmp_path / "versions" / patch / "bin" / f"python{patch.rsplit('.', 1)[0]}"
        exe.parent.mkdir(parents=True)
        exe.write_text("")
    environ = {"PYENV_ROOT": str(tmp_path)}
    assert find_python("3.7", environ) == str(tmp_path / "versions/3.7.16/bin/python3.7")
    assert find_python("3.12", environ) == "3.12"
