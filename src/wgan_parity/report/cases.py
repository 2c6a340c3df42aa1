"""The case catalog as the reports see it: order, groups and seed-README rows (``cases.csv``).

``wgan-parity aggregate`` writes ``cases.csv`` from the catalog the dumps recorded (one row per
case and seed row, in catalog order: ``case,group,seed_row,tensor``). The heatmaps, the summary
and the seed report read it, not today's catalog, so ``wgan-parity report`` redraws old results
as they were. Results written before ``cases.csv`` existed fall back: every case in the group
``other``, in the order ``pairs.csv`` first names it, and no seed-row names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

import pandas as pd

from wgan_parity.dump.meta import CaseInfo
from wgan_parity.report import csvfiles

FILE = "cases.csv"
COLUMNS = ("case", "group", "seed_row", "tensor")
OTHER = "other"


@dataclass(frozen=True)
class Cases:
    """Case order, each case's group, and ``(seed row label, case, tensor)`` in catalog order.

    ``recorded`` is False for results older than ``cases.csv`` (the fallback described above).
    """

    order: Tuple[str, ...] = ()
    groups: Mapping[str, str] = field(default_factory=dict)
    seed_rows: Tuple[Tuple[str, str, str], ...] = ()
    recorded: bool = True

    def group(self, case: str) -> str:
        """``case``'s group (``other`` when unknown)."""
        return self.groups.get(case, OTHER)

    def sort(self, cases: Iterable[str]) -> List[str]:
        """``cases`` in catalog order; cases the catalog lacks follow, by name."""
        rank = {c: k for k, c in enumerate(self.order)}
        return sorted(dict.fromkeys(cases), key=lambda c: (rank.get(c, len(rank)), c))

    def seed_names(self) -> Dict[Tuple[str, str], str]:
        """``(case, tensor)`` -> the seed README's row label."""
        return {(case, tensor): label for label, case, tensor in self.seed_rows}


def from_infos(infos: Iterable[CaseInfo]) -> Cases:
    """:class:`Cases` from the aggregate's :class:`~wgan_parity.dump.meta.CaseInfo` list."""
    infos = list(infos)
    return Cases(
        order=tuple(c.name for c in infos),
        groups={c.name: c.group for c in infos},
        seed_rows=tuple((label, c.name, tensor) for c in infos for label, tensor in c.seed_rows),
    )


def frame(infos: Iterable[CaseInfo]) -> pd.DataFrame:
    """``cases.csv``'s rows: one per case and seed row (a case without one: one row, blank)."""
    rows = []
    for case in infos:
        for label, tensor in case.seed_rows or (("", ""),):
            rows.append((case.name, case.group, label, tensor))
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


def write(infos: Iterable[CaseInfo], folder: Path) -> Path:
    """Write ``cases.csv`` into ``folder``."""
    return csvfiles.write_csv(frame(infos), Path(folder) / FILE)


def read(folder: Path, pairs: pd.DataFrame) -> Cases:
    """``folder``'s ``cases.csv``; without one, the fallback from ``pairs`` (see above)."""
    path = Path(folder) / FILE
    if not path.is_file():
        return fallback(pairs)
    df = csvfiles.read_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path}: expected the columns {list(COLUMNS)}, found {list(df.columns)}; "
            "re-run `wgan-parity aggregate` to rewrite it"
        )
    seeds = df[df["seed_row"] != ""]
    return Cases(
        order=tuple(dict.fromkeys(df["case"])),
        groups=dict(zip(df["case"], df["group"].replace("", OTHER))),
        seed_rows=tuple(zip(seeds["seed_row"], seeds["case"], seeds["tensor"])),
    )


def fallback(pairs: pd.DataFrame) -> Cases:
    """Cases of results without ``cases.csv``: pairs.csv's order, one group, no seed rows."""
    names: Sequence[str] = list(pairs["case"]) if "case" in pairs.columns else []
    order = tuple(dict.fromkeys(str(c) for c in names))
    return Cases(order=order, groups={}, seed_rows=(), recorded=False)
