"""``wgan-parity dump``: run the case catalog on one backend and write one ``.npz``.

Exit codes: 0 every case ran; 4 some case failed (the dump is still written, the failures
recorded in it) or the backend could not be loaded (no dump written); 2 usage error. Never 1:
that means "diverged", which only a comparison can say.

The framework switches (``--onednn``, ``--tf-graph``, ``--channels-last``, ...) come from the
registry (:class:`wgan_parity.frameworks.Switch`); the options every framework has are here.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Dict, List

from wgan_parity import frameworks
from wgan_parity.atomic import writable_folder, write_json
from wgan_parity.backends import BUILTIN, BackendError
from wgan_parity.core import precision
from wgan_parity.core.catalog import select
from wgan_parity.core.compat import require_pcg64
from wgan_parity.core.flags import Flags
from wgan_parity.core.isa import CAP_SETTINGS
from wgan_parity.exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.epilog = (
        "Exit codes: 0 every case ran; 4 some case failed (the dump is still written, with the "
        "failures recorded in it) or the backend could not be loaded (no dump written); "
        "2 usage error."
    )
    parser.add_argument(
        "--backend",
        required=True,
        help=f"built-in name ({', '.join(BUILTIN)}) or a module path of a user backend, "
        "e.g. mypkg.my_port",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="the .npz file to write (atomically)"
    )
    parser.add_argument(
        "--env-id", default=None, help="environment label (default: <framework>-<version>)"
    )
    parser.add_argument(
        "--cases",
        nargs="*",
        default=[],
        metavar="GLOB",
        help="only cases matching these globs (default: the whole catalog)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="intra-op threads (default: framework's)"
    )
    parser.add_argument(
        "--nondeterministic", action="store_true", help="do not request deterministic ops"
    )
    parser.add_argument("--tf32", action="store_true", help="allow TensorFloat-32 on NVIDIA GPUs")
    parser.add_argument(
        "--precision",
        choices=precision.PRECISIONS,
        default=precision.FLOAT32,
        help="run under a mixed-precision policy: torch's autocast, the others' ops cast as "
        "Keras' mixed policy does (parameters, norm statistics and reductions stay float32; "
        "docs/precision.md); not for the float64 reference",
    )
    for switch in frameworks.switches():
        _add_switch(parser, switch)
    parser.add_argument(
        "--device", default="cpu", help="device for torch, TF and JAX: cpu (default) or cuda"
    )
    parser.add_argument(
        "--max-isa",
        choices=sorted(CAP_SETTINGS),
        default=None,
        help="cap the CPU kernels' instruction set (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA), "
        "e.g. avx2 to reproduce an AVX2 machine on an AVX-512 one",
    )
    parser.add_argument(
        "--progress-file",
        type=Path,
        default=None,
        help="after each case, write JSON {done, total, case, elapsed_s, case_s} here (atomically):"
        " what the runner shows while a dump runs",
    )
    parser.add_argument(
        "--noise",
        choices=("table", "measure"),
        default="table",
        help="reference only: take the float32 noise figures from the committed table for this "
        "computing stack, after re-measuring its canary cases (default; measures where none "
        "fits), or measure every case",
    )
    parser.add_argument(
        "--noise-precision",
        action="append",
        choices=precision.PRECISIONS[1:],
        default=[],
        help="reference only: also measure each case's noise at this precision (the float32 "
        "reference under the same mixed-precision policy, rounding to it): the limits of envs "
        "dumped with --precision; repeatable",
    )
    parser.add_argument(
        "--write-noise-table",
        type=Path,
        default=None,
        metavar="DIR",
        help="reference with --noise measure: also write the measured figures as a noise table "
        "into DIR (the committed ones: src/wgan_parity/data/noise)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-case progress lines")


def _add_switch(parser: argparse.ArgumentParser, switch: frameworks.Switch) -> None:
    """A framework switch's option: a flag when off by default, else ``--<option> 0|1``."""
    dest = f"switch_{switch.key}"
    if switch.default:
        parser.add_argument(
            switch.option, dest=dest, type=int, choices=(0, 1), default=1, help=switch.help
        )
    else:
        parser.add_argument(switch.option, dest=dest, action="store_true", help=switch.help)


