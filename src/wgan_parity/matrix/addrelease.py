"""Turn releases the index offers beyond the table into ``matrix.toml`` rows, as Renovate would.

Each :class:`~wgan_parity.matrix.outdated.Newer` release becomes one row modelled on the table's
nearest release of the same framework and Python (its *template*): the same sets, extras and
Python, the template's version replaced by the new one in its id and pin. The row is inserted as
one line right after the template's, so comments and layout stay, and the table is parsed again
before it is written (atomically), so a row that breaks a rule is never written.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from wgan_parity import atomic
from wgan_parity.matrix import toxgen
from wgan_parity.matrix.envtable import (
    EnvSpec,
    EnvTable,
    TableError,
    load_table,
    parse_table,
    tomllib,
)
from wgan_parity.matrix.outdated import Newer


@dataclass(frozen=True)
class Added:
    """One new row: its env, the template it copies, and the release behind it."""

    env: EnvSpec
    template: EnvSpec
    release: Newer


def _pinned(pin: str, package: str) -> Optional[str]:
    """The version ``pin`` gives ``package`` (``"torch==2.4.1"``), else ``None``."""
    name, sep, version = pin.partition("==")
    return version.strip() if sep and name.strip().lower() == package else None


def _pin_of(env: EnvSpec, package: str) -> Optional[str]:
    return next((v for v in (_pinned(p, package) for p in env.pins) if v is not None), None)


def template_for(table: EnvTable, newer: Newer) -> Optional[EnvSpec]:
    """The plain row (no backend, no dump options) of ``newer``'s nearest release, if any."""
    for env in table.envs:
        plain = not env.backend and not env.dump_args and not env.runs_on
        if (
            plain
            and env.framework == newer.framework
            and env.python == newer.python
            and _pin_of(env, newer.package) == newer.table
            and newer.table in env.id
        ):
            return env
    return None


def _line(env: EnvSpec, newer: Newer) -> str:
    fields: List[Tuple[str, object]] = [
        ("id", env.id),
        ("framework", env.framework),
        ("pins", list(env.pins)),
    ]
    if env.extra:
        fields.append(("extra", list(env.extra)))
    fields += [("python", env.python), ("sets", list(env.sets))]
    body = ", ".join(f"{k} = {json.dumps(v)}" for k, v in fields)
    note = f"added by `wgan-parity matrix --add-new`: {newer.kind} release after {newer.table}"
    return f"  {{{body}}},  # {note}"


def plan(table: EnvTable, found: Sequence[Newer]) -> List[Added]:
    """The rows to add for ``found`` (skipped: releases in the table, or without a template)."""
    known = {env.id for env in table.envs}
    added: List[Added] = []
    for newer in found:
        template = template_for(table, newer)
        if template is None:
            continue
        env_id = template.id.replace(newer.table, newer.version, 1)
        if env_id in known:
            continue
        pins = tuple(
            f"{newer.package}=={newer.version}" if _pinned(pin, newer.package) else pin
            for pin in template.pins
        )
        env = dataclasses.replace(template, id=env_id, pins=pins)  # a plain row: nothing else
        known.add(env_id)
        added.append(Added(env, template, newer))
    return added


def write(table: EnvTable, added: Sequence[Added]) -> Path:
    """Insert each new row after its template's line in ``matrix.toml``; return the path."""
    lines = table.path.read_text(encoding="utf-8").splitlines()
    for item in added:
        marker = f'id = "{item.template.id}"'
        at = next((k for k, line in enumerate(lines) if marker in line), None)
        if at is None:
            raise TableError(f"{table.path}: no line holds {marker}; add the row by hand")
        lines.insert(at + 1, _line(item.env, item.release))
    text = "\n".join(lines) + "\n"
    parse_table(tomllib.loads(text), table.path)  # a row that breaks a rule is never written
    atomic.write_text(table.path, text)
    tox_ini = table.root / toxgen.TOX_INI
    if tox_ini.exists():  # tox.ini derives from the table (test_matrix_generated keeps them equal)
        toxgen.write(load_table(table.path))
    return table.path
