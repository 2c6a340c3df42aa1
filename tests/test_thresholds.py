"""The checked-in thresholds file and the rules of the loader."""

from __future__ import annotations

import pytest

from wgan_parity.compare import thresholds
from wgan_parity.compare.thresholds import ThresholdsError
from wgan_parity.compare.traits import EnvTraits

TORCH = EnvTraits("torch-2.13.0", "torch", ("torch",), "avx512", (("device", "cpu"),))
TF = EnvTraits("tf-2.21.0", "tensorflow", ("tensorflow",), "avx512", (("onednn", True),))
TF_PORT = EnvTraits("tf-2.21.0-mine", "tensorflow", ("tensorflow", "mine.port"), "avx512")
TF_ONEDNN_OFF = EnvTraits("x", "tensorflow", ("tensorflow",), "avx512", (("onednn", False),))

GOOD = {
    "schema": 1,
    "verdict": {
        name: {"value": 2.0 if name == "norm_ratio_max" else 1.0, "reason": "because"}
        for name in thresholds.SETTINGS
    },
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
        thresholds.parse({**GOOD, "rule": [{"case": "x", "known": True, "max_err": 1.0}]})
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
            "framework": "torch",
            "noise_factor": 100.0,
            "reason": "a",
        },
        {
            "case": "conv2d.*",
            "noise_factor": 7.0,
            "rel_l2_floor": 1e-3,
            "known": True,
            "name": "b",
            "max_err": 0.5,
            "reason": "b",
        },
    ]
    th = thresholds.parse({**GOOD, "rule": rules})
    side = th.side("conv2d.seed", "grad/w", TORCH)
    assert (side.noise_factor, side.rel_l2_floor, side.known) == (100.0, 1e-3, "b")
    other = th.side("conv2d.seed", "out", TF)
    assert (other.noise_factor, other.known) == (7.0, "b")
    plain = th.side("batch_norm.seed", "out", TF)
    assert (plain.noise_factor, plain.rel_l2_floor, plain.known) == (1.0, 1.0, "")


def _known(**extra):
    return {"known": True, "name": "k", "reason": "r", **extra}


def test_a_known_rule_without_a_finite_bound_is_refused():
    with pytest.raises(ThresholdsError, match="must state the size"):
        thresholds.parse({**GOOD, "rule": [_known()]})
    with pytest.raises(ThresholdsError, match="finite"):
        thresholds.parse({**GOOD, "rule": [_known(max_err=float("inf"))]})
    with pytest.raises(ThresholdsError, match="name"):
        thresholds.parse({**GOOD, "rule": [{"known": True, "max_err": 1.0, "reason": "r"}]})
    with pytest.raises(ThresholdsError, match="add known = true"):
        thresholds.parse({**GOOD, "rule": [{"max_err": 1.0, "reason": "r"}]})
    rule = thresholds.parse({**GOOD, "rule": [_known(max_err=0.1, max_over_limit=10.0)]}).rules[0]
    assert rule.bound(1e-3) == pytest.approx(1e-2)  # the tighter of the two
    assert rule.bound(1.0) == pytest.approx(0.1)
    kernel = _known(max_err=0.1, max_over_clean=4.0)
    rule = thresholds.parse({**GOOD, "rule": [kernel]}).rules[0]
    assert rule.bound(1.0, largest_clean=1e-5) == pytest.approx(4e-5)  # 4x what clean kernels do
    assert rule.bound(1.0) == pytest.approx(0.1)  # kernels never measured: max_err alone
    assert rule.bound(1.0, largest_clean=0.0, floor=1e-6) == pytest.approx(4e-6)


def test_every_checked_in_known_rule_is_bounded_below_a_lost_tensor():
    known = [r for r in thresholds.load().rules if r.known]
    assert known
    assert all(r.name for r in known)
    assert all(r.max_err is not None or r.max_over_limit is not None for r in known)
    assert len({r.name for r in known}) == len(known), "known rule names must be unique"


def test_rules_match_what_an_env_runs_not_its_name():
    th = thresholds.parse(
        {
            **GOOD,
            "rule": [
                _known(framework="tensorflow", flags={"onednn": False}, max_err=0.3, name="off"),
                _known(framework="tensorflow", builtin=True, max_err=0.1, name="kernels"),
                _known(backend="mine.*", builtin=False, max_err=0.2, name="semantic"),
            ],
        }
    )
    assert th.side("c", "out", TF).known_rule.name == "kernels"
    assert th.side("c", "out", TF_ONEDNN_OFF).known_rule.name == "off"
    assert th.side("c", "out", TF_PORT).known_rule.name == "semantic"
    named_like_tf = EnvTraits("tf-2.21.0", "torch", ("torch", "other.port"))
    assert th.side("c", "out", named_like_tf).known_rule is None  # a label inherits nothing
    with pytest.raises(ThresholdsError, match="env_id"):
        thresholds.parse({**GOOD, "rule": [{"env": "tf-*", "reason": "r"}]})
    by_id = thresholds.parse(
        {**GOOD, "rule": [{"env_id": "tf-*", "noise_factor": 3, "reason": "r"}]}
    )
    assert by_id.side("c", "out", named_like_tf).noise_factor == 3  # the explicit opt-in


def test_a_port_on_tf_inherits_tf_kernel_rules_but_no_semantic_rule():
    th = thresholds.load()
    kernel = th.side("batch_norm.random", "out", TF_PORT)
    assert kernel.known_rule is not None
    assert kernel.known_rule.framework == "tensorflow"
    seed_port = EnvTraits("p", "torch", ("torch", "seed_port_v0"))
    assert (
        th.side("layer_norm.seed", "seedgrad/x", seed_port).known_rule.name
        == "port-eps-outside-sqrt"
    )
    assert th.side("layer_norm.seed", "seedgrad/x", TORCH).known_rule is None
    assert th.side("layer_norm.seed", "seedgrad/x", TF_PORT).known_rule is None


def test_limit_is_noise_times_factor_with_a_floor():
    side = thresholds.SideLimit(noise_factor=32.0, rel_l2_floor=1e-6)
    assert side.limit(1e-7) == pytest.approx(3.2e-6)
    assert side.limit(1e-9) == 1e-6
    assert side.limit(float("nan")) == 1e-6


def test_only_a_known_rule_can_be_a_lottery():
    rule = thresholds.parse({**GOOD, "rule": [_known(max_err=1.0, lottery=True)]}).rules[0]
    assert rule.lottery
    assert rule.known
    with pytest.raises(ThresholdsError, match="add known = true"):
        thresholds.parse({**GOOD, "rule": [{"lottery": True, "reason": "r"}]})
    with pytest.raises(ThresholdsError, match="true or false"):
        thresholds.parse({**GOOD, "rule": [_known(max_err=1.0, lottery="yes")]})
    for shipped in (rule for rule in thresholds.load().rules if rule.lottery):
        assert "lottery" in shipped.reason.lower(), f"{shipped.name}: say which machines need it"
