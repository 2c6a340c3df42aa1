"""The first divergent tap: the rule on hand-made steps, and pinned on a port that perturbs one op.

The pinned test dumps ``residual_down.probe`` (small, random weights) with the float64 reference
and with a user backend over ``reference32`` that adds 1e-3 to channel 0 of exactly one op's
output inside the residual block (a uniform shift would be removed by the next LayerNorm). The
aggregate must localize every divergent row of that port to that op's tap.
"""

from __future__ import annotations

import math
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import pandas as pd
import pytest

from wgan_parity.cli import main
from wgan_parity.compare import localize
from wgan_parity.core.catalog import select
from wgan_parity.dump.catalog_dump import DumpRequest, write_catalog_dump


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("shortcut", 0.01), ("norm1", 0.02), ("conv1", 300.0), ("out", 500.0)], "conv1"),
        ([("a", 0.5), ("b", 0.9), ("c", 1.1), ("d", 50.0)], "d"),  # c only creeps past 1
        ([("a", 0.5), ("b", 0.9), ("c", 1.1), ("d", 1.3)], "c"),  # no jump: first past 1
        ([("a", math.nan), ("b", 5.0)], "b"),  # NaN steps (degenerate) say nothing
        ([("a", 0.2), ("b", math.inf)], "b"),  # non-finite counts as infinite
        ([("a", 0.2), ("b", 0.3)], ""),
    ],
)
def test_rate_of_change_rule(steps, expected):
    assert localize.first_divergent(steps) == expected


def test_a_known_base_error_upstream_is_not_the_start():
    """A TF port's norm1 carries TF's own, known BatchNorm error (4.7x its limit); its bug acts
    at conv1 (1e5x). The known step raises the envelope but is never the start."""
    steps = [("shortcut", 0.1), ("norm1", 4.7), ("conv1", 1e5), ("out", 2e5)]
    assert localize.first_divergent(steps) == "norm1"  # without knowing it is excused
    assert localize.first_divergent(steps, [False, True, False, False]) == "conv1"
    creeping = [("norm1", 4.7), ("conv1", 6.0)]  # only amplified: not a jump over the envelope
    assert localize.first_divergent(creeping, [True, False]) == "conv1"  # first past, unexcused


def _row(tensor: str, status: str, err: float, env_a: str = "port", env_b: str = "ref") -> Dict:
    return {
        "case": "blk.probe",
        "tensor": tensor,
        "env_a": env_a,
        "env_b": env_b,
        "status": status,
        "blame": env_a if status == "diverged" else "",
        "rel_l2": err,
        "err_a": err,
        "err_b": 0.0,
        "limit_a": 1e-6,
        "limit_b": math.nan,
    }


def test_annotate_marks_divergent_rows_of_the_pair_only():
    rows = [
        _row("out", "diverged", 1e-3),
        _row("tap/shortcut", "ok", 1e-8),
        _row("tap/conv1", "diverged", 1e-4),
        _row("grad/x", "diverged", 1e-3),
        _row("grad/w", "ok", 1e-8),
        _row("out", "ok", 1e-8, "other", "ref"),
        _row("tap/conv1", "ok", 1e-8, "other", "ref"),
    ]
    localize.annotate(rows)
    assert [r[localize.COLUMN] for r in rows] == ["conv1", "", "conv1", "conv1", "", "", ""]


def test_gradient_only_divergence_has_no_tap():
    rows = [_row("out", "ok", 1e-8), _row("tap/conv1", "ok", 1e-8), _row("grad/x", "diverged", 1)]
    localize.annotate(rows)
    assert rows[2][localize.COLUMN] == ""


def test_annotated_keeps_cases_apart():
    first = [[_row("tap/conv1", "diverged", 1e-4)], [_row("out", "diverged", 1e-3)]]
    other = [{**_row("out", "diverged", 1e-3), "case": "other.probe"}]
    out = list(localize.annotated([*first, [], other]))
    assert [r[localize.COLUMN] for rows in out for r in rows] == ["conv1", "conv1", ""]


SHIFT_PORT = '''
    """Adds 1e-3 to channel 0 of the output of one op inside the residual block: {target}."""
    import numpy as np

    from wgan_parity.core import model

    BASE = "reference32"
    TARGET = "{target}"


    class _Shifted:
        def __init__(self, ops):
            self._ops = ops

        def __getattr__(self, name):
            return getattr(self._ops, name)

        @staticmethod
        def _bump(y, name):
            if name != TARGET:
                return y
            mask = np.zeros((1, y.shape[1], 1, 1), np.float32)
            mask[0, 0] = 1e-3
            return y + mask

        def conv2d(self, x, w, b=None):  # in a down block only conv1 calls conv2d directly
            return self._bump(self._ops.conv2d(x, w, b), "conv1")

        def mean_pool_conv(self, x, w, b=None):
            return self._bump(self._ops.mean_pool_conv(x, w, b), "shortcut")

        def conv_mean_pool(self, x, w, b=None):
            return self._bump(self._ops.conv_mean_pool(x, w, b), "conv2")

        def normalize(self, x, p, scope, kind):
            return self._bump(self._ops.normalize(x, p, scope, kind), scope.rsplit(".", 1)[-1])


    def residual_block(ops, x, p, scope, resample, norm, taps=None):
        return model.residual_block(_Shifted(ops), x, p, scope, resample, norm, taps)
'''


