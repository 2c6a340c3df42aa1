"""``wgan-parity selftest``: the planted bugs, the scoring rule, and one real end-to-end run.

The scoring tests build a small ``pairs.csv`` frame by hand (no framework, no dump), so each
column's rule is checked on rows whose right answer is known. The end-to-end test dumps one real
torch bug on one probe case and checks that the comparison catches, blames and localizes it.
"""

from __future__ import annotations

import fnmatch
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pandas as pd
import pytest

from wgan_parity import bugs
from wgan_parity.cli import argv
from wgan_parity.commands import selftest_dumps, selftest_plan
from wgan_parity.core.catalog import CATALOG
from wgan_parity.core.protocol import COMPOSITES, PRIMITIVES
from wgan_parity.dump import synthetic
from wgan_parity.dump.dumpfile import DumpReader
from wgan_parity.report import selftest, selftest_text

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

THRESHOLDS = Path(selftest.__file__).parents[1] / "data" / "thresholds.toml"
OVERRIDABLE = set(PRIMITIVES) | set(COMPOSITES)


# ---- the bug modules ------------------------------------------------------------------------


@pytest.mark.parametrize("name", bugs.names())
def test_bug_module_plants_exactly_one_override(name: str) -> None:
    module = bugs.load(name)
    assert module.BASE in ("torch", "tensorflow")
    assert (module.__doc__ or "").strip(), "the docstring names the bug and its source"
    own = [
        attr
        for attr in OVERRIDABLE
        if inspect.isfunction(getattr(module, attr, None))
        and getattr(module, attr).__module__ == module.__name__
    ]
    assert len(own) == 1, f"{name} overrides {own}; expected exactly one primitive or composite"
    foreign = [a for a in OVERRIDABLE if hasattr(module, a) and a not in own]
    assert not foreign, f"{name} exposes {foreign}: the backend loader would take them as overrides"


@pytest.mark.parametrize("bug", selftest_plan.load_bugs(), ids=lambda b: b.name)
def test_bug_declares_cases_and_first_taps(bug: selftest.Bug) -> None:
    for glob in bug.touches:
        assert any(fnmatch.fnmatchcase(c.name, glob) for c in CATALOG), f"{glob} matches no case"
    cases = selftest_plan.cases(bug)
    assert cases, "a bug must touch at least one affordable case"
    assert not any(selftest_plan.match(c, selftest_plan.EXPENSIVE) for c in cases)
    composite = [c for c in cases if c.startswith(("residual_", "good_"))]
    for case in composite:
        assert bug.expected_tap(case), f"no FIRST_TAP for {case}"
    assert {selftest.mode_of(c) for c in cases} <= set(selftest.MODES)


def test_bugs_cover_both_frameworks_and_many_classes() -> None:
    found = selftest_plan.load_bugs()
    bases = [b.base for b in found]
    assert len(found) >= 14
    assert bases.count("torch") >= 5
    assert bases.count("tensorflow") >= 5


def test_no_known_rule_excuses_a_bug_env() -> None:
    """Known rules match env ids by name (``*crd*``, ``*eps_outside*``): a bug env must not."""
    rules = [r for r in tomllib.loads(THRESHOLDS.read_text()).get("rule", []) if "env" in r]
    for bug in selftest_plan.load_bugs():
        for rule in rules:
            if not rule.get("known"):
                continue
            envs = rule["env"] if isinstance(rule["env"], list) else [rule["env"]]
            cases = rule.get("case", "*")
            cases = cases if isinstance(cases, list) else [cases]
            if selftest_plan.match(bug.env_id, envs):
                planned = selftest_plan.cases(bug)
                assert not any(selftest_plan.match(c, cases) for c in planned), (
                    f"{bug.env_id} is excused by the known rule on {envs}: rename the bug"
                )


