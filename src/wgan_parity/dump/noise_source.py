"""Where a reference dump's noise figures come from: a verified table, or a measurement.

``mode="table"`` (the default) looks up the :mod:`dump.noise_table` of this computing stack. A
case is looked up only if its tensors hold at least :data:`LOOKUP_MIN_BYTES` (smaller ones cost
less to measure than to verify), and the table is trusted only after the
:data:`~dump.noise_table.CANARIES`, run and measured when the first such case arrives, agree with
it. Cases the table lacks, or whose fixtures changed, are measured. ``mode="measure"`` measures
every case (and is what writes a table). What happened is recorded in the dump's flags under
``noise_source``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from wgan_parity.core.catalog import Case, select
from wgan_parity.core.fixtures import Fixtures, make_fixtures
from wgan_parity.dump import kinks, noise_table
from wgan_parity.dump.case_runner import run_case
from wgan_parity.dump.noise import NOISE_THREADS
from wgan_parity.dump.noise import measure as measure_noise

MODES = ("table", "measure")
LOOKUP_MIN_BYTES = 4 * 1024 * 1024  # the probe cases (<= 1.3 MB) are measured: 10 ms each
Figures = Dict[str, Dict[str, float]]


class NoiseSource:
    """Gives each case's figures; :meth:`record` says where they came from."""

    def __init__(
        self, backend: Any, twin: Any, mode: str = "table", directory: Path = noise_table.TABLE_DIR
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"noise mode: expected one of {MODES}, found {mode!r}")
        self.backend, self.twin = backend, twin
        self.key = noise_table.fingerprint(NOISE_THREADS)
        self.table: Optional[noise_table.NoiseTable] = None
        self.trusted: Optional[bool] = None  # None: canaries not run yet
        self.measured: List[str] = []
        self.looked_up: List[str] = []
        self.evidence: Dict[str, Any] = {"mode": mode, "fingerprint": self.key}
        if mode == "table":
            try:
                self.table = noise_table.load(self.key, directory)
            except noise_table.NoiseTableError as exc:  # measured instead; the dump says why
                self.evidence["table"] = f"unreadable, every case measured: {exc}"
                return
            self.evidence["table"] = (
                self.table.path.name
                if self.table
                else f"none for this stack ({noise_table.table_name(self.key)})"
            )

    def figures(
        self,
        case: Case,
        fixtures: Fixtures,
        digest: str,
        truth: Dict[str, np.ndarray],
        probe: Optional[kinks.KinkProbe] = None,
    ) -> Figures:
        """The case's figures (``digest``: its fixtures'): the verified table's, or measured
        (with the ReLU-kink figures when ``probe`` recorded the float64 run)."""
        heavy = sum(a.nbytes for a in truth.values()) >= LOOKUP_MIN_BYTES
        if self.table is not None and heavy:
            listed = self.table.figures(case.name, digest)
            if listed is not None and set(listed) == set(truth) and self._trusted():
                self.looked_up.append(case.name)
                return listed
        self.measured.append(case.name)
        return measure_noise(self.twin, case, fixtures, truth, probe, self.backend)

    def _trusted(self) -> bool:
        """Run and measure the canaries once; True if every figure agrees with the table."""
        if self.trusted is None and self.table is not None:
            started = time.perf_counter()
            checked: Dict[str, str] = {}
            for case in select(list(noise_table.CANARIES)):
                fixtures = make_fixtures(case)
                listed = self.table.figures(case.name, fixtures.digest())
                if listed is None:
                    checked[case.name] = "not in the table"
                    continue
                try:
                    truth = run_case(self.backend, case, fixtures)
                    measured = measure_noise(self.twin, case, fixtures, truth)
                except Exception as exc:  # the table goes unused; the dump's cases go on
                    checked[case.name] = f"could not run: {type(exc).__name__}: {exc}"
                    continue
                found = noise_table.disagreement(measured, listed)
                checked[case.name] = "agrees" if not found else "; ".join(found[:3])
            self.trusted = all(verdict == "agrees" for verdict in checked.values())
            self.evidence["canaries"] = checked
            self.evidence["canary_s"] = round(time.perf_counter() - started, 3)
            if not self.trusted:
                self.evidence["table"] += " (rejected: a canary disagrees; every case measured)"
        return bool(self.trusted)

    def record(self) -> Dict[str, Any]:
        """``noise_source`` for the dump's flags: mode, table, canaries, what was measured."""
        return {**self.evidence, "from_table": len(self.looked_up), "measured": self.measured}
