"""``wgan-parity shard``: split dumps into case shards, for a sharded aggregation.

A CI runner's disk holds a few dumps, not dozens. Split each dump into ``--shards N`` files by case
(the same cases in every env's shard ``k``), aggregate shard ``k`` of every env with
``wgan-parity aggregate --partial part-k.npz``, then ``wgan-parity merge part-*.npz --out DIR``:
the merged results are byte for byte those of one aggregate over the unsplit dumps.

Exit codes: 0 every dump was split; 2 usage error; 4 some dump could not be read (the others
were still split).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wgan_parity.exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("dumps", nargs="+", type=Path, metavar="DUMP", help=".npz dumps to split")
    parser.add_argument("--shards", type=int, required=True, metavar="N", help="how many shards")
    parser.add_argument("--out", type=Path, required=True, help="folder for the shard files")
    parser.add_argument(
        "--remove", action="store_true", help="remove each dump once its shards are written"
    )


def run(args: argparse.Namespace) -> int:
    """Split; return the exit code described in the module docstring."""
    from wgan_parity import atomic
    from wgan_parity.core.shardplan import ShardPlanError, check_count
    from wgan_parity.dump.dumpfile import DumpError
    from wgan_parity.dump.shards import split

    def say(line: str) -> None:
        print(f"wgan-parity shard: {line}", file=sys.stderr, flush=True)

    try:
        check_count(args.shards)
    except ShardPlanError as exc:
        say(str(exc))
        return ExitCode.USAGE
    unwritable = atomic.writable_folder(args.out)
    if unwritable:
        say(unwritable)
        return ExitCode.USAGE
    failed = 0
    for dump in args.dumps:
        try:
            written = split(dump, args.shards, args.out)
        except (DumpError, OSError) as exc:
            say(f"could not split {dump}: {exc}")
            failed += 1
            continue
        size = sum(p.stat().st_size for p in written) / 1e9
        print(f"{dump} -> {len(written)} shards in {args.out} ({size:.2f} GB)")
        if args.remove:
            dump.unlink()
    return ExitCode.ENV_PROBLEM if failed else 0
