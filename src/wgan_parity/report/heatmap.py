"""Heatmaps of an aggregate's results (matplotlib, Agg canvas, PNG files).

- ``heatmap_pairs_<group>.png``: env × env for each case group of the catalog the dumps recorded
  (``Results.cases``: input, layer, residual, generator, discriminator, gradient, norm). A cell
  is the pair's worst *calibrated error* over the group's tensors: ``rel_l2 / limit`` (against
  the truth: the env's error in units of its tolerance; see :func:`~.resultset.calibrated`),
  coloured by its log10, so 0 is the tolerance. Markers give each cell's status: ✕ an
  unexplained divergence, ○ known divergences only, ✚ unjudged rows (a limit that cannot fail), □
  degenerate rows (not judged), △ a failed
  case or a missing tensor, ◇ cases a dump did not select (``not-run``: grey, not a problem).
- ``heatmap_vs_reference.png``: env × case, each env's calibrated error against the float64
  truth, worst over the case's tensors: a regressed release is a bright row.

Axes follow :attr:`~.resultset.Results.order` (framework, then numeric version). Fonts
keep their size and the figure grows with the number of envs, so 25+ envs stay legible. Figures
are built on a private :class:`~matplotlib.figure.Figure` (no pyplot state, no backend switch).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from wgan_parity import atomic
from wgan_parity.compare import verdict
from wgan_parity.report.resultset import Results, calibrated

# The catalog's groups in drawing order; a group the recorded catalog adds follows, "other" last.
GROUPS = ("input", "layer", "residual", "generator", "discriminator", "gradient", "norm")
VMIN, VMAX = -3.0, 3.0  # log10(error / tolerance): a fixed scale, comparable between runs
CMAP = "inferno"
CELL_IN = (0.3, 0.6)  # inches per cell, few to many envs: the figure grows, fonts do not shrink
FONT = 8
DPI = 100
CYAN = "#00e5ff"
LEGEND_IN, TOP_IN, RIGHT_IN, MIN_WIDTH_IN = 0.75, 0.45, 1.3, 6.5
MARKS = {  # status mark -> (marker, label)
    "diverged": ("X", "diverged (unexplained)"),
    "known": ("o", "diverged, known"),
    "unjudged": ("P", "unjudged rows (a limit that cannot fail)"),
    "degenerate": ("s", "degenerate rows (not judged)"),
    "problem": ("^", "failed case / missing tensor"),
    "not-run": ("D", "case not run (not selected)"),
}


def _cell_mark(statuses: pd.Series, known: pd.Series) -> str:
    bad = [verdict.is_divergence(s, k) for s, k in zip(statuses, known)]
    if any(bad):
        return "diverged"
    if any(s in verdict.DIVERGENT for s in statuses):
        return "known"
    if any(verdict.is_env_problem(s) for s in statuses):
        return "problem"
    if (statuses == verdict.UNJUDGED).any():
        return "unjudged"
    if (statuses == verdict.DEGENERATE).any():
        return "degenerate"
    return "not-run" if len(statuses) and (statuses == verdict.NOT_RUN).all() else ""


def _cells(df: pd.DataFrame, row_key: str, col_key: str) -> Tuple[Dict, Dict]:
    """Worst calibrated error and status mark per (row, column)."""
    df = df.assign(_cal=calibrated(df).clip(upper=1e300))
    values, marks = {}, {}
    for key, part in df.groupby([row_key, col_key], sort=False):
        cal = part["_cal"].dropna()
        values[key] = float(cal.max()) if len(cal) else math.nan
        marks[key] = _cell_mark(part["status"], part["known"])
    return values, marks


def _label_in(labels: Sequence[str]) -> float:
    """Inches taken by tick labels of this length at :data:`FONT` points."""
    return max((len(s) for s in labels), default=1) * FONT * 0.6 / 72 + 0.15


def _figure(rows: List[str], cols: List[str]) -> Tuple[Figure, Axes, Axes]:
    """A figure sized in inches from the labels: matrix axes and colorbar axes."""
    left, bottom = _label_in(rows) + 0.2, _label_in(cols) + LEGEND_IN
    cell = min(CELL_IN[1], max(CELL_IN[0], 3.0 / max(len(rows), len(cols), 1)))
    width_in, height_in = cell * max(len(cols), 1), cell * max(len(rows), 1)
    fig_w = max(left + width_in + RIGHT_IN, MIN_WIDTH_IN)
    fig_h = bottom + max(height_in, 1.5) + TOP_IN
    fig = Figure(figsize=(fig_w, fig_h), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((left / fig_w, bottom / fig_h, width_in / fig_w, height_in / fig_h))
    cax = fig.add_axes(
        (
            (left + width_in + 0.25) / fig_w,
            bottom / fig_h,
            0.15 / fig_w,
            max(height_in, 1.5) / fig_h,
        )
    )
    return fig, ax, cax


def _draw(
    fig: Figure,
    axes: Tuple[Axes, Axes],
    matrix: np.ndarray,
    marks: Dict[Tuple[int, int], str],
    rows: List[str],
    cols: List[str],
    title: str,
) -> None:
    ax, cax = axes
    with np.errstate(divide="ignore", invalid="ignore"):
        shown = np.where(matrix > 0, np.log10(np.where(matrix > 0, matrix, 1.0)), np.nan)
    shown = np.where(matrix == 0, VMIN, shown)
    cmap = colormaps[CMAP].with_extremes(bad="#d9d9d9")
    image = ax.imshow(
        np.ma.masked_invalid(shown),
        cmap=cmap,
        norm=Normalize(VMIN, VMAX),
        aspect="equal",
        interpolation="nearest",
    )
    ax.set_xticks(range(len(cols)), labels=cols, rotation=90, fontsize=FONT)
    ax.set_yticks(range(len(rows)), labels=rows, fontsize=FONT)
    ax.set_xlim(-0.5, len(cols) - 0.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    fig.suptitle(title, fontsize=FONT + 2, x=0.01, ha="left")
    for mark, (marker, _) in MARKS.items():
        points = [(c, r) for (r, c), m in marks.items() if m == mark]
        if points:
            xs, ys = zip(*points)
            if marker == "X":
                ax.scatter(xs, ys, marker=marker, s=40, linewidths=1.0, c="white", edgecolors="k")
            else:  # a cyan ring on a black one: visible on dark and bright cells alike
                ax.scatter(xs, ys, marker=marker, s=40, linewidths=2.6, c="none", edgecolors="k")
                ax.scatter(xs, ys, marker=marker, s=40, linewidths=1.0, c="none", edgecolors=CYAN)
    bar = fig.colorbar(image, cax=cax, extend="both")
    bar.set_label("log10(error / tolerance)", fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT)
    bar.ax.axhline(0.0, color=CYAN, linewidth=1.5)
    handles = [
        Line2D(
            [],
            [],
            linestyle="",
            marker=m,
            markersize=6,
            markerfacecolor="white" if m == "X" else "none",
            markeredgecolor="black" if m == "X" else "#0097a7",
            label=label,
        )
        for m, label in MARKS.values()
    ]
    handles.append(Line2D([], [], color=CYAN, linewidth=1.5, label="colorbar: tolerance"))
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 0.0),
        fontsize=FONT,
        ncol=3,
        frameon=False,
    )


def pairs_figure(res: Results, group: str) -> Figure:
    """The env × env figure of one case group (every env, the truth included)."""
    envs = res.order
    df = res.pairs[res.pairs["case"].map(res.cases.group) == group]
    values, marks = _cells(df, "env_a", "env_b")
    index = {e: k for k, e in enumerate(envs)}
    matrix = np.full((len(envs), len(envs)), np.nan)
    cell_marks: Dict[Tuple[int, int], str] = {}
    for (a, b), value in values.items():
        if a in index and b in index:
            for r, c in ((index[a], index[b]), (index[b], index[a])):
                matrix[r, c] = value
                if marks[(a, b)]:
                    cell_marks[(r, c)] = marks[(a, b)]
    fig, ax, cax = _figure(envs, envs)
    tensors = df[["case", "tensor"]].drop_duplicates().shape[0]
    _draw(
        fig,
        (ax, cax),
        matrix,
        cell_marks,
        envs,
        envs,
        f"{group}: worst error/tolerance per env pair ({tensors} tensors)",
    )
    return fig


def reference_figure(res: Results) -> Figure:
    """The env × case figure of every env's error against the float64 truth."""
    envs = res.others
    df = res.pairs[res.pairs["env_b"] == res.truth] if res.truth else res.pairs.iloc[0:0]
    cases = res.cases.sort(df["case"].unique())
    values, marks = _cells(df, "env_a", "case")
    matrix = np.full((len(envs), len(cases)), np.nan)
    cell_marks: Dict[Tuple[int, int], str] = {}
    for r, env in enumerate(envs):
        for c, case in enumerate(cases):
            if (env, case) in values:
                matrix[r, c] = values[(env, case)]
                if marks[(env, case)]:
                    cell_marks[(r, c)] = marks[(env, case)]
    fig, ax, cax = _figure(envs, cases)
    _draw(
        fig,
        (ax, cax),
        matrix,
        cell_marks,
        envs,
        cases,
        "each env against the float64 truth: worst error/tolerance per case",
    )
    return fig


def figures(res: Results) -> Dict[str, Figure]:
    """File name -> figure, for every group present and the vs-reference matrix."""
    present = {res.cases.group(c) for c in res.pairs["case"].unique()}
    order = [*GROUPS, *sorted(present - {*GROUPS, "other"}), "other"]
    out = {f"heatmap_pairs_{g}.png": pairs_figure(res, g) for g in order if g in present}
    if res.truth and (res.pairs["env_b"] == res.truth).any():
        out["heatmap_vs_reference.png"] = reference_figure(res)
    return out


def write(res: Results, folder: Path) -> List[Path]:
    """Draw :func:`figures` and save them as PNG into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures(res).items():
        save = functools.partial(fig.savefig, format="png", metadata={"Software": None})
        written.append(atomic.write_with(folder / name, save))
    return written
