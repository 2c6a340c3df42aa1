"""The checked-in thresholds file and the rules of the loader."""

from __future__ import annotations

import pytest

from wgan_parity import thresholds
from wgan_parity.thresholds import ThresholdsError

GOOD = {
    "schema": 1,
    "verdict": {name: {"value": 1.0, "reason": "because"} for name in thresholds.SETTINGS},
}


def test_checked_in_file_loads_and_every_setting_has_a_reason():
    th = thresholds.load()
    assert th.seed_cosine == 1.5e-4
    assert th.noise_factor > 1
    assert 0 < th.rel_l2_floor < 1e-4
    assert th.ill_conditioned_noise_rel_l2 < th.degenerate_noise_rel_l2


def test_missing_reason_is_refused():
    data = {"schema": 1, "verdict": {**GOOD["verdict"], "seed_cosine": {"value": 1.0}}}
    with pytest.raises(ThresholdsError, match="reason"):
        thresholds.parse(data)


def test_rule_without_reason_or_with_unknown_key_is_refused():
    with pytest.raises(ThresholdsError, match="reason"):
        thresholds.parse({**GOOD, "rule": [{"case": "x", "known": True}]})
    with pytest.raises(ThresholdsError, match="unknown keys"):
        thresholds.parse({**GOOD, "rule": [{"case": "x", "reason": "r", "tolerance": 3}]})


def test_missing_setting_and_wrong_schema_are_refused():
    data = {"schema": 1, "verdict": dict(GOOD["verdict"])}
    del data["verdict"]["noise_factor"]
    with pytest.raises(ThresholdsError, match="noise_factor"):
        thresholds.parse(data)
    with pytest.raises(ThresholdsError, match="schema"):
        thresholds.parse({**GOOD, "schema": 2})


def test_rules_match_globs_and_first_match_wins():
    rules = [
        {
            "case": "conv2d.*",
            "tensor": "grad/*",
            "env": "torch-*",
            "noise_factor": 100.0,
            "reason": "a",
        },
        {
            "case": "conv2d.*",
            "noise_factor": 7.0,
            "rel_l2_floor": 1e-3,
            "known": True,
            "reason": "b",
        },
    ]
    th = thresholds.parse({**GOOD, "rule": rules})
    side = th.side("conv2d.seed", "grad/w", "torch-2.13.0")
    assert (side.noise_factor, side.rel_l2_floor, side.known) == (100.0, 1e-3, "b")
    other = th.side("conv2d.seed", "out", "tf-2.21.0")
    assert (other.noise_factor, other.known) == (7.0, "b")
    plain = th.side("batch_norm.seed", "out", "tf-2.21.0")
    assert (plain.noise_factor, plain.rel_l2_floor, plain.known) == (1.0, 1.0, "")


def test_limit_is_noise_times_factor_with_a_floor():
    side = thresholds.SideLimit(noise_factor=32.0, rel_l2_floor=1e-6)
    assert side.limit(1e-7) == pytest.approx(3.2e-6)
    assert side.limit(1e-9) == 1e-6
    assert side.limit(float("nan")) == 1e-6
