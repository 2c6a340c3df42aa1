"""The selftest table as text: one summary line per weight mode, and GitHub Markdown."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Sequence

from wgan_parity import atomic
from wgan_parity.report.selftest import MODES

if TYPE_CHECKING:
    import pandas as pd


def totals(table: pd.DataFrame) -> List[str]:
    """One line per mode: the mutation score and what went with it."""
    lines = []
    for mode in MODES:
        rows = table[(table["mode"] == mode) & ~table["bug"].str.startswith("(")]
        if rows.empty:
            continue
        clean = table[(table["mode"] == mode) & table["bug"].str.startswith("(")]
        localizable = rows[rows["localized"] != "n/a"]
        detected = rows[rows["detected"] == "yes"]
        lines.append(
            f"{mode}: detected {len(detected)}/{len(rows)} bugs "
            f"(forward rows alone {int((rows['fwd'] == 'yes').sum())}), "
            f"blamed right {int((detected['blamed'] == 'yes').sum())}/{len(detected)}, "
            f"localized right {int((localizable['localized'] == 'yes').sum())}/"
            f"{len(localizable)}, false alarms {int(clean['hits'].sum())}"
        )
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}"
    return str(value).replace("|", "\\|")


def markdown(table: pd.DataFrame, lines: Sequence[str] = ()) -> str:
    """The table as GitHub Markdown, then ``lines`` as a list."""
    columns = list(table.columns)
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in table.itertuples(index=False):
        out.append("| " + " | ".join(_cell(v) for v in record) + " |")
    return "\n".join([*out, "", *(f"- {line}" for line in lines), ""])


def by_precision(table: pd.DataFrame) -> str:
    """One line per bug, one column per precision: detected in some mode (``yes``/``no``)."""
    precisions = list(dict.fromkeys(table["precision"]))
    bugs = table[~table["bug"].str.startswith("(")]
    out = ["| bug | base | " + " | ".join(precisions) + " |", "|" + "---|" * (2 + len(precisions))]
    for (bug, base), rows in bugs.groupby(["bug", "base"], sort=False):
        seen = {p: (rows[rows["precision"] == p]["detected"] == "yes").any() for p in precisions}
        cells = [
            ("yes" if seen[p] else "**no**") if p in set(rows["precision"]) else ""
            for p in precisions
        ]
        out.append(f"| {bug} | {base} | " + " | ".join(cells) + " |")
    clean = table[table["bug"].str.startswith("(")]
    alarms = [f"{p}: {int(clean[clean['precision'] == p]['hits'].sum())}" for p in precisions]
    return "\n".join([*out, "", "False alarms on the clean releases: " + ", ".join(alarms), ""])


def write_combined(folder: Path, table: pd.DataFrame, lines: Sequence[str]) -> None:
    """``selftest.csv`` and ``selftest.md`` of a run at several precisions (atomically)."""
    atomic.write_with(
        folder / "selftest.csv",
        lambda tmp: table.to_csv(tmp, index=False, float_format="%.6e", lineterminator="\n"),
    )
    text = "## Detected, per precision\n\n" + by_precision(table) + "\n" + markdown(table, lines)
    atomic.write_text(folder / "selftest.md", text)
