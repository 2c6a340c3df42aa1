"""Committed float32 noise figures, keyed by everything that determines them.

The noise (:mod:`dump.noise`) is a deterministic function of the reference's code, the case's
fixtures, NumPy and autograd, the BLAS build with its kernel and thread count, and NumPy's SIMD
dispatch. Measuring it costs a float32 run of every case, about 40% of a reference dump. A table
written by a measuring dump (``wgan-parity dump --noise measure --write-noise-table DIR``) lets a
later dump on the same computing stack read the figures instead. Nothing is assumed: the table
is found by an exact :func:`fingerprint`, each case by its fixtures' digest, and a dump that finds
a table first re-measures the :data:`CANARIES` and uses the table only if they agree to
:data:`RTOL`. Any miss measures, so a table can make a dump faster but never different.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib
import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np
from threadpoolctl import threadpool_info

from wgan_parity.atomic import write_bytes
from wgan_parity.core.compat import dist_version

FORMAT = 1
TABLE_DIR = Path(__file__).resolve().parents[1] / "data" / "noise"
# Three cheap cases that run the kernels the others do: threaded float32 GEMMs (conv and the
# weight gradient), tanh, BatchNorm, depth_to_space and the linear layer, LayerNorm's reductions.
CANARIES: Tuple[str, ...] = ("conv2d.random", "good_generator.random", "layer_norm.random")
# Agreement of a re-measured figure with the table's. Two runs of one stack give the same float32
# bits; the float64 truth they are measured against moves by roundoff with the BLAS's threads.
RTOL = 1e-6
ATOL = 1e-12
# The modules whose code computes a noise figure (comments and docstrings do not count).
CODE_MODULES: Tuple[str, ...] = (
    "wgan_parity.core.catalog",
    "wgan_parity.core.fixtures",
    "wgan_parity.core.model",
    "wgan_parity.core.blocks",
    "wgan_parity.backends.reference",
    "wgan_parity.backends.reference32",
    "wgan_parity.dump.case_runner",
    "wgan_parity.dump.noise",
    "wgan_parity.dump.kinks",
)


class NoiseTableError(ValueError):
    """A table file that cannot be read: what was expected, what was found, what to do."""


def code_digest(modules: Iterable[str] = CODE_MODULES) -> str:
    """A digest of the modules' code without comments and docstrings (``ast.unparse``)."""
    digest = hashlib.sha256()
    for name in modules:
        source = Path(importlib.import_module(name).__file__ or "").read_text()
        digest.update(name.encode() + b"\0" + _code_only(source).encode() + b"\0")
    return digest.hexdigest()[:16]