def _flags(args: argparse.Namespace) -> Flags:
    """The requested switches: the common options and every registered framework's own."""
    return Flags(
        deterministic=not args.nondeterministic,
        tf32=args.tf32,
        threads=args.threads,
        device=args.device,
        max_isa=args.max_isa,
        precision=args.precision,
        switches={sw.key: bool(getattr(args, f"switch_{sw.key}")) for sw in frameworks.switches()},
    )


def _unusable_out(out: Path) -> str:
    """ "" when a dump can be written to ``out``, else what is wrong and what to do."""
    if out.is_dir():
        return f"--out {out} is a folder; expected the .npz file to write, e.g. {out / 'env.npz'}"
    unwritable = writable_folder(out.parent)
    return f"--out {out}: {unwritable}" if unwritable else ""


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def run(args: argparse.Namespace) -> int:
    """Write the dump; return the exit code."""
    from wgan_parity.dump.catalog_dump import DumpRequest, write_catalog_dump

    flags = _flags(args)
    try:
        cases = select(args.cases)
    except ValueError as exc:
        print(f"wgan-parity dump: {exc}", file=sys.stderr)
        return 2
    if args.write_noise_table is not None and args.noise != "measure":
        print(
            "wgan-parity dump: --write-noise-table writes measured figures; expected --noise "
            f"measure, found --noise {args.noise}. Add --noise measure.",
            file=sys.stderr,
        )
        return 2
    unusable = _unusable_out(args.out)  # before any case runs, not after all of them
    if not unusable and args.write_noise_table is not None:
        unwritable = writable_folder(args.write_noise_table).replace("--out", "folder")
        unusable = f"--write-noise-table {unwritable}" if unwritable else ""
    if unusable:
        print(f"wgan-parity dump: {unusable}", file=sys.stderr)
        return 2
    try:
        require_pcg64()  # an env problem (its NumPy), found before any case runs
    except RuntimeError as exc:
        print(f"wgan-parity dump: {exc}", file=sys.stderr)
        return 4
    signal.signal(signal.SIGTERM, _terminated)  # like Ctrl-C: the temporary file is removed

    started = time.monotonic()
    finished: List[str] = []
    case_s: Dict[str, float] = {}

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"[{args.backend}] {line}", file=sys.stderr, flush=True)
        if args.progress_file is not None:  # one call per finished case, in catalog order
            case = cases[len(finished)]
            finished.append(case.name)
            case_s[case.name] = round(time.monotonic() - started - sum(case_s.values()), 3)
            write_json(
                args.progress_file,
                {
                    "done": len(finished),
                    "total": len(cases),
                    "case": case.name,
                    "next": cases[len(finished)].name if len(finished) < len(cases) else "",
                    "elapsed_s": round(time.monotonic() - started, 2),
                    "case_s": case_s,
                },
            )

    try:
        request = DumpRequest(
            args.backend,
            args.out,
            cases,
            args.env_id,
            flags,
            noise_mode=args.noise,
            write_noise_table=args.write_noise_table,
            noise_precisions=tuple(dict.fromkeys(args.noise_precision)),
        )
        meta = write_catalog_dump(request, progress)
    except BackendError as exc:
        print(f"wgan-parity dump: {exc}", file=sys.stderr)
        return 4
    failed = [name for name, rec in meta.cases.items() if not rec.ok]
    print(
        f"wrote {args.out} ({meta.env_id}, "
        f"{len(meta.cases) - len(failed)}/{len(meta.cases)} cases ok, "
        f"{meta.wall_s:.1f}s, import {meta.import_s:.1f}s)"
    )
    source = meta.flags.get("noise_source")
    if isinstance(source, dict) and not args.quiet:
        print(_noise_line(source), file=sys.stderr)
    if failed:  # an env problem (its framework cannot run them), not a divergence
        print(f"failed cases: {', '.join(failed)}", file=sys.stderr)
    return int(ExitCode.ENV_PROBLEM) if failed else int(ExitCode.OK)


def _noise_line(source: Dict[str, object]) -> str:
    """Where the reference's noise figures came from, in one line."""
    measured = source.get("measured")
    count = len(measured) if isinstance(measured, list) else 0
    canaries = source.get("canaries")
    return (
        f"noise: {source.get('from_table', 0)} cases from the table, {count} measured; table: "
        f"{source.get('table', 'not looked up (--noise measure)')}"
        + (f"; canaries: {canaries}" if canaries else "")
    )
