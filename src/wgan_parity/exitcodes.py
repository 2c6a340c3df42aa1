"""The exit codes of every ``wgan-parity`` command and of the runner (standard library only).

Bits combine: ``DIVERGED | ENV_PROBLEM`` (5) means some row diverged *and* some env could not run.
``USAGE`` (2) and ``INTERNAL`` (3) stand alone: a command that was misused or crashed decided
nothing about the numbers, and CI must not read a crash as a divergence (Python's own exit code
for an uncaught exception is 1).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntFlag):
    """0 ok; 1 diverged or regressed; 4 an env could not run; 5 both; 2 usage; 3 internal error."""

    OK = 0
    DIVERGED = 1
    USAGE = 2
    INTERNAL = 3
    ENV_PROBLEM = 4