@pytest.fixture(scope="module")
def reference_dump(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("loc-ref") / "reference.npz"
    write_catalog_dump(DumpRequest("reference", path, select(["residual_down.probe"])))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("target", ["conv1", "shortcut", "norm2"])
def test_localization_pinned_on_a_port_that_perturbs_one_op(
    target, reference_dump, tmp_path, monkeypatch
):
    name = f"shift_{target}_port"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(SHIFT_PORT.format(target=target)))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    write_catalog_dump(DumpRequest(name, tmp_path / f"{name}.npz", select(["residual_down.probe"])))
    out = tmp_path / "out"
    main(
        [
            "aggregate",
            str(reference_dump),
            str(tmp_path / f"{name}.npz"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    df = pd.read_csv(out / "pairs.csv", keep_default_na=False, dtype=str)
    bad = df[(df.env_a == name) & (df.status == "diverged")]
    assert "out" in set(bad.tensor), f"perturbing {target} did not reach the block output"
    taps: List[str] = sorted(set(bad[localize.COLUMN]))
    assert taps == [target], (
        f"port perturbing {target}: first_divergent_tap {taps} on rows "
        f"{list(zip(bad.tensor, bad[localize.COLUMN]))}"
    )


def test_a_known_row_is_localized_where_its_explained_difference_starts():
    rows = [
        {**_row("tap/shortcut", "ok", 1e-7), "known": ""},
        {**_row("tap/norm1", "diverged", 1e-2), "known": "by name"},
        {**_row("out", "diverged", 1e-2), "known": "by name"},
    ]
    localize.annotate(rows)
    assert rows[2][localize.COLUMN] == "norm1"  # the known difference itself starts at norm1
    unexplained = [dict(r) for r in rows]
    unexplained[2]["known"] = ""
    unexplained[2]["err_a"] = unexplained[2]["rel_l2"] = 1.0  # a bug far past the known error
    localize.annotate(unexplained)
    assert unexplained[2][localize.COLUMN] == "out"  # not the known norm1 step


def _pair_row(tensor: str, err_a: float, err_b: float) -> Dict:
    """A row of two ports against each other; each side's error against the truth in limits."""
    blame = ";".join(s for s, e in (("port-a", err_a), ("port-b", err_b)) if e > 1e-6)
    return {
        "case": "blk.probe",
        "tensor": tensor,
        "env_a": "port-a",
        "env_b": "port-b",
        "status": "diverged" if blame else "ok",
        "blame": blame,
        "known": "",
        "rel_l2": max(err_a, err_b),
        "err_a": err_a,
        "err_b": err_b,
        "limit_a": 1e-6,
        "limit_b": 1e-6,
    }


def test_each_blamed_side_carries_its_own_first_divergent_tap():
    """port-a breaks at conv1, port-b at norm2 (much worse): each side names its own start."""
    rows = [
        _pair_row("tap/shortcut", 1e-8, 1e-8),
        _pair_row("tap/norm1", 1e-8, 1e-8),
        _pair_row("tap/conv1", 1e-4, 1e-8),
        _pair_row("tap/norm2", 1.2e-4, 1e-1),
        _pair_row("out", 1.5e-4, 1e-1),
    ]
    localize.annotate(rows)
    out = rows[-1]
    assert (out[localize.SIDE_COLUMNS["a"]], out[localize.SIDE_COLUMNS["b"]]) == ("conv1", "norm2")
    assert localize.side_tap(out, "port-a") == "conv1"
    assert localize.side_tap(out, "port-b") == "norm2"
    assert rows[2][localize.SIDE_COLUMNS["b"]] == ""  # port-b is not blamed on tap/conv1


def test_two_differently_broken_ports_each_localized(reference_dump, tmp_path, monkeypatch):
    """Two user backends over reference32, one shifted at conv1, one at norm2: their pair row
    carries each side's own tap (the pair's worst-side column could only name one)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names = []
    for target in ("conv1", "norm2"):
        name = f"shift2_{target}_port"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(SHIFT_PORT.format(target=target)))
        sys.modules.pop(name, None)
        write_catalog_dump(
            DumpRequest(name, tmp_path / f"{name}.npz", select(["residual_down.probe"]))
        )
        names.append(name)
    out = tmp_path / "out"
    dumps = [str(reference_dump), *(str(tmp_path / f"{n}.npz") for n in names)]
    assert main(["aggregate", *dumps, "--out", str(out), "--quiet"]) & 1
    df = pd.read_csv(out / "pairs.csv", keep_default_na=False, dtype=str)
    row = df[(df.tensor == "out") & (df.env_a == names[0]) & (df.env_b == names[1])].iloc[0]
    assert set(row.blame.split(";")) == set(names), row.note
    assert (row.first_divergent_tap_a, row.first_divergent_tap_b) == ("conv1", "norm2")
    lines = (out / "summary.md").read_text().splitlines()
    for name, tap in zip(names, ("conv1", "norm2")):  # the summary lists each side's own tap
        mine = [
            x for x in lines if x.startswith("| `residual_down.probe/out`") and f"`{name}`" in x
        ]
        assert mine, f"no summary line for {name}"
        assert all(f"| {tap} |" in x for x in mine if f"| `{name}` |" in x), mine
