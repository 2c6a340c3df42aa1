"""The empirical calibration: how close clean, built-in framework releases get to the truth.

The float32 noise estimate (NumPy float32 against float64) says what *a* float32 computation
loses; it can sit far above what TensorFlow and PyTorch achieve on a tensor. So each tensor also
gets a **clean limit**: ``clean_factor`` × the largest error against the truth of the clean
built-in releases that run the *same kernels* (:attr:`wgan_parity.traits.EnvTraits.kernels`:
framework, kernel ISA, device, oneDNN and TF32 switches). A port, or a new release, several times
less accurate than every clean release is an outlier even inside the noise limit.

Two sources, merged per tensor: the committed calibration (``data/calibration.csv.gz``, derived
from the committed baseline by ``wgan-parity calibrate``) and the run's own built-in envs (each
env calibrated against the others, never against itself). Kernels nothing was measured on get no
clean limit (the noise limit alone applies).
"""

from __future__ import annotations

import gzip
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import pandas as pd

from wgan_parity import traits

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "calibration.csv.gz"
COLUMNS = ["case", "tensor", "kernels", "largest_err", "envs", "worst_env"]
CLEAN_FRAMEWORKS = ("tensorflow", "torch")
JUDGED = ("ok", "diverged")
Key = Tuple[str, str, str]


class CalibrationError(ValueError):
    """A calibration file that cannot be read; the message says what to do."""


def is_clean(env: traits.EnvTraits) -> bool:
    """A built-in TensorFlow or PyTorch adapter (not a user port, not the reference)."""
    return env.builtin and env.framework in CLEAN_FRAMEWORKS


@dataclass
class Calibration:
    """Per (case, tensor, kernels): the largest clean error measured, and over how many envs."""

    largest: Dict[Key, float] = field(default_factory=dict)
    source: str = ""

    def lookup(self, case: str, tensor: str, kernels: str) -> float:
        """The committed largest clean error (NaN when none)."""
        return self.largest.get((case, tensor, kernels), math.nan)

    def largest_for(
        self,
        case: str,
        tensor: str,
        env: traits.EnvTraits,
        run: Sequence[Tuple[traits.EnvTraits, float]],
    ) -> float:
        """The largest clean error for ``env``: committed, and the run's *other* clean envs."""
        found = [self.lookup(case, tensor, env.kernels)]
        found += [
            err
            for other, err in run
            if other.label != env.label and other.kernels == env.kernels and is_clean(other)
        ]
        found = [e for e in found if e == e and math.isfinite(e)]
        return max(found) if found else math.nan


def derive(pairs: pd.DataFrame, envs: pd.DataFrame, truth: str) -> pd.DataFrame:
    """The calibration rows of a results folder (or baseline): clean envs' rows vs the truth.

    ``pairs`` and ``envs`` are read as text; an env appearing at several ISAs (a baseline with
    ``--add``) is told apart by the rows' ``isa`` column when there is one.
    """
    by_label: Dict[Tuple[str, str], traits.EnvTraits] = {}
    for row in envs.to_dict("records"):
        env = traits.from_env_row(row)
        by_label[(env.label, env.isa)] = env
        by_label.setdefault((env.label, ""), env)
    records: Dict[Key, List[Tuple[float, str]]] = {}
    has_isa = "isa" in pairs.columns
    for row in pairs.to_dict("records"):
        if truth not in (row["env_a"], row["env_b"]) or row["status"] not in JUDGED:
            continue
        side = "a" if row["env_b"] == truth else "b"
        label = row[f"env_{side}"]
        isa = str(row.get("isa") or "") if has_isa else ""
        env = by_label.get((label, isa)) or by_label.get((label, ""))
        if env is None or not is_clean(env):
            continue
        if isa and not env.isa:
            env = traits.EnvTraits(env.label, env.framework, env.lineage, isa, env.switches)
        err = float(row[f"err_{side}"])
        if math.isfinite(err):
            records.setdefault((row["case"], row["tensor"], env.kernels), []).append((err, label))
    rows = []
    for (case, tensor, kernels), found in sorted(records.items()):
        err, worst = max(found)
        rows.append([case, tensor, kernels, err, len(found), worst])
    return pd.DataFrame(rows, columns=COLUMNS)


def to_bytes(table: pd.DataFrame) -> bytes:
    """The table as gzip'd CSV with mtime 0 (the same table gives the same bytes)."""
    text = table.to_csv(index=False, float_format="%.6e", lineterminator="\n").encode("utf-8")
    return gzip.compress(text, compresslevel=9, mtime=0)


def from_table(table: pd.DataFrame, source: str = "") -> Calibration:
    """A :class:`Calibration` from :func:`derive`'s table."""
    largest = {
        (str(c), str(t), str(k)): float(e)
        for c, t, k, e in zip(
            table["case"], table["tensor"], table["kernels"], table["largest_err"]
        )
    }
    return Calibration(largest, source)


def load(path: Union[str, Path, None] = None) -> Calibration:
    """The committed calibration, or ``path``'s; :class:`CalibrationError` when unreadable."""
    path = Path(path) if path is not None else DEFAULT_FILE
    try:
        raw = path.read_bytes()
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        table = pd.read_csv(io.BytesIO(text), dtype={"case": str, "tensor": str, "kernels": str})
    except (OSError, ValueError, EOFError) as exc:
        raise CalibrationError(
            f"cannot read calibration {path}: {exc}; expected a CSV from `wgan-parity calibrate` "
            "(columns " + ", ".join(COLUMNS) + "), or pass --calibration none"
        ) from exc
    missing = [c for c in COLUMNS[:4] if c not in table.columns]
    if missing:
        raise CalibrationError(
            f"{path}: expected columns {COLUMNS[:4]}, missing {missing}; regenerate it with "
            "`wgan-parity calibrate BASELINE_DIR --out FILE`"
        )
    return from_table(table, path.name)


def none() -> Calibration:
    """No committed calibration: only the run's own built-in envs calibrate each other."""
    return Calibration({}, "none")


def kernels_seen(calibration: Calibration) -> List[str]:
    """The kernel configurations the committed calibration covers."""
    return sorted({k for _, _, k in calibration.largest})


def run_errors(
    sides: Iterable[Tuple[traits.EnvTraits, float]],
) -> List[Tuple[traits.EnvTraits, float]]:
    """The clean sides of a tensor with a finite error against the truth."""
    return [(env, err) for env, err in sides if is_clean(env) and err == err]


def optional(path: Optional[str]) -> Calibration:
    """``--calibration``: the committed file by default, ``none`` for none, else that file."""
    if path is None:
        return load()
    return none() if str(path).lower() == "none" else load(path)
