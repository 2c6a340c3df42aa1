"""The env table (``matrix.toml``): the real table's sets, validation and selection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import pytest

from wgan_parity.commands import matrix as matrix_command
from wgan_parity.matrix import install
from wgan_parity.matrix.envtable import TableError, load_table, parse_table

ROOT = Path(__file__).resolve().parents[1]
SRC_PACKAGE = ROOT / "src" / "wgan_parity"
TABLE = load_table(ROOT / "matrix.toml")


def test_default_set_is_reference_tf_221_torch_213_jax_0102() -> None:
    envs = TABLE.in_set("default")
    assert [e.framework for e in envs] == ["reference", "tensorflow", "torch", "jax"]
    assert [p for e in envs for p in e.pins] == [
        "tensorflow-cpu==2.21.0",
        "torch==2.13.0",
        "jax==0.10.2",
        "jaxlib==0.10.2",
    ]


def test_releases_set_has_one_latest_patch_per_minor() -> None:
    envs = TABLE.in_set("releases")
    minors: Dict[str, List[str]] = {"tensorflow": [], "torch": [], "jax": []}
    for env in envs:
        if env.framework != "reference":
            assert env.python == "3.11", env.id
            minors[env.framework].append(".".join(env.pins[0].split("==")[1].split(".")[:2]))
    assert sorted(minors["tensorflow"]) == sorted(f"2.{m}" for m in range(12, 22))
    assert sorted(minors["torch"]) == sorted(f"2.{m}" for m in range(16))
    assert sorted(minors["jax"]) == sorted(["0.4", *(f"0.{m}" for m in range(5, 11))])
    assert sum(e.framework == "reference" for e in envs) == 1


# --- validation -----------------------------------------------------------------------------

GOOD = {
    "schema": 1,
    "sets": {"default": "d"},
    "matrix": {"env": [{"id": "reference", "framework": "reference", "sets": ["default"]}]},
}


def with_env(**row: object) -> dict:
    data = json.loads(json.dumps(GOOD))
    data["matrix"]["env"].append(row)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**GOOD, "schema": 2}, "expected `schema = 1`"),
        (with_env(id="reference", framework="reference"), "duplicate env id"),
        (with_env(id="mx-1", framework="mxnet", pins=["mxnet==1"]), "expected framework in"),
        (
            with_env(id="t", framework="torch", pins=["torch==2.4.1"], sets=["nightly"]),
            "undeclared set",
        ),
        (with_env(id="t", framework="torch", pins=["torch==2.4.1"], pin=["x"]), "unknown key"),
        (with_env(id="t", framework="torch"), "needs `pins`"),
        (with_env(id="bad id/x", framework="reference"), "expected `id` of letters"),
        (with_env(id="t", framework="torch", pins="torch==2.4.1"), "list of strings"),
        (
            with_env(id="t", framework="torch", pins=["t==1"], dump_args=["--out", "x.npz"]),
            "may not set ['--out']",
        ),
        (with_env(id="t", framework="torch", pins=["t==1"], runs_on=["gpu"]), "runner label"),
        ({**GOOD, "sets": {"default": "d", "gpu": "g"}}, "have no env"),
        ({**GOOD, "matrix": {"env": []}}, "non-empty `env = [...]`"),
    ],
)
def test_bad_tables_say_what_is_wrong(data: dict, message: str) -> None:
    with pytest.raises(TableError, match=r"matrix\.toml") as info:
        parse_table(data, Path("/x/matrix.toml"))
    assert message in str(info.value)


def test_gpu_envs_carry_their_dump_options_runner_and_cache_key(tmp_path: Path) -> None:
    gpu = {e.id: e for e in TABLE.in_set("gpu")}
    tf32 = gpu["torch-2.14.1-cuda-tf32"]
    assert tf32.dump_args == ("--device", "cuda", "--tf32")
    assert matrix_command.entry(tf32)["runs_on"] == "gpu"
    assert "runs_on" not in matrix_command.entry(gpu["reference"])  # the run's default runner
    lock = tmp_path / "lock.txt"
    lock.write_text("torch==2.14.1\n")
    keys = {install.dump_key(e, lock, "src") for e in (tf32, gpu["torch-2.14.1-cuda"])}
    assert len(keys) == 2, "TF32 on and off must not share a cached dump"


def test_select_by_set_tags_ids_and_unknowns() -> None:
    assert [e.id for e in TABLE.select()] == [e.id for e in TABLE.in_set("default")]
    assert {e.framework for e in TABLE.select(tags=["torch"])} == {"torch"}
    assert [e.id for e in TABLE.select(ids=["tf-2.21.0"])] == ["tf-2.21.0"]
    for kwargs in ({"set_name": "nope"}, {"tags": ["nope"]}, {"ids": ["nope"]}):
        with pytest.raises(TableError, match="nope"):
            TABLE.select(**kwargs)


# --- drift: tox.ini, nox, `wgan-parity matrix` ----------------------------------------------
