"""Heatmaps, summary.md, the known-divergence matcher and ``wgan-parity report``, on synthetic rows.

No framework runs here: pairs tables are built by hand (or aggregated from synthetic dumps), so
each test controls exactly which rows diverge.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import pandas as pd
import pytest

from wgan_parity.cli import main
from wgan_parity.compare import localize, thresholds, verdict
from wgan_parity.compare.traits import EnvTraits
from wgan_parity.core.catalog import CATALOG
from wgan_parity.dump import synthetic
from wgan_parity.dump.meta import catalog_info
from wgan_parity.report import cases as report_cases
from wgan_parity.report import heatmap, regress, resultset, summary

PNG = b"\x89PNG\r\n\x1a\n"
CASES = (
    ("conv2d.probe", "out"),
    ("conv2d.probe", "grad/w"),
    ("residual_down.probe", "out"),
    ("residual_down.probe", "tap/conv1"),
    ("layer_norm.seed", "seedgrad/x"),
)


def _row(case: str, tensor: str, a: str, b: str, err_a: float, err_b: float, **extra) -> Dict:
    limit = 1e-5
    row = {
        "case": case,
        "tensor": tensor,
        "env_a": a,
        "env_b": b,
        "status": "ok",
        "blame": "",
        "closer": "",
        "known": "",
        localize.COLUMN: "",
        "ill_conditioned": False,
        "seed_ok": True,
        "cosine_distance": 1e-12,
        "rel_l2": abs(err_a - err_b) or 1e-9,
        "err_a": err_a,
        "err_b": err_b,
        "limit_a": limit,
        "limit_b": math.nan if b == "reference" else limit,
        "noise_rel_l2": 3e-7,
        "abs_mean_a": 1.0,
        "abs_mean_b": 1.0,
        "shape_a": "2x3",
        "shape_b": "2x3",
        "dtype_a": "float32",
        "dtype_b": "float64" if b == "reference" else "float32",
        "note": "",
    }
    off = [s for s, e in ((a, err_a), (b, err_b)) if e > limit]
    if off:
        row.update(status="diverged", blame=";".join(off))
    row.update(extra)
    return row


def _envs_frame(labels: Sequence[str]) -> pd.DataFrame:
    rows = []
    for label in labels:
        framework = (
            "reference"
            if label == "reference"
            else ("tensorflow" if label.startswith("tf-") else "torch")
        )
        rows.append(
            {
                "env": label,
                "role": "truth" if label == "reference" else "env",
                "status": "ok",
                "framework": framework,
                "framework_version": label.split("-", 1)[-1],
            }
        )
    return pd.DataFrame(rows)


def _results(labels: Sequence[str], folder: Path, bad: Dict[str, float]) -> resultset.Results:
    """Every pair of ``labels`` on :data:`CASES`; ``bad`` gives envs an error on every tensor."""
    rows: List[Dict] = []
    ordered = [e for e in labels if e != "reference"] + ["reference"]
    for case, tensor in CASES:
        for a, b in itertools.combinations(ordered, 2):
            rows.append(
                _row(
                    case,
                    tensor,
                    a,
                    b,
                    bad.get(a, 1e-7),
                    0.0 if b == "reference" else bad.get(b, 1e-7),
                )
            )
    recorded = report_cases.from_infos(catalog_info(CATALOG))  # as aggregate records them
    return resultset.from_frames(pd.DataFrame(rows), _envs_frame(labels), folder, recorded)


def _tf_torch(n: int) -> List[str]:
    tf = [f"tf-2.{k}.0" for k in range(2, 2 + n // 2)]
    torch = [f"torch-2.{k}.1" for k in range(0, n - n // 2 - 1)]
    return [*torch, *tf, "reference"]


def test_envs_are_ordered_by_framework_then_numeric_version():
    labels = ["torch-2.10.0", "tf-2.9.1", "reference", "torch-2.9.1", "tf-2.12.1", "my_port"]
    order = resultset.order_envs(labels, _envs_frame(labels[:-1]), truth="reference")
    assert order == ["reference", "tf-2.9.1", "tf-2.12.1", "torch-2.9.1", "torch-2.10.0", "my_port"]
    assert resultset.version_key("2.13.0+cpu") == (2, 13, 0)


@pytest.mark.parametrize("n", [3, 26])
def test_heatmap_axes_and_size_follow_the_env_list(n, tmp_path):
    res = _results(_tf_torch(n), tmp_path, {})
    assert len(res.order) == n
    fig = heatmap.pairs_figure(res, "layer")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == res.order
    assert [t.get_text() for t in ax.get_xticklabels()] == res.order
    ref = heatmap.reference_figure(res)
    assert [t.get_text() for t in ref.axes[0].get_yticklabels()] == res.others
    width, height = fig.get_size_inches()
    # cells keep at least 0.3 inch and fonts never shrink: 26 envs stay legible
    assert width >= 0.3 * n
    assert height >= 0.3 * n
    assert all(t.get_fontsize() >= 8 for t in ax.get_xticklabels())


def test_heatmap_grows_with_env_count(tmp_path):
    small = heatmap.pairs_figure(_results(_tf_torch(6), tmp_path, {}), "layer")
    large = heatmap.pairs_figure(_results(_tf_torch(30), tmp_path, {}), "layer")
    assert all(large.get_size_inches() > small.get_size_inches())


def test_pngs_are_written_and_a_regressed_release_is_a_bright_row(tmp_path):
    labels = _tf_torch(8)
    res = _results(labels, tmp_path, {"tf-2.4.0": 1e-2})
    paths = heatmap.write(res, tmp_path)
    names = {p.name for p in paths}
    assert {
        "heatmap_pairs_layer.png",
        "heatmap_pairs_residual.png",
        "heatmap_pairs_norm.png",
        "heatmap_vs_reference.png",
    } <= names
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG), path
        assert len(data) > 5000, path
    image = heatmap.reference_figure(res).axes[0].images[0].get_array()
    row = res.others.index("tf-2.4.0")
    assert image[row].min() > 2.5, "the regressed env is not bright on every case"
    others = np.delete(np.asarray(image), row, axis=0)
    assert others.max() < 0.0


def test_summary_lists_every_divergent_row(tmp_path):
    res = _results(_tf_torch(6), tmp_path, {"tf-2.3.0": 1e-3, "torch-2.1.1": 2e-2})
    text = summary.render(res, thresholds.load())
    lines = text.splitlines()
    bad = res.pairs[res.pairs["status"] == "diverged"]
    assert len(bad) > 10
    for row in bad.itertuples():
        for side in row.blame.split(";"):
            other = row.env_b if row.env_a == side else row.env_a
            hit = [
                ln
                for ln in lines
                if f"`{row.case}/{row.tensor}`" in ln and f"`{side}`" in ln and f"`{other}`" in ln
            ]
            assert hit, f"no summary line for {row.case}/{row.tensor} {side} vs {other}"
    assert "**unexplained**" in text
    assert "(seed: LayerNorm-Backward)" in text


def test_summary_shows_release_steps_and_bisection(tmp_path):
    res = _results(_tf_torch(6), tmp_path, {"tf-2.3.0": 1e-3})
    extras = summary.Extras(steps=regress.steps(res), bisect=regress.bisect(res))
    text = summary.render(res, thresholds.load(), extras=extras)
    section = text.split("## Across releases", 1)[1].split("\n## ", 1)[0]
    assert "| `tf-2.3.0` | `tf-2.2.0` |" in section
    assert "tensors changed beyond their limit" in section
    assert "| tensorflow | tf-2.3.0 | tf-2.2.0 |" in section  # the bisection names the release


def test_summary_stays_under_100_kb(tmp_path):
    rows = [
        _row(f"case{k}.probe", f"grad/p{j}", "torch-2.0.1", "reference", 1.0, 0.0)
        for k in range(400)
        for j in range(60)
    ]
    res = resultset.from_frames(
        pd.DataFrame(rows), _envs_frame(["torch-2.0.1", "reference"]), tmp_path
    )
    text = summary.render(res)
    assert len(text.encode("utf-8")) < summary.MAX_BYTES == 100_000
    assert re.search(r"\n\.\.\. \d+ more lines: see pairs.csv or report.html", text)
    assert text.startswith(
        "# wgan-parity: FAIL\n\n**FAIL: 24000 unexplained divergent rows in 1 env (400 causes)"
    )


def test_known_rule_labels_a_matching_row_with_its_reference(tmp_path):
    rule = {
        "case": ["depth_to_space.*", "upsample_conv.*"],
        "backend": "mine.port_crd",
        "known": True,
        "name": "dcr-crd",
        "max_err": 1.5,
        "reason": "DCR vs CRD",
        "reference": "https://example.org/dcr",
    }
    base = thresholds.load()
    th = thresholds.parse(
        {
            "schema": 1,
            "verdict": {
                name: {"value": getattr(base, name), "reason": "r"} for name in thresholds.SETTINGS
            },
            "rule": [rule],
        }
    )
    port = EnvTraits("port-crd", "torch", ("torch", "mine.port_crd"))
    assert th.side("upsample_conv.probe", "out", port).known == "DCR vs CRD"
    assert th.side("upsample_conv.probe", "out", EnvTraits("torch-2.13.0", "torch")).known == ""
    rows = [
        _row("upsample_conv.probe", "out", "port-crd", "reference", 1.0, 0.0),
        _row("conv2d.probe", "out", "port-crd", "reference", 1.0, 0.0),
        _row("depth_to_space.probe", "out", "port-crd", "reference", 1.9, 0.0),
    ]
    envs = _envs_frame(["port-crd", "reference"]).assign(backend=["mine.port_crd", "reference"])
    res = resultset.from_frames(pd.DataFrame(rows), envs, tmp_path)
    resultset.rejudge(res, th)
    assert list(res.pairs["known"]) == ["DCR vs CRD", "", ""]
    assert list(res.pairs["status"]) == ["diverged"] * 3  # labelled, not hidden
    beyond = res.pairs["note"].iloc[2]
    assert "beyond the bound 1.5 of known rule 'dcr-crd'" in beyond  # 1.9 is not what it explains
    text = summary.render(res, th)
    assert "known (K1)" in text
    assert "https://example.org/dcr" in text


def test_checked_in_known_divergences_are_narrow():
    th = thresholds.load()
    known = [r for r in th.rules if r.known]
    assert all(r.reference for r in known if r.reason.startswith(("depth_to_space", "eps")))
    torch = EnvTraits("torch-2.13.0+cpu", "torch", ("torch",))
    assert th.side("depth_to_space.probe", "out", torch).known == ""
    seed_port = EnvTraits("seed_port_v0@torch-2", "torch", ("torch", "seed_port_v0"))
    assert "square root" in th.side("layer_norm.seed", "seedgrad/x", seed_port).known
    tf32 = EnvTraits("torch-2.13.0-tf32", "torch", ("torch",), switches=(("tf32", True),))
    assert "TensorFloat-32" in th.side("conv2d.seed", "out", tf32).known
    tf = EnvTraits("tf-2.21.0", "tensorflow", ("tensorflow",))
    assert th.side("conv2d.seed", "out", tf).known == ""
    named = EnvTraits("my_port-crd-tf32", "torch", ("torch", "my_port"))
    assert th.side("depth_to_space.probe", "out", named).known == ""  # names inherit nothing
    assert th.side("conv2d.seed", "out", named).known == ""


def test_rejudge_matches_the_aggregate_verdict(tmp_path):
    res = _results(_tf_torch(4), tmp_path, {"tf-2.2.0": 1e-3})
    before = res.pairs[["status", "blame"]].copy()
    resultset.rejudge(res, thresholds.load())
    pd.testing.assert_frame_equal(res.pairs[["status", "blame"]], before)
    assert all(
        verdict.is_divergence(s, k) == (s == "diverged")
        for s, k in zip(res.pairs["status"], res.pairs["known"])
    )


def _synthetic_dumps(folder: Path) -> List[Path]:
    rng = np.random.default_rng(0)
    keys = (
        "residual_down.probe/out",
        "residual_down.probe/tap/shortcut",
        "residual_down.probe/tap/conv1",
        "conv2d.probe/out",
    )
    truth = {k: rng.standard_normal(64) for k in keys}
    noise = {k: {"rel_l2": 1e-7, "max_abs": 1e-7} for k in keys}
    paths = [
        synthetic.write(
            folder / "reference.npz",
            "reference",
            truth,
            synthetic.FakeEnv(framework="reference", dtype="float64", noise=noise),
        )
    ]
    good = {k: v.astype(np.float32) for k, v in truth.items()}
    broken = dict(good)
    for key in ("residual_down.probe/tap/conv1", "residual_down.probe/out"):
        broken[key] = (truth[key] * 1.01).astype(np.float32)
    torch = synthetic.FakeEnv(framework="torch")
    tensorflow = synthetic.FakeEnv(framework="tensorflow")
    paths.append(synthetic.write(folder / "good.npz", "torch-2.13.0", good, torch))
    paths.append(synthetic.write(folder / "bad.npz", "tf-2.21.0", broken, tensorflow))
    return paths


def test_aggregate_ends_with_pictures_summary_and_taps(tmp_path):
    dumps = _synthetic_dumps(tmp_path)
    out = tmp_path / "out"
    assert main(["aggregate", *map(str, dumps), "--out", str(out), "--quiet"]) & 1
    df = pd.read_csv(out / "pairs.csv", keep_default_na=False, dtype=str)
    bad = df[(df.status == "diverged") & (df.case == "residual_down.probe")]
    assert set(bad[localize.COLUMN]) == {"conv1"}
    assert (out / "summary.md").stat().st_size > 0
    assert (out / "heatmap_vs_reference.png").read_bytes().startswith(PNG)
    text = (out / "summary.md").read_text()
    assert "| `residual_down.probe/out` | diverged | `tf-2.21.0` |" in text
    assert "| conv1 |" in text


def test_report_command_redoes_outputs_with_new_thresholds(tmp_path):
    dumps = _synthetic_dumps(tmp_path)
    out = tmp_path / "out"
    main(["aggregate", *map(str, dumps), "--out", str(out), "--quiet"])
    for png in out.glob("*.png"):
        png.unlink()
    (out / "summary.md").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "summary.md").exists()
    assert list(out.glob("heatmap_*.png"))
    assert "**unexplained**" in (out / "summary.md").read_text()
    relaxed = thresholds.DEFAULT_FILE.read_text() + (
        '\n[[rule]]\nenv_id = "tf-2.21.0"\nknown = true\nname = "synthetic"\nmax_err = 0.05\n'
        'reason = "synthetic 1% scale"\n'
    )
    (tmp_path / "relaxed.toml").write_text(relaxed)
    assert main(["report", str(out), "--thresholds", str(tmp_path / "relaxed.toml")]) == 0
    text = (out / "summary.md").read_text()
    assert "**unexplained**" not in text
    assert "synthetic 1% scale" in text
    assert "relaxed.toml" in text
    assert main(["report", str(tmp_path / "nowhere")]) == 2
