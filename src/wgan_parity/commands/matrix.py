"""``wgan-parity matrix``: list the environments of a set, as a table or as CI matrix JSON.

    wgan-parity matrix                      # the `default` set, human-readable
    wgan-parity matrix --json --set releases
    wgan-parity matrix --outdated           # releases the index offers that the table lacks

The JSON is a GitHub Actions matrix (``{"include": [...]}``), one entry per env, with the
nox session and the tox env that run exactly that env's dump, and ``runs_on`` when the env names
a runner label (a GPU env, say).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

from wgan_parity import frameworks
from wgan_parity.matrix.envtable import EnvSpec, EnvTable, TableError, load_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("--set", default=None, help="named set from matrix.toml (default: default)")
    parser.add_argument(
        "--tags",
        action="append",
        default=[],
        help="envs with any of these tags (framework or set), comma-separated",
    )
    parser.add_argument("--all", action="store_true", help="every env of the table")
    parser.add_argument("--json", action="store_true", help="GitHub Actions matrix JSON")
    parser.add_argument(
        "--add-new",
        action="store_true",
        help="add a matrix.toml row (and regenerate tox.ini) for each release --outdated finds, "
        "modelled on the table's nearest release; then `nox -s lock`, dump and compare them",
    )
    parser.add_argument(
        "--shard-count",
        action="store_true",
        help="print how many case shards the selection's aggregation needs on a CI runner "
        "(JSON list 1..N with --json: the aggregate jobs' matrix)",
    )
    parser.add_argument(
        "--outdated",
        action="store_true",
        help="list newer patch and minor releases of each framework that the configured index "
        "offers (asks `pip index versions`, so pip's index configuration applies); Markdown",
    )
    parser.add_argument(
        "--table",
        type=Path,
        default=None,
        help="matrix.toml (default: found from the current folder upwards)",
    )


def entry(env: EnvSpec) -> Dict[str, Any]:
    """One matrix entry."""
    return {
        "env_id": env.id,
        "framework": env.framework,
        "python": env.python,
        "pins": list(env.requirements),
        "sets": list(env.sets),
        "nox_session": f"dump({env.id})",
        "tox_env": f"dump-{env.id}",
        **({"runs_on": env.runs_on} if env.runs_on else {}),  # else the run's default runner
    }


def run(args: argparse.Namespace) -> int:
    """Print the selection; 2 on a table or selection error."""
    try:
        table = load_table(args.table)
        tags = [t for group in args.tags for t in group.split(",") if t]
        envs = table.envs if args.all else table.select(args.set, tags)
    except TableError as exc:
        print(f"wgan-parity matrix: {exc}", file=sys.stderr)
        return 2
    if args.outdated or args.add_new:
        return _outdated(table, args.add_new, args.json)
    if args.shard_count:
        from wgan_parity.core.shardplan import count_for

        count = count_for(len(envs))
        print(json.dumps(list(range(1, count + 1))) if args.json else count)
        return 0
    rows: List[Dict[str, Any]] = [entry(env) for env in envs]
    if args.json:
        print(json.dumps({"include": rows}, separators=(",", ":")))
        return 0
    width = max(len(r["env_id"]) for r in rows)
    for r in rows:
        print(
            f"{r['env_id']:<{width}}  {r['framework']:<10}  py{r['python']:<5}  "
            f"{' '.join(r['pins']) or '-':<40}  {','.join(r['sets'])}"
        )
    return 0


def _outdated(table: EnvTable, add: bool, as_json: bool) -> int:
    """Print (or with ``add``, add to the table) the releases newer than the table; 4 when the
    index cannot be asked, 2 when a new row would break the table's rules."""
    from wgan_parity.matrix import addrelease
    from wgan_parity.matrix.outdated import find_newer, markdown, pip_lister

    try:
        found = find_newer(table.envs, pip_lister())
    except (OSError, RuntimeError) as exc:
        print(f"wgan-parity matrix --outdated: {exc}", file=sys.stderr)
        return 4
    if not add:
        print(markdown(found), end="")
        return 0
    added = addrelease.plan(table, found)
    try:
        if added:
            addrelease.write(table, added)
    except TableError as exc:
        print(f"wgan-parity matrix --add-new: {exc}", file=sys.stderr)
        return 2
    ids = [a.env.id for a in added]
    if as_json:
        compare_with = sorted({a.template.id for a in added} | {frameworks.truth().short})
        print(json.dumps({"added": ids, "compare_with": compare_with}))
    else:
        print(markdown(found), end="")
        print(f"added to {table.path.name}: {', '.join(ids) or 'nothing'}")
    return 0
