"""What derives from the env table and must not drift: tox.ini, nox sessions, `matrix --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wgan_parity.matrix import toxgen
from wgan_parity.matrix.envtable import load_table

ROOT = Path(__file__).resolve().parents[1]
SRC_PACKAGE = ROOT / "src" / "wgan_parity"
TABLE = load_table(ROOT / "matrix.toml")


def test_tox_ini_is_generated_from_the_table() -> None:
    current = (ROOT / "tox.ini").read_text(encoding="utf-8")
    fix = "run `wgan-parity regen tox-ini`"
    assert current == toxgen.render(TABLE), f"tox.ini drifted from matrix.toml: {fix}"
    for env in TABLE.envs:
        assert f"[testenv:dump-{env.id}]" in current


def test_regen_tox_ini_check_flags_a_stale_tox_ini(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from wgan_parity.cli import main

    (tmp_path / "matrix.toml").write_bytes((ROOT / "matrix.toml").read_bytes())
    (tmp_path / "tox.ini").write_text("[tox]\n", encoding="utf-8")
    table = ["--table", str(tmp_path / "matrix.toml")]
    assert main(["regen", "tox-ini", "--check", *table]) == 1
    assert "run `wgan-parity regen tox-ini`" in capsys.readouterr().err
    assert main(["regen", "tox-ini", *table]) == 0
    assert main(["regen", "tox-ini", "--check", *table]) == 0
    assert (tmp_path / "tox.ini").read_text(encoding="utf-8") == toxgen.render(TABLE)


def test_tox_and_nox_call_the_same_commands() -> None:
    """tox.ini runs `wgan-parity run` and `lock` as noxfile.py does: one command line."""
    text = (ROOT / "tox.ini").read_text(encoding="utf-8")
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert "commands = python -m wgan_parity run {posargs}" in text
    assert "commands = python -m wgan_parity lock {posargs}" in text
    assert "commands = python -m wgan_parity run --dump-only --env reference {posargs}" in text
    assert 'cli.main(["run", *session.posargs])' in noxfile
    assert 'cli.main(["run", "--dump-only", "--env", env_id, *session.posargs])' in noxfile
    assert 'cli.main(["lock", *session.posargs])' in noxfile


@pytest.mark.parametrize("tag", [*sorted(TABLE.sets), "torch"])
def test_nox_sessions_are_generated_from_the_table(tag: str) -> None:
    pytest.importorskip("nox")
    done = subprocess.run(
        [sys.executable, "-m", "nox", "-l", "--json", "-t", tag],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    sessions = {s["session"]: s for s in json.loads(done.stdout)}
    expected = TABLE.select(tags=[tag])
    assert sorted(sessions) == sorted(f"dump({e.id})" for e in expected)
    for env in expected:
        assert sessions[f"dump({env.id})"]["tags"] == list(env.tags)


@pytest.mark.parametrize("set_name", sorted(TABLE.sets))
def test_matrix_command_json_matches_the_set(set_name: str, capsys: pytest.CaptureFixture) -> None:
    from wgan_parity.cli import main

    assert main(["matrix", "--json", "--set", set_name, "--table", str(ROOT / "matrix.toml")]) == 0
    include = json.loads(capsys.readouterr().out)["include"]
    assert [r["env_id"] for r in include] == [e.id for e in TABLE.in_set(set_name)]
    assert {r["nox_session"] for r in include} == {f"dump({e.id})" for e in TABLE.in_set(set_name)}


# --- pip -> uv bridge -----------------------------------------------------------------------
