"""The selftest table as text: one summary line per weight mode, and GitHub Markdown."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, List, Sequence

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