def _code_only(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            body[:1] = [] if len(body) > 1 else [ast.Pass()]
    unparse = getattr(ast, "unparse", None)  # Python 3.9+; older: the dump of the tree
    return unparse(tree) if unparse is not None else ast.dump(tree)


def _is_docstring(statement: ast.AST) -> bool:
    value = statement.value if isinstance(statement, ast.Expr) else None
    return isinstance(value, ast.Constant) and isinstance(value.value, str)


def simd_targets() -> str:
    """NumPy's baseline SIMD features plus the dispatch targets this CPU enables."""
    try:
        umath = importlib.import_module("numpy._core._multiarray_umath")  # NumPy 2
    except ImportError:
        umath = importlib.import_module("numpy.core._multiarray_umath")
    features = getattr(umath, "__cpu_features__", {})
    baseline = list(getattr(umath, "__cpu_baseline__", []))
    dispatch = [t for t in getattr(umath, "__cpu_dispatch__", []) if features.get(t)]
    return " ".join(baseline) + " | " + " ".join(dispatch)


def fingerprint(noise_threads: int) -> Dict[str, str]:
    """What a noise figure depends on, besides the case's fixtures (the table's key).

    ``blas`` names the kernel in use, however chosen (the CPU, or ``OPENBLAS_CORETYPE``), and
    ``simd`` NumPy's targets (the CPU, or ``NPY_DISABLE_CPU_FEATURES``). ``OPENBLAS_L2_SIZE`` is not
    in it: the Haswell tables with and without it are equal in all 606 figures.
    """
    blas = [
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return {
        "code": code_digest(),
        "numpy": np.__version__,
        "autograd": dist_version("autograd"),
        "blas": "; ".join(blas) or "none",
        "blas_threads": str(noise_threads),
        "simd": simd_targets(),
        "machine": platform.machine(),
    }


def table_name(key: Mapping[str, str]) -> str:
    """The table's file name: a digest of its fingerprint."""
    text = json.dumps(dict(key), sort_keys=True)
    return f"noise-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json.gz"


@dataclass(frozen=True)
class NoiseTable:
    """One computing stack's noise figures: ``cases[name] = (fixtures digest, figures)``."""

    path: Path
    cases: Dict[str, Tuple[str, Dict[str, Dict[str, float]]]]

    def figures(self, case: str, digest: str) -> Optional[Dict[str, Dict[str, float]]]:
        """The case's figures, or None when the table lacks it or its fixtures differ."""
        entry = self.cases.get(case)
        return entry[1] if entry is not None and entry[0] == digest else None


def load(key: Mapping[str, str], directory: Path = TABLE_DIR) -> Optional[NoiseTable]:
    """The table for ``key`` in ``directory``; None when there is none."""
    path = directory / table_name(key)
    if not path.is_file():
        return None
    try:
        data = json.loads(gzip.decompress(path.read_bytes()))
        same_key = data.get("fingerprint") == dict(key)
        if data.get("format") != FORMAT or not same_key:
            raise ValueError(
                f"format {data.get('format')!r} and a fingerprint that "
                + ("matches" if same_key else "does not match")
            )
        cases = {
            str(name): (str(entry["digest"]), _figures(entry["noise"]))
            for name, entry in data["cases"].items()
        }
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NoiseTableError(
            f"noise table {path}: expected gzip'd JSON of format {FORMAT} for this computing "
            f"stack; found {type(exc).__name__}: {exc}. Delete it, or rewrite it with "
            f"`wgan-parity dump --backend reference --noise measure --write-noise-table "
            f"{directory} --out ...`"
        ) from exc
    return NoiseTable(path, cases)


def _figures(noise: Mapping[str, Any]) -> Dict[str, Dict[str, float]]:
    return {str(t): {str(k): float(v) for k, v in fig.items()} for t, fig in noise.items()}


def write(
    directory: Path,
    key: Mapping[str, str],
    digests: Mapping[str, str],
    noise: Mapping[str, Mapping[str, Mapping[str, float]]],
) -> Path:
    """Write the table of ``noise`` (``{case: {tensor: figures}}``) atomically; its path."""
    data = {
        "format": FORMAT,
        "fingerprint": dict(key),
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cases": {
            case: {"digest": digests[case], "noise": {t: dict(f) for t, f in figs.items()}}
            for case, figs in sorted(noise.items())
        },
    }
    path = directory / table_name(key)
    text = json.dumps(data, sort_keys=True, indent=0)
    write_bytes(path, gzip.compress(text.encode(), mtime=0))
    return path


def disagreement(
    measured: Mapping[str, Mapping[str, float]], table: Mapping[str, Mapping[str, float]]
) -> List[str]:
    """Where a re-measured case disagrees with the table (``[]``: it agrees)."""
    found = []
    for tensor in sorted(set(measured) | set(table)):
        if tensor not in measured or tensor not in table:
            found.append(f"{tensor}: in {'the table' if tensor in table else 'the run'} only")
            continue
        for field, value in measured[tensor].items():
            listed = table[tensor].get(field)
            if listed is None or not _close(value, listed):
                found.append(f"{tensor} {field}: measured {value:.6g}, table {listed}")
    return found


def _close(a: float, b: float) -> bool:
    if np.isinf(a) or np.isinf(b) or np.isnan(a) or np.isnan(b):
        return (np.isnan(a) and np.isnan(b)) or a == b
    return abs(a - b) <= ATOL + RTOL * max(abs(a), abs(b))
