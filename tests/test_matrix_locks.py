"""The locks (``locks/<env>.txt``) and the pip/uv bridge that resolves and installs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from wgan_parity.matrix import locks, pipbridge
from wgan_parity.matrix.envtable import EnvSpec, load_table
from wgan_parity.matrix.venvs import Builder, StageFailed

ROOT = Path(__file__).resolve().parents[1]
SRC_PACKAGE = ROOT / "src" / "wgan_parity"
TABLE = load_table(ROOT / "matrix.toml")


@pytest.mark.parametrize("env", TABLE.all_envs(), ids=lambda e: e.id)
def test_every_env_has_a_current_lock(env: EnvSpec) -> None:
    path = locks.lock_path(TABLE, env)
    fix = f"run `nox -s lock -- --env {env.id}`"
    assert locks.is_current(TABLE, env), f"{path} is missing or stale: {fix}"
    pins = locks.packages(path)
    for pin in env.pins:
        name, version = pin.split("==")
        assert pins[name].split("+")[0] == version, f"{env.id}: {pin} but lock has {pins[name]}"
    minor = tuple(map(int, env.pins[0].split("==")[1].split(".")[:2])) if env.pins else ()
    if env.framework == "torch" and minor < (2, 3):
        assert pins["numpy"].startswith("1."), f"{env.id}: torch < 2.3 needs numpy<2"
    if env.framework == "jax":
        assert pins["jaxlib"] == pins["jax"], f"{env.id}: jaxlib {pins['jaxlib']} != jax"


def test_pip_config_is_bridged_into_uv_without_overriding_uv(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nfind-links = /w1\n  /w2\nextra-index-url = file:///a file:///b\n"
        "constraint = /c.txt\n",
        encoding="utf-8",
    )
    environ = {
        "PIP_CONFIG_FILE": str(conf),
        "HOME": str(tmp_path),
        "XDG_CONFIG_DIRS": str(tmp_path),
    }
    bridged = pipbridge.uv_environ(environ)
    assert bridged["UV_FIND_LINKS"] == "/w1,/w2"
    assert bridged["UV_EXTRA_INDEX_URL"] == "file:///a file:///b"
    assert bridged["UV_CONSTRAINT"] == "/c.txt"
    assert bridged["UV_INDEX_STRATEGY"] == "unsafe-best-match"
    environ.update(PIP_FIND_LINKS="/env", UV_CONSTRAINT="/mine.txt")
    bridged = pipbridge.uv_environ(environ)
    assert bridged["UV_FIND_LINKS"] == "/env"
    assert "UV_CONSTRAINT" not in bridged


# --- the runner, with a fake builder --------------------------------------------------------


def test_pip_fallback_names_a_missing_interpreter(tmp_path: Path) -> None:
    builder = Builder(
        project_root=tmp_path, envs_dir=tmp_path / "envs", uv=None, environ={"PATH": str(tmp_path)}
    )
    env = EnvSpec(id="old", framework="reference", python="3.99")
    with pytest.raises(StageFailed, match=r"python3\.99 not found") as info:
        builder.install(env, tmp_path / "lock.txt", "digest", tmp_path / "log")
    assert info.value.stage == "install"
