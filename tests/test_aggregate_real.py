"""``aggregate`` over real dumps of the three backends (the session's ``catalog_dumps``).

TensorFlow against PyTorch must come out clean on the catalog (``ok``, ``degenerate``, or a
divergence explained by a ``known`` rule of thresholds.toml), and a port whose only bug is a
1e-4 change of scale in one primitive, which cosine distance cannot see, must be ``diverged``
with the blame on it.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from wgan_parity import frameworks
from wgan_parity.cli import argv, main
from wgan_parity.core import isa

pytestmark = pytest.mark.frameworks
# unjudged: a limit that cannot fail is no divergence. On an AVX-512 (OpenBLAS SkylakeX) stack the
# seed-mode critic's norm1.scale gradients have a float32 noise of 0.011-0.05, a limit of 1 or more.
CLEAN = {"ok", "degenerate", "unjudged"}
REAL_OUT: list = []  # the folder of the `real` aggregate


def _pairs(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "pairs.csv", keep_default_na=False, dtype=str)


def _labels(out: Path) -> dict:
    """framework -> env label, from envs.csv."""
    envs = pd.read_csv(out / "envs.csv", keep_default_na=False, dtype=str)
    return dict(zip(envs.framework, envs.env))


@pytest.fixture(scope="module")
def real(catalog_dumps, tmp_path_factory) -> tuple:
    out = tmp_path_factory.mktemp("aggregate-real")
    files = [str(reader.path) for reader in catalog_dumps.values()]
    main(["aggregate", *files, "--out", str(out), "--quiet"])
    REAL_OUT.append(out)
    return _pairs(out), _labels(out)


def test_tensorflow_against_torch_is_clean(real):
    rows, labels = real
    tf, torch = labels["tensorflow"], labels["torch"]
    pair = rows[(rows.env_a.isin([tf, torch])) & (rows.env_b.isin([tf, torch]))]
    assert len(pair), f"no {tf} vs {torch} rows"
    bad = pair[~pair.status.isin(CLEAN) & ~((pair.status == "diverged") & (pair.known != ""))]
    detail = "\n".join(
        f"{r.case}/{r.tensor}: {r.status} blame={r.blame} err_a={r.err_a} err_b={r.err_b} "
        f"limit={r.limit_a} noise={r.noise_rel_l2} {r.note}"
        for r in bad.head(20).itertuples()
    )
    assert bad.empty, f"{len(bad)} of {len(pair)} {tf} vs {torch} rows are not clean:\n{detail}"


def test_every_env_against_the_truth_has_a_row_per_tensor(real):
    rows, labels = real
    truth_rows = rows[rows.env_b == labels["reference"]]
    per_env = truth_rows.groupby("env_a").size()
    compared = [labels[fw.name] for fw in frameworks.compared()]  # every registered framework
    assert sorted(per_env.index) == sorted(compared), per_env
    assert per_env.nunique() == 1, f"envs have different numbers of rows vs the truth: {per_env}"


SCALED_PORT = """
    BASE = "torch"
    from wgan_parity.backends import torch as _torch


    def conv2d(x, w, b=None):
        return _torch.conv2d(x, w, b) * (1 + 1e-4)
"""


def test_scale_only_bug_is_diverged_and_blamed(catalog_dumps, tmp_path):
    (tmp_path / "scaled_conv_port.py").write_text(textwrap.dedent(SCALED_PORT))
    dump = tmp_path / "scaled.npz"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = argv(
        "dump",
        *("--backend", "scaled_conv_port", "--out", dump, "--env-id", "scaled-port"),
        *("--cases", "conv2d.seed", "--quiet"),
    )
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "out"
    files = [str(catalog_dumps["reference"].path), str(catalog_dumps["torch"].path), str(dump)]
    code = main(["aggregate", *files, "--out", str(out), "--quiet"])
    df = _pairs(out)
    envs = pd.read_csv(out / "envs.csv", keep_default_na=False, dtype=str)
    truth = envs[envs.role == "truth"].env.iloc[0]
    torch_label = envs[(envs.framework == "torch") & (envs.env != "scaled-port")].env.iloc[0]
    out_rows = df[(df.case == "conv2d.seed") & (df.tensor == "out")]
    row = out_rows[(out_rows.env_a == "scaled-port") & (out_rows.env_b == truth)].iloc[0]
    assert (row.status, row.blame) == ("diverged", "scaled-port"), row.note
    assert row.seed_ok == "True", "a pure scale change should pass the seed's cosine criterion"
    assert float(row.err_a) == pytest.approx(1e-4, rel=0.05)
    pair = {"scaled-port", torch_label}
    versus = out_rows[out_rows.env_a.isin(pair) & out_rows.env_b.isin(pair)].iloc[0]
    assert (versus.status, versus.blame) == ("diverged", "scaled-port")
    assert code & 1


def test_envs_csv_names_the_kernel_isa_of_every_dump(real):
    envs = pd.read_csv(REAL_OUT[0] / "envs.csv", keep_default_na=False, dtype=str)
    assert len(envs) == 1 + len(frameworks.compared())  # the truth and every framework
    for env in envs.itertuples():
        assert env.isa == isa.kernel_isa(env.framework), env.env  # the ISA its kernels ran with
        assert env.cpu_isa == isa.cpu_class(isa.cpu_flags())


def test_never_less_sensitive_than_the_seed(real):
    """A row failing the seed's cosine criterion is never `ok` without a reason in the row:
    degenerate, ill-conditioned with the side closer to the truth named, or a bounded known
    rule (which keeps it `diverged`). Over the whole default set."""
    rows, _ = real
    failing = rows[rows.seed_ok == "False"]
    assert len(failing), "the default set has rows failing the seed's criterion (TF BatchNorm)"
    passed = failing[failing.status == "ok"]
    explained = (passed.ill_conditioned == "True") & (passed.closer != "")
    bad = passed[~explained]
    detail = bad[["case", "tensor", "env_a", "env_b", "cosine_distance", "err_a", "err_b"]]
    assert bad.empty, f"{len(bad)} rows fail the seed's criterion but pass:\n{detail.head(10)}"


def test_no_row_against_the_truth_passes_a_result_of_the_wrong_size(real):
    """Issue 23: the error against the truth does not saturate, and a side whose norm is 2x off
    is never `ok`. On AVX2, TF's seed-mode penalty gradient grad/res3.norm1.scale is 9.4e4x the
    truth's norm and its discriminator's grad/res1.norm1.scale 0.33x: both are `diverged`
    (a bounded known rule explains them); on AVX-512 likewise."""
    rows, labels = real
    against = rows[rows.env_b == labels["reference"]]
    ratio = against.norm_ratio_a.map(lambda v: float(v) if v else float("nan"))
    off = (ratio >= 2.0) | (ratio <= 0.5)
    assert not (off & (against.status == "ok")).any(), against[off].head().to_string()
    tf = against[against.env_a == labels["tensorflow"]]
    for case, tensor in (
        ("gradient_penalty.seed", "grad/res3.norm1.scale"),
        ("good_discriminator.seed", "grad/res1.norm1.scale"),
    ):
        row = tf[(tf.case == case) & (tf.tensor == tensor)].iloc[0]
        assert row.status in ("diverged", "unjudged"), (case, tensor, row.status, row.note)
        # never capped at 2; the CSV's 7 digits can round the equality case either way
        assert float(row.err_a) >= abs(float(row.norm_ratio_a) - 1.0) * (1 - 1e-6)
