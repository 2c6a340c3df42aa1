"""Rewrite the committed noise tables (``data/noise``) after the reference's computation changed.

One measuring reference dump per computing stack covered, each forcing that stack's BLAS kernel
and NumPy SIMD targets on this machine (docs/verdict.md, "The noise table"). A dump later trusts a
table only after its canary cases re-measure equal, so a stack this machine cannot reproduce
faithfully is rejected there, never used wrongly. Run by ``wgan-parity regen noise-tables``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, Tuple

from wgan_parity import invocation
from wgan_parity.core import isa
from wgan_parity.exitcodes import ExitCode


@dataclass(frozen=True)
class Stack:
    """A computing stack a table covers: OpenBLAS's kernel and the NumPy SIMD targets turned off.

    ``needs``: the CPU class (:data:`wgan_parity.core.isa.CLASSES`) it runs on; a machine below
    it cannot measure the stack (OpenBLAS's SkylakeX kernels stop an AVX2 CPU with SIGILL).
    """

    name: str
    openblas_coretype: str
    npy_disabled: str = ""
    needs: str = "avx2"


# NumPy 2.4's OpenBLAS runs Zen as Haswell and Cooperlake as SkylakeX, so these three cover AVX2
# AMD and Intel, AVX-512 Intel and AMD Zen 4. The AVX2 stack is the one CI caps to (isa.py).
_NO_AVX512 = isa.NUMPY_CAPS["avx2"]["NPY_DISABLE_CPU_FEATURES"]
STACKS: Tuple[Stack, ...] = (
    Stack("haswell-avx512", "Haswell", needs="avx512"),
    Stack("haswell-avx2", isa.NUMPY_CAPS["avx2"]["OPENBLAS_CORETYPE"], _NO_AVX512),
    Stack("skylakex-avx512", "SkylakeX", needs="avx512"),
)


def runnable(stacks: Sequence[Stack], host: str) -> Tuple[Stack, ...]:
    """The stacks a CPU of class ``host`` can measure."""
    rank = isa.CLASSES.index
    return tuple(s for s in stacks if rank(host) >= rank(s.needs))


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def regenerate(
    tables: Path,
    python: str = sys.executable,
    stacks: Sequence[Stack] = STACKS,
    runner: Runner = subprocess.run,
    host: str = "",
) -> int:
    """Measure every stack into a temporary folder, then replace ``tables``' ``noise-*.json.gz``.

    0 when every stack this CPU can run was measured; 4 (nothing replaced) when a dump failed.
    A stack this CPU cannot run is said and skipped: its old table, measured with other code,
    is removed with the rest, and a reference dump on such a machine measures its noise (slower,
    as exact) until this command runs on one.
    """
    host = host or isa.cpu_class(isa.cpu_flags())
    skipped = [s.name for s in stacks if s not in runnable(stacks, host)]
    if skipped:
        print(
            f"noise tables: this {host} CPU cannot run stack(s) {', '.join(skipped)}: skipped; "
            "run `wgan-parity regen noise-tables` on an AVX-512 machine to table them too",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="wgan-parity-noise-") as work:
        fresh = Path(work) / "tables"
        fresh.mkdir()
        for stack in runnable(stacks, host):
            print(f"== {stack.name}", file=sys.stderr, flush=True)
            cmd = invocation.argv(
                "dump",
                *("--backend", "reference", "--noise", "measure"),
                *("--write-noise-table", fresh, "--out", Path(work) / f"{stack.name}.npz"),
                "--quiet",
                python=python,
            )
            environ = {
                **os.environ,
                "OPENBLAS_CORETYPE": stack.openblas_coretype,
                "NPY_DISABLE_CPU_FEATURES": stack.npy_disabled,
            }
            done = runner(cmd, env=environ, check=False, text=True)
            if done.returncode != 0:
                print(
                    f"noise tables: the measuring dump of stack {stack.name} exited "
                    f"{done.returncode} (expected 0); {tables} is unchanged. Fix the dump "
                    f"(`{' '.join(map(str, cmd))}` with OPENBLAS_CORETYPE="
                    f"{stack.openblas_coretype}), then re-run.",
                    file=sys.stderr,
                )
                return int(ExitCode.ENV_PROBLEM)
        tables.mkdir(parents=True, exist_ok=True)
        for old in tables.glob("noise-*.json.gz"):
            old.unlink()
        for new in sorted(fresh.glob("noise-*.json.gz")):
            shutil.move(str(new), tables / new.name)
    for path in sorted(tables.glob("noise-*.json.gz")):
        print(f"{path} ({path.stat().st_size} bytes)", file=sys.stderr)
    return 0
