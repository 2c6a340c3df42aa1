"""The error against the truth never saturates, and a limit that cannot fail is never ``ok``.

Issue 23: with the symmetric ``‖a − t‖ / max(‖a‖, ‖t‖)``, a TF gradient 93,750x too large scored
1.000011 and passed a limit of 1.57. These tests pin the truth-relative error, the norm check,
the ``unjudged`` status and the upgrade of pairs tables written before them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from wgan_parity.compare import metrics, thresholds, verdict
from wgan_parity.report import pairs_upgrade

TH = thresholds.load()
RNG = np.random.default_rng(23)
TRUTH = RNG.standard_normal(4096)


def _side(label: str, err: float, ratio: float, limit: float) -> verdict.Side:
    side = thresholds.SideLimit(noise_factor=1.0, rel_l2_floor=limit)
    return verdict.Side(label, err=err, limit=side, norm_ratio=ratio)


TRUTH_SIDE = verdict.Side("reference", is_truth=True, err=0.0, norm_ratio=1.0)
ILL = verdict.Truth(1e-3, (2,))  # non-degenerate: below degenerate_noise_rel_l2


@pytest.mark.parametrize("scale", [93_750.0, 3.0, 1 / 3, 0.0])
def test_the_error_against_the_truth_grows_with_a_wrong_scale(scale: float) -> None:
    x = TRUTH * scale
    assert metrics.rel_err(x, TRUTH) == pytest.approx(abs(scale - 1.0), rel=1e-12)
    assert metrics.norm_ratio(x, TRUTH) == pytest.approx(scale, rel=1e-12)
    assert metrics.rel_l2(x, TRUTH) <= 1.0  # the symmetric one saturates: why it is not used


def test_pair_metrics_give_the_same_truth_relative_error_as_the_plain_function() -> None:
    x = (TRUTH * 2022.9 + RNG.standard_normal(TRUTH.size)).astype(np.float32)
    pm = metrics.compare_pair(x, TRUTH, metrics.default_floor(TRUTH))
    assert pm.rel_err_a() == pytest.approx(metrics.rel_err(x, TRUTH), rel=1e-12)
    assert pm.norm_ratio_a() == pytest.approx(metrics.norm_ratio(x, TRUTH), rel=1e-12)


def test_an_unrelated_or_zero_result_scores_about_one_and_sqrt_two() -> None:
    other = RNG.standard_normal(TRUTH.size)
    other *= np.linalg.norm(TRUTH) / np.linalg.norm(other)
    assert metrics.rel_err(np.zeros_like(TRUTH), TRUTH) == 1.0
    assert metrics.rel_err(other, TRUTH) == pytest.approx(math.sqrt(2.0), rel=0.05)
    assert metrics.rel_err(np.zeros(3), np.zeros(3)) == 0.0
    assert metrics.rel_err(np.ones(3), np.zeros(3)) == math.inf


@pytest.mark.parametrize(
    ("scale", "angle"), [(1.0, 0.5), (3.0, 10.0), (0.33, 40.0), (93_750.0, 179.0), (1.001, 0.01)]
)
def test_the_norm_ratio_is_recovered_from_a_legacy_row(scale: float, angle: float) -> None:
    """Old tables record the symmetric error, the cosine distance and the mean |values|."""
    ortho = RNG.standard_normal(TRUTH.size)
    ortho -= ortho @ TRUTH / (TRUTH @ TRUTH) * TRUTH
    ortho *= np.linalg.norm(TRUTH) / np.linalg.norm(ortho)
    theta = math.radians(angle)
    x = scale * (math.cos(theta) * TRUTH + math.sin(theta) * ortho)
    s, d = metrics.rel_l2(x, TRUTH), metrics.cosine_distance(x, TRUTH)
    hint = metrics.abs_mean(x) / metrics.abs_mean(TRUTH)
    s, d = float(f"{s:.6e}"), float(f"{d:.6e}")  # as pairs.csv stores them
    ratio = metrics.norm_ratio_from_symmetric(s, d, hint)
    err = metrics.rel_err_from_pair(s, ratio)
    precision = 2e-3 if scale < 1e3 else 0.05  # 7 stored digits of rel_l2 ~ 1 - 1/scale
    assert err == pytest.approx(metrics.rel_err(x, TRUTH), rel=precision)
    if s >= 1e-3:
        assert ratio == pytest.approx(scale, rel=precision)


def test_a_result_far_too_large_is_diverged_whatever_its_limit() -> None:
    tf = _side("tf-2.21.0", err=93_749.0, ratio=93_750.0, limit=1.574)
    v = verdict.judge(tf, TRUTH_SIDE, 1.000011, ILL, TH)
    assert (v.status, v.blame) == ("diverged", "tf-2.21.0")
    assert verdict.NORM_NOTE in v.note


def test_a_result_a_third_of_the_truth_is_diverged_under_a_loose_limit() -> None:
    tf = _side("tf-2.21.0", err=0.673, ratio=0.33, limit=1.32)
    assert verdict.judge(tf, TRUTH_SIDE, 0.673, ILL, TH).status == "diverged"


def test_a_limit_that_cannot_fail_makes_the_row_unjudged_never_ok() -> None:
    tf = _side("tf-2.21.0", err=0.3, ratio=0.9, limit=1.5)
    v = verdict.judge(tf, TRUTH_SIDE, 0.3, ILL, TH)
    assert (v.status, v.blame, v.known) == ("unjudged", "tf-2.21.0", "")
    assert verdict.UNJUDGED_NOTE in v.note
    just_below = _side("tf-2.21.0", err=0.3, ratio=0.9, limit=0.99)
    assert verdict.judge(just_below, TRUTH_SIDE, 0.3, ILL, TH).status == "ok"


def test_a_known_rule_never_excuses_an_unjudged_side() -> None:
    rule = thresholds.Rule(reason="r", known=True, name="n", max_err=10.0)
    side = replace(_side("tf", 0.3, 0.9, 1.5).limit, known="r", known_rule=rule)  # type: ignore[arg-type]
    tf = verdict.Side("tf", err=0.3, limit=side, norm_ratio=0.9)
    v = verdict.judge(tf, TRUTH_SIDE, 0.3, ILL, TH)
    assert (v.status, v.known) == ("unjudged", "")


def test_two_envs_off_by_the_same_wrong_norm_are_not_a_consistent_ok_pair() -> None:
    a = _side("tf-2.20.0", err=9.0, ratio=10.0, limit=0.5)
    b = _side("tf-2.21.0", err=9.0, ratio=10.0, limit=0.5)
    v = verdict.judge(a, b, 1e-7, ILL, TH)
    assert (v.status, v.blame) == ("diverged", "tf-2.20.0;tf-2.21.0")


def test_a_degenerate_truth_stays_degenerate_whatever_the_norm() -> None:
    tf = _side("tf", err=1e9, ratio=1e9, limit=1e-6)
    flat = verdict.Truth(0.26, (2,))
    assert verdict.judge(tf, TRUTH_SIDE, 1.0, flat, TH).status == "degenerate"


def test_the_norm_limit_must_be_a_factor_above_one() -> None:
    data = thresholds.tomllib.loads(thresholds.DEFAULT_FILE.read_text())
    data["verdict"]["norm_ratio_max"]["value"] = 1.0
    with pytest.raises(thresholds.ThresholdsError, match="norm_ratio_max"):
        thresholds.parse(data)


def test_a_legacy_pairs_table_is_upgraded_to_truth_relative_errors() -> None:
    x = TRUTH * 93_750.0 * -1.0  # 180 degrees and far too large
    row = {
        "case": "c",
        "tensor": "grad/s",
        "env_a": "tf",
        "env_b": "reference",
        "status": "ok",
        "rel_l2": f"{metrics.rel_l2(x, TRUTH):.6e}",
        "cosine_distance": f"{metrics.cosine_distance(x, TRUTH):.6e}",
        "abs_mean_a": f"{metrics.abs_mean(x):.6e}",
        "abs_mean_b": f"{metrics.abs_mean(TRUTH):.6e}",
        "err_a": f"{metrics.rel_l2(x, TRUTH):.6e}",
        "err_b": "0.000000e+00",
        "limit_a": "1.574",
        "dtype_b": "float64",
    }
    raw = pd.DataFrame([row])
    assert pairs_upgrade.is_legacy(raw)
    new = pairs_upgrade.upgrade(raw)
    assert not pairs_upgrade.is_legacy(new)
    assert float(new.loc[0, "err_a"]) == pytest.approx(93_751.0, rel=0.05)
    assert float(new.loc[0, "norm_ratio_a"]) == pytest.approx(93_750.0, rel=0.05)
    assert (new.loc[0, "err_b"], new.loc[0, "norm_ratio_b"]) == ("0.000000e+00", "1.000000e+00")
    assert list(new.columns).index("norm_ratio_a") == list(new.columns).index("err_b") + 1
    assert pairs_upgrade.upgrade(new) is new  # already current: untouched
