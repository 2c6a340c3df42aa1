"""Generate ``tox.ini`` from ``matrix.toml`` so that tox and nox run the same envs.

    wgan-parity regen tox-ini            # rewrite tox.ini after editing matrix.toml
    wgan-parity regen tox-ini --check    # exit 1 when tox.ini is out of date

Every tox env calls the same commands as nox (``wgan-parity run`` and ``wgan-parity lock``); the
tox envs themselves are bare (uv only), the framework venvs are built by the runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from wgan_parity import atomic, frameworks
from wgan_parity.matrix.envtable import EnvTable

TOX_INI = "tox.ini"
RUNNER = "python -m wgan_parity"  # PYTHONPATH=src: the checkout, not installed
REGEN = "wgan-parity regen tox-ini"
PASS_ENV = "HOME, CI, TERM, PIP_*, UV_*, XDG_*, WGAN_PARITY_*, PYTHONDONTWRITEBYTECODE, SSL_CERT_*"


def tox_env(env_id: str) -> str:
    """The tox env name of a dump env."""
    return f"dump-{env_id}"


def labels(table: EnvTable) -> Dict[str, List[str]]:
    """``dump`` (all envs), then one label per set and per framework, in table order."""
    out: Dict[str, List[str]] = {"dump": [tox_env(e.id) for e in table.envs]}
    for env in table.envs:
        for tag in (*env.sets, env.framework):
            out.setdefault(tag, []).append(tox_env(env.id))
    return out


def render(table: EnvTable) -> str:
    """The full text of tox.ini for ``table``."""
    default_pins = [p for env in table.in_set("default") for p in env.requirements]
    lines = [
        f"# Generated from matrix.toml by `{REGEN}`: do not edit.",
        "# tests/test_matrix_generated.py fails when this file and matrix.toml drift.",
        "#",
        "#   tox -e compare                   dumps of the default set, then results/",
        "#   tox -e compare -- --set releases (any `wgan-parity run` option after --)",
        "#   tox -m dump  /  tox p -m dump    every env's dump (p: in parallel)",
        "#   tox -m releases                  the dumps of one set (or of a framework: -m torch)",
        "#   tox -e tests                     pytest with the default set's frameworks",
        "[tox]",
        "requires = tox>=4.20",
        "env_list = compare",
        "labels =",
    ]
    lines += [f"    {name} = {', '.join(envs)}" for name, envs in labels(table).items()]
    lines += [
        "",
        "[testenv]",
        "description = runner: builds the env's own venv under .wgan-parity/envs (uv), dumps",
        "package = skip",
        "deps = uv",
        "set_env = PYTHONPATH = {tox_root}{/}src",
        f"pass_env = {PASS_ENV}",
        "",
        "[testenv:compare]",
        "description = dumps of a set (default: default), then aggregate into results/; "
        "exit 0 ok, 1 diverged, 4 env failed, 5 both",
        f"commands = {RUNNER} run {{posargs}}",
        "",
        "[testenv:lock]",
        "description = re-resolve locks/<env_id>.txt with uv",
        f"commands = {RUNNER} lock {{posargs}}",
        "",
        "[testenv:tests]",
        f"description = pytest with {', '.join(default_pins)}",
        "package = editable",
        f"extras = {', '.join((*frameworks.extras(), 'test'))}",
        "deps =",
        *[f"    {pin}" for pin in default_pins],
        "    nox",
        "set_env =",
        "commands = pytest {posargs}",
    ]
    for env in table.envs:
        sets = ", ".join(env.sets) or "none"
        lines += [
            "",
            f"[testenv:{tox_env(env.id)}]",
            f"description = dump of {env.id} ({env.framework}; sets: {sets})",
            f"commands = {RUNNER} run --dump-only --env {env.id} {{posargs}}",
        ]
    return "\n".join(lines) + "\n"


def stale(table: EnvTable) -> Optional[str]:
    """Why ``tox.ini`` next to the table is out of date with it, or None when it is current."""
    path = table.root / TOX_INI
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current == render(table):
        return None
    return f"{path} is out of date with {table.path}; run `{REGEN}`"


def write(table: EnvTable) -> Path:
    """Rewrite ``tox.ini`` next to the table (atomically); its path."""
    path = table.root / TOX_INI
    atomic.write_text(path, render(table))
    return path