def test_loading_the_bugs_imports_no_framework() -> None:
    code = (
        "import sys\n"
        "from wgan_parity.commands import selftest_plan\n"
        "assert len(selftest_plan.load_bugs()) >= 14\n"
        "bad = [m for m in ('torch', 'tensorflow', 'pandas') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plan_and_modes() -> None:
    flip = selftest_plan.load_bugs(["conv_kernel_flip"])[0]
    planned = selftest_plan.plan([flip], ["residual_*.probe"])
    assert planned == {"conv_kernel_flip": ["residual_up.probe", "residual_down.probe"]}
    assert selftest_plan.plan([flip], ["good_*"]) == {}
    assert selftest_plan.union({"a": ["residual_down.probe"], **planned}) == planned[flip.name]
    assert selftest_plan.backend(flip) == "wgan_parity.bugs.conv_kernel_flip"
    assert flip.env_id == "bug-conv_kernel_flip"
    assert [selftest.mode_of(c) for c in ("conv2d.seed", "conv2d.random", "d.probe")] == [
        "seed",
        "random",
        "probe",
    ]
    with pytest.raises(selftest_plan.SelftestError, match="unknown bug"):
        selftest_plan.load_bugs(["no_such_bug"])


# ---- scoring on a hand-made pairs frame ------------------------------------------------------

BUG = selftest.Bug("fake", "torch", ("residual_down.*", "conv2d.*"), "conv1", False, "")
TF_BUG = selftest.Bug("fake_tf", "tensorflow", ("batch_norm.*",), "norm1", True, "")
BASES = {"torch": "torch-x", "tensorflow": "tf-x"}
CASES = {
    "fake": ["residual_down.probe", "conv2d.probe", "conv2d.seed", "residual_down.seed"],
    "fake_tf": ["batch_norm.random"],
}


def _row(case: str, tensor: str, a: str, b: str = "reference", **kw: Any) -> Dict[str, str]:
    row = {
        "case": case,
        "tensor": tensor,
        "env_a": a,
        "env_b": b,
        "status": "ok",
        "blame": "",
        "known": "",
        "first_divergent_tap": "",
        "err_a": "1e-7",
        "err_b": "0",
        "limit_a": "1e-6",
        "limit_b": "",
        "seed_ok": "True",
        "cosine_distance": "1e-12",
    }
    row.update({k: str(v) for k, v in kw.items()})
    return row


def _off(case: str, tensor: str, env: str, err: float = 0.1, **kw: Any) -> List[Dict[str, str]]:
    """``env`` diverged against the truth and against its clean base, blamed."""
    base = "tf-x" if env.startswith("bug-fake_tf") else "torch-x"
    return [
        _row(case, tensor, env, status="diverged", blame=env, err_a=err, **kw),
        _row(case, tensor, env, base, status="diverged", blame=env, **kw),
    ]


def _pairs() -> pd.DataFrame:
    rows = []
    down = "residual_down.probe"
    for tensor in ("tap/shortcut", "tap/norm1"):  # before the bug: fine
        rows += [_row(down, tensor, "bug-fake"), _row(down, tensor, "torch-x")]
    for tensor in ("tap/conv1", "out", "grad/x"):
        rows += _off(down, tensor, "bug-fake", first_divergent_tap="conv1")
        rows.append(_row(down, tensor, "torch-x"))
    # conv2d.probe: the bug stays within the limit (a layer case: no taps)
    rows += [
        _row("conv2d.probe", "out", "bug-fake", err_a=5e-7),
        _row("conv2d.probe", "out", "torch-x"),
    ]
    # seed mode: forward fine, weight gradient off; residual gradients excused by a known rule
    rows += [_row("conv2d.seed", "out", "bug-fake"), _row("conv2d.seed", "out", "torch-x")]
    rows += _off("conv2d.seed", "grad/w", "bug-fake")
    rows.append(_row("conv2d.seed", "grad/w", "torch-x"))
    rows += [
        _row("residual_down.seed", "out", "bug-fake"),
        _row(
            "residual_down.seed",
            "grad/x",
            "bug-fake",
            status="diverged",
            blame="bug-fake",
            known="seed ties",
            err_a=0.1,
        ),
        _row(
            "residual_down.seed",
            "grad/x",
            "torch-x",
            status="diverged",
            blame="torch-x",
            known="seed ties",
        ),
    ]
    # a TF-based bug: TF's own (known) BatchNorm error is not the bug's; a 100x larger one is
    bn = "batch_norm.random"
    rows += [
        _row(bn, "out", "tf-x", status="diverged", blame="tf-x", known="tf bn", err_a=5e-5),
        _row(bn, "out", "bug-fake_tf", status="diverged", blame="bug-fake_tf", err_a=6e-5),
        _row(bn, "out", "bug-fake_tf", "tf-x", status="ok"),
        _row(bn, "grad/x", "tf-x", status="diverged", blame="tf-x", known="tf bn", err_a=5e-5),
        _row(bn, "grad/x", "bug-fake_tf", status="diverged", blame="bug-fake_tf", err_a=5e-3),
        _row(bn, "grad/x", "bug-fake_tf", "tf-x", status="diverged", blame="bug-fake_tf;tf-x"),
    ]
    # a false alarm of the clean torch env on the probe
    rows += [_row("conv2d.probe", "grad/x", "torch-x", status="diverged", blame="torch-x")]
    return pd.DataFrame(rows)


def _table(pairs: pd.DataFrame) -> pd.DataFrame:
    table = selftest.score(pairs, [BUG, TF_BUG], BASES, CASES)
    return table.set_index(["bug", "mode"])


def test_score_detects_blames_and_localizes() -> None:
    table = _table(_pairs())
    probe = table.loc[("fake", "probe")]
    assert (probe["detected"], probe["fwd"], probe["blamed"]) == ("yes", "yes", "yes")
    assert probe["hits"] == 3
    assert probe["localized"] == "yes"
    assert probe["first_tap"] == "residual_down.probe=conv1"
    assert probe["worst"] == pytest.approx(0.1 / 1e-6)
    assert probe["cases"] == 2


def test_score_seed_mode_sees_gradients_only_and_honours_known_rules() -> None:
    seed = _table(_pairs()).loc[("fake", "seed")]
    assert (seed["detected"], seed["fwd"]) == ("yes", "no")
    assert seed["hits"] == 1, "the known residual_down.seed grad/x row must not count"
    assert seed["excused"] == 1
    assert seed["localized"] == "n/a", "no forward divergence in the composite case"
    assert seed["seed_fwd_expected"] == "no"


def test_score_does_not_credit_a_bug_with_its_base_framework_error() -> None:
    row = _table(_pairs()).loc[("fake_tf", "random")]
    assert row["hits"] == 1
    assert row["inherited"] == 1
    assert row["detected"] == "yes"
    assert row["blamed"] == "yes", "naming TF too is right where TF is off itself"
    assert row["fwd"] == "no", "the only forward row is TF's own error"


def test_score_reports_wrong_blame_wrong_tap_and_escapes() -> None:
    pairs = _pairs()
    pair_rows = (pairs["env_b"] == "torch-x") & (pairs["tensor"] == "out")
    pairs.loc[pair_rows & (pairs["case"] == "residual_down.probe"), "blame"] = "torch-x"
    grad_pair = (pairs["env_b"] == "torch-x") & (pairs["tensor"] == "grad/x")
    pairs.loc[grad_pair & (pairs["case"] == "residual_down.probe"), "blame"] = "bug-fake;torch-x"
    wrong = (pairs["env_a"] == "bug-fake") & (pairs["case"] == "residual_down.probe")
    pairs.loc[wrong & (pairs["status"] == "diverged"), "first_divergent_tap"] = "shortcut"
    probe = _table(pairs).loc[("fake", "probe")]
    assert probe["blamed"] == "no (2 of 3)", "torch-x is within its limit: naming it is wrong"
    assert probe["localized"] == "no"
    escaped = pairs["env_a"] == "bug-fake"
    pairs.loc[escaped, "status"] = "ok"
    table = _table(pairs)
    for mode in ("probe", "seed"):
        row = table.loc[("fake", mode)]
        assert (row["detected"], row["blamed"], row["localized"]) == ("no", "n/a", "n/a")


def test_score_counts_false_alarms_of_clean_envs_only() -> None:
    table = _table(_pairs())
    assert table.loc[("(clean torch-x)", "probe"), "hits"] == 1
    assert table.loc[("(clean torch-x)", "seed"), "hits"] == 0
    assert table.loc[("(clean torch-x)", "seed"), "excused"] == 1  # the known seed row
    assert table.loc[("(clean tf-x)", "random"), "hits"] == 0
    lines = selftest_text.totals(table.reset_index())
    assert lines[0].startswith("random: detected 1/1 bugs")
    assert "false alarms 1" in lines[1]
    assert lines[1].startswith("probe:")


def test_score_names_a_bug_without_rows() -> None:
    pairs = _pairs()
    table = selftest.score(pairs[pairs["env_a"] != "bug-fake"], [BUG], BASES, CASES)
    row = table[table["bug"] == "fake"]
    assert list(row["detected"]) == ["no"]
    assert "no rows" in row["note"].iloc[0]


def test_markdown_escapes_and_lists_lines() -> None:
    table = pd.DataFrame({"bug": ["a|b"], "worst": [float("nan")], "hits": [2]})
    text = selftest_text.markdown(table, ["total"])
    assert "| a\\|b |  | 2 |" in text
    assert text.rstrip().endswith("- total")


# ---- reusing full dumps ---------------------------------------------------------------------


def test_subset_dump_keeps_only_the_cases_and_their_noise(tmp_path: Path) -> None:
    tensors = {
        f"{c}/{t}": np.full(3, i, np.float32)
        for i, (c, t) in enumerate([("a.probe", "out"), ("a.probe", "grad/x"), ("b.probe", "out")])
    }
    noise = {k: {"rel_l2": 1e-7} for k in tensors}
    source = synthetic.write(
        tmp_path / "full.npz", "reference", tensors, synthetic.FakeEnv(noise=noise)
    )
    meta = selftest_dumps.subset_dump(source, tmp_path / "part.npz", ["a.probe"])
    with DumpReader(tmp_path / "part.npz") as reader:
        assert reader.keys() == ["a.probe/out", "a.probe/grad/x"]
        assert list(reader.meta["cases"]) == ["a.probe"]
        assert set(reader.meta["noise"]) == {"a.probe/out", "a.probe/grad/x"}
        assert reader.meta["catalog_hash"] == synthetic.FAKE_HASH == meta["catalog_hash"]
        np.testing.assert_array_equal(reader.get("a.probe/grad/x"), tensors["a.probe/grad/x"])
    with pytest.raises(selftest_plan.SelftestError, match="lacks"):
        selftest_dumps.subset_dump(source, tmp_path / "none.npz", ["c.probe"])


# ---- end to end, real frameworks ------------------------------------------------------------


@pytest.mark.frameworks
def test_selftest_catches_a_real_torch_bug(tmp_path: Path) -> None:
    """pixel_shuffle without the DCR permutation, on the up block's probe: caught, blamed on the
    bug env, localized to the shortcut, and the clean torch env raises no alarm."""
    out = tmp_path / "selftest"
    done = subprocess.run(
        argv(
            "selftest", "--bugs", "d2s_channel_order", "--cases", "residual_up.probe", "--out", out
        ),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = pd.read_csv(out / "selftest.csv", dtype=str, keep_default_na=False)
    bug = table[table["bug"] == "d2s_channel_order"].iloc[0]
    assert (bug["mode"], bug["detected"], bug["fwd"], bug["blamed"]) == (
        "probe",
        "yes",
        "yes",
        "yes",
    )
    assert (bug["localized"], bug["first_tap"]) == ("yes", "residual_up.probe=shortcut")
    clean = table[table["bug"].str.startswith("(clean torch")].iloc[0]
    assert clean["hits"] == "0"
    pairs = pd.read_csv(out / "results" / "pairs.csv", dtype=str, keep_default_na=False)
    rows = pairs[(pairs["env_a"] == "bug-d2s_channel_order") & (pairs["env_b"] == "reference")]
    assert (rows[rows["tensor"] == "out"]["status"] == "diverged").all()
    assert "detected 1/1" in (out / "selftest.md").read_text()
