"""The empirical calibration: how close clean, built-in framework releases get to the truth.

The float32 noise estimate (NumPy float32 against float64) says what *a* float32 computation
loses; it can sit far above what TensorFlow and PyTorch achieve on a tensor. So each tensor also
gets a **clean limit**: ``clean_factor`` × the largest error against the truth of the clean
built-in releases that run the *same kernels* (:attr:`wgan_parity.compare.traits.EnvTraits.kernels`:
framework, kernel ISA, device, oneDNN and TF32 switches). A port, or a new release, several times
less accurate than every clean release is an outlier even inside the noise limit.

Two sources, merged per tensor: the committed calibration (``data/calibration.csv.gz``, derived
from the committed baseline by ``wgan-parity calibrate``) and the run's own built-in envs (each
env calibrated against the others, never against itself). Kernels nothing was measured on get no
clean limit (the noise limit alone applies). NumPy-free and pandas-free: the comparison uses
it; :mod:`wgan_parity.report.calibration_table` derives the table from results with pandas.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from wgan_parity import frameworks
from wgan_parity.compare import traits
from wgan_parity.compare.thresholds import SideLimit, Thresholds
from wgan_parity.compare.verdict import MEASURED
from wgan_parity.core.precision import FLOAT32

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "data" / "calibration.csv.gz"
COLUMNS = ["case", "tensor", "kernels", "largest_err", "envs", "worst_env"]
JUDGED = MEASURED
Key = Tuple[str, str, str]


class CalibrationError(ValueError):
    """A calibration file that cannot be read; the message says what to do."""


def is_clean(env: traits.EnvTraits) -> bool:
    """A built-in adapter of a ``clean`` framework (TF, torch; not a user port, not the truth)."""
    framework = frameworks.find(env.framework)
    return env.builtin and framework is not None and framework.clean


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


def load(path: Union[str, Path, None] = None) -> Calibration:
    """The committed calibration, or ``path``'s; :class:`CalibrationError` when unreadable."""
    path = Path(path) if path is not None else DEFAULT_FILE
    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in COLUMNS[:4] if c not in (reader.fieldnames or [])]
        if missing:
            raise CalibrationError(
                f"{path}: expected columns {COLUMNS[:4]}, missing {missing}; regenerate it with "
                "`wgan-parity calibrate BASELINE_DIR --out FILE`"
            )
        largest = {
            (row["case"], row["tensor"], row["kernels"]): float(row["largest_err"])
            for row in reader
        }
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, CalibrationError):
            raise
        raise CalibrationError(
            f"cannot read calibration {path}: {exc}; expected a CSV from `wgan-parity calibrate` "
            "(columns " + ", ".join(COLUMNS) + "), or pass --calibration none"
        ) from exc
    return Calibration(largest, path.name)


def none() -> Calibration:
    """No committed calibration: only the run's own built-in envs calibrate each other."""
    return Calibration({}, "none")


def side_limit(
    th: Thresholds,
    calibration: Calibration,
    case: str,
    tensor: str,
    env: traits.EnvTraits,
    run: Sequence[Tuple[traits.EnvTraits, float]],
    precision_noise: float = math.nan,
) -> SideLimit:
    """The rules' limits for ``env`` on ``case/tensor`` with its clean limit: the largest clean
    error from ``calibration`` and the run's other clean sides ``run`` (see
    :meth:`Calibration.largest_for`). The aggregator and ``report --thresholds`` both use it.
    ``precision_noise``: the tensor's noise at ``env``'s precision, if it ran reduced."""
    largest = calibration.largest_for(case, tensor, env, run)
    limit = th.side(case, tensor, env)
    return replace(
        limit,
        clean=th.clean_limit(largest),
        largest_clean=largest,
        precision=env.precision,
        precision_noise=precision_noise if env.precision != FLOAT32 else math.nan,
    )


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
