"""The exit codes of every ``wgan-parity`` command and of the runner (standard library only).

Bits combine: ``DIVERGED | ENV_PROBLEM`` (5) means some row diverged *and* some env could not run.
``USAGE`` (2) and ``INTERNAL`` (8) stand alone: a command that was misused or crashed decided
nothing about the numbers. No code shares a bit with ``DIVERGED`` unless it means "diverged", so
a CI script that tests ``rc & 1`` never reads a crash as a divergence (Python's own exit code for
an uncaught exception is 1: the CLI catches it and returns 8).

:data:`MEANINGS` is the one table of what each code means: the README's table, the workflow's
summary and the help texts are checked against it.
"""

from __future__ import annotations

import enum
from typing import Dict


class ExitCode(enum.IntFlag):
    """0 ok; 1 diverged or regressed; 4 an env could not run; 5 both; 2 usage; 8 internal error."""

    OK = 0
    DIVERGED = 1
    USAGE = 2
    ENV_PROBLEM = 4
    INTERNAL = 8


MEANINGS: Dict[int, str] = {
    0: "everything ran and nothing diverged",
    1: "some row diverged (outside the known divergences) or regressed against the baseline",
    4: "some environment could not run, or an input was corrupt; the rest was still compared",
    5: "both 1 and 4",
    2: "usage error, said before any work starts",
    8: "internal error of the tool: one line on stderr, the traceback in a log file",
}


def summary() -> str:
    """The table in one line: ``0 ok, 1 diverged/regressed, ...`` for logs and help texts."""
    short = {0: "ok", 1: "diverged/regressed", 4: "env(s) could not run", 5: "both",
             2: "usage", 8: "internal error"}  # fmt: skip
    return ", ".join(f"{code} {short[code]}" for code in MEANINGS)
