"""Reduced precision: the rounding, the policy in each real framework, the limits, the rules.

A bfloat16 or float16 dump runs the real framework under its mixed-precision policy (torch's
autocast; the ops cast as Keras' mixed policy for TF and JAX), records what it ran, and is judged
against the reference's noise at that precision, never the float32 noise; a precision rule cannot
excuse a float32 env.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

from wgan_parity.backends import BackendError, load_backend
from wgan_parity.compare import thresholds, traits
from wgan_parity.compare.verdict import DIVERGED, OK, UNJUDGED, Side, Truth, judge
from wgan_parity.core import precision
from wgan_parity.core.catalog import select
from wgan_parity.core.flags import Flags
from wgan_parity.dump.catalog_dump import DumpRequest, write_catalog_dump
from wgan_parity.dump.dumpfile import DumpReader

CASE = "conv2d.probe"
RESIDUAL = "residual_up.probe"


def test_bfloat16_rounding_matches_ml_dtypes() -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(100_000) * 10.0 ** rng.integers(-30, 30, 100_000)).astype(np.float32)
    x[:4] = [0.0, -0.0, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8]  # ties: to even
    expected = x.astype(ml_dtypes.bfloat16).astype(np.float32)
    np.testing.assert_array_equal(precision.round_to(x, "bfloat16"), expected)
    small = np.clip(x[:1000], -6e4, 6e4)  # float16's range
    np.testing.assert_array_equal(precision.round_to(small, "float16"), small.astype(np.float16))


def test_unknown_precision_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"expected one of \['float32', 'bfloat16', 'float16'\]"):
        Flags(precision="bf16")


def test_the_truth_never_runs_reduced() -> None:
    with pytest.raises(BackendError, match="float64 truth"):
        load_backend("reference", Flags(precision="bfloat16"))


def _dump(tmp_path: Path, backend: str, name: str, **request: object) -> Dict[str, np.ndarray]:
    out = tmp_path / f"{name}.npz"
    cases = tuple(select([CASE, RESIDUAL]))
    write_catalog_dump(DumpRequest(backend, out, cases, env_id=name, **request))  # type: ignore[arg-type]
    with DumpReader(out) as reader:
        tensors = {key: reader.get(key) for key in list(reader.keys())}
        tensors["__meta__"] = reader.meta  # type: ignore[assignment]
        tensors["__path__"] = out  # type: ignore[assignment]
    return tensors


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, np.ndarray]:
    """The reference with its bfloat16 and float16 noise measured."""
    return _dump(
        tmp_path_factory.mktemp("truth"),
        "reference",
        "reference",
        noise_mode="measure",
        noise_precisions=("bfloat16", "float16"),
    )


def _err(x: np.ndarray, t: np.ndarray) -> float:
    t = np.asarray(t, np.float64)
    return float(np.linalg.norm(np.asarray(x, np.float64) - t) / np.linalg.norm(t))


@pytest.mark.slow
@pytest.mark.parametrize("low", ["bfloat16", "float16"])
@pytest.mark.parametrize("backend", ["torch", "tensorflow", "jax"])
def test_a_real_framework_runs_reduced_and_records_it(
    backend: str, low: str, truth: Dict[str, np.ndarray], tmp_path: Path
) -> None:
    pytest.importorskip({"tensorflow": "tensorflow"}.get(backend, backend))
    got = _dump(tmp_path, backend, f"{backend}-{low}", flags=Flags(precision=low))
    meta = got["__meta__"]
    assert meta["flags"]["precision"] == low, meta["flags"]  # type: ignore[index]
    record = meta["cases"][RESIDUAL]  # type: ignore[index]
    assert record["status"] == "ok", record
    assert "own" not in record, "the shadow replay is a float32 measurement"
    assert record["dtypes"].get("tap/conv1") == low, record.get("dtypes")
    noise = meta_noise = truth["__meta__"]["precision_noise"][low]  # type: ignore[index]
    float32_noise = truth["__meta__"]["noise"][f"{CASE}/out"]["rel_l2"]  # type: ignore[index]
    unit = precision.UNIT_ROUNDOFF[low]
    for tensor in ("out", "grad/x", "grad/w"):
        key = f"{CASE}/{tensor}"
        err = _err(got[key], truth[key])
        reduced_noise = meta_noise[key]["rel_l2"]
        # the framework rounds as the policy says: its error is the precision's, not float32's
        assert unit / 8 < err < 64 * unit, (backend, low, key, err, unit)
        assert unit / 8 < reduced_noise < 16 * unit, (key, reduced_noise)
        assert err > 100 * float32_noise, (backend, low, key, err, float32_noise)
    assert noise is meta_noise


def _traits(label: str, low: str) -> traits.EnvTraits:
    return traits.EnvTraits(label, "tensorflow", ("tensorflow",), "avx2", (("precision", low),))


def test_a_reduced_env_is_its_own_kernel_class() -> None:
    assert _traits("a", "bfloat16").kernels.endswith(":bf16")
    assert _traits("b", "float16").kernels.endswith(":fp16")
    assert (
        _traits("c", "float32").kernels
        == traits.EnvTraits("c", "tensorflow", ("tensorflow",), "avx2").kernels
    )


def _limit(th: thresholds.Thresholds, env: traits.EnvTraits, noise: float) -> thresholds.SideLimit:
    side = th.side("conv2d.probe", "grad/x", env)
    if env.precision == "float32":
        return side
    return dataclasses.replace(side, precision=env.precision, precision_noise=noise)


def test_a_reduced_side_is_judged_by_its_precisions_noise_never_float32s() -> None:
    th = thresholds.load()
    truth = Truth(1e-7, (2, 2))
    reference = Side("reference", True, err=0.0)
    bf16 = _traits("tf-bf16", "bfloat16")
    measured = Side("tf-bf16", False, err=5e-3, limit=_limit(th, bf16, 2e-3))
    assert judge(measured, reference, 5e-3, truth, th).status == OK
    wrong = dataclasses.replace(measured, err=0.5)
    assert judge(wrong, reference, 0.5, truth, th).status == DIVERGED
    unmeasured = dataclasses.replace(measured, limit=_limit(th, bf16, math.nan))
    v = judge(unmeasured, reference, 5e-3, truth, th)
    assert v.status == UNJUDGED, v
    assert "--noise-precision bfloat16" in v.note, v
    f32 = _traits("tf", "float32")
    same_error = Side("tf", False, err=5e-3, limit=_limit(th, f32, 2e-3))
    assert judge(same_error, reference, 5e-3, truth, th).status == DIVERGED


RULE = """
[[rule]]
name = "bf16-loose"
reason = "a planted precision rule"
known = true
max_err = 0.5
flags = {precision = "%s"}
"""


def _with_rule(glob: str) -> thresholds.Thresholds:
    """The shipped thresholds plus one rule whose flags name ``precision = glob``."""
    text = thresholds.DEFAULT_FILE.read_text(encoding="utf-8") + RULE % glob
    return thresholds.parse(thresholds.tomllib.loads(text), "test")


@pytest.mark.parametrize("glob", ["*", "float*", "*32"])
def test_a_precision_rule_that_would_match_float32_is_refused(glob: str) -> None:
    with pytest.raises(thresholds.ThresholdsError, match="never excuses a float32 env"):
        _with_rule(glob)


def test_a_precision_rule_cannot_excuse_a_float32_env() -> None:
    th = _with_rule("bfloat16")
    truth = Truth(1e-7, (2, 2))
    reference = Side("reference", True, err=0.0)
    for env, expected in (
        (_traits("tf-bf16", "bfloat16"), True),
        (_traits("tf", "float32"), False),
    ):
        limit = _limit(th, env, 2e-3)
        assert (limit.known_rule is not None) is expected, env
        side = Side(env.label, False, err=0.3, limit=limit)
        v = judge(side, reference, 0.3, truth, th)
        assert (v.status == DIVERGED and not v.known) is not expected, (env, v)
    old = traits.EnvTraits("tf-old", "tensorflow", ("tensorflow",), "avx2")  # before the switch
    assert th.side("conv2d.probe", "grad/x", old).known_rule is None


def test_a_tensor_its_precision_cannot_resolve_is_unjudged_not_diverged() -> None:
    th = thresholds.load()
    truth = Truth(6e-5, (2, 2))  # float32 resolves it
    reference = Side("reference", True, err=0.0)
    bf16 = _traits("tf-bf16", "bfloat16")
    blurred = Side("tf-bf16", False, err=1.08, limit=_limit(th, bf16, 1.09), norm_ratio=2.08)
    v = judge(blurred, reference, 1.08, truth, th)
    assert v.status == UNJUDGED, v
    assert "bfloat16 does not resolve this tensor" in v.note, v
    f32 = _traits("tf", "float32")
    same = Side("tf", False, err=1.08, limit=_limit(th, f32, 1.09), norm_ratio=2.08)
    assert judge(same, reference, 1.08, truth, th).status == DIVERGED


@pytest.mark.slow
def test_an_aggregate_judges_a_reduced_env_by_its_precision_and_tables_it(
    truth: Dict[str, np.ndarray], tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    pd = pytest.importorskip("pandas")
    from wgan_parity.cli import main

    dumps = [truth["__path__"]]
    for low in ("float32", "bfloat16"):
        got = _dump(tmp_path, "torch", f"torch-{low}", flags=Flags(precision=low))
        dumps.append(got["__path__"])
    out = tmp_path / "results"
    code = main(["aggregate", *map(str, dumps), "--out", str(out), "--quiet"])
    pairs = pd.read_csv(out / "pairs.csv")
    vs_truth = pairs[pairs["env_b"] == "reference"].set_index(["env_a", "case", "tensor"])
    key = ("torch-bfloat16", CASE, "grad/x")
    row = vs_truth.loc[key]
    precision_noise = truth["__meta__"]["precision_noise"]["bfloat16"][f"{CASE}/grad/x"]  # type: ignore[index]
    assert row["precision_noise_a"] == pytest.approx(precision_noise["rel_l2"], rel=1e-6), row
    assert row["noise_limit_a"] == pytest.approx(32 * precision_noise["rel_l2"], rel=1e-6), row
    assert row["status"] == "ok", row
    f32 = vs_truth.loc[("torch-float32", CASE, "grad/x")]
    assert math.isnan(f32["precision_noise_a"]), f32
    assert f32["noise_limit_a"] < row["noise_limit_a"] / 1000, (f32, row)
    table = pd.read_csv(out / "precision.csv")
    assert set(table["precision"]) == {"float32", "bfloat16"}, table
    summary = (out / "summary.md").read_text()
    assert "## Precision: error against the truth" in summary
    assert code == 0, (code, summary[:2000])
