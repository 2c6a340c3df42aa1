"""How any part of the project starts a ``wgan-parity`` command (standard library only)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Union


def argv(
    command: str, *args: Union[str, Path], python: Union[str, Path] = sys.executable
) -> List[str]:
    """``python -m wgan_parity COMMAND ARGS...``: how the runner, tests and benches start one."""
    return [str(python), "-m", "wgan_parity", command, *map(str, args)]
