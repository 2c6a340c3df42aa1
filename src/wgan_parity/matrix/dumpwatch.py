"""Progress inside a running dump: which case, time elapsed, an estimate of what is left.

``wgan-parity dump --progress-file F`` rewrites ``F`` (JSON, atomically) after every case. While
the dump runs, :class:`DumpWatch` reads it once a second and reports a line when cases finish:
``14/34 good_discriminator.seed done; next good_generator.random (2:31 elapsed, ~3:40 left)``.
The estimate scales the remaining cases' times in this env's previous dump (``<env>.times.json``,
kept next to the dumps) by how fast this one has gone so far; without a previous dump it assumes
the rest takes as long per case as what is done. Standard library only.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable, Dict, Optional


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour)."""
    whole = int(max(seconds, 0))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def estimate_left(state: Dict, previous: Dict[str, float]) -> Optional[float]:
    """Seconds left: the remaining cases' previous times, scaled by this run's pace so far.

    ``previous`` maps case -> seconds in catalog order (the last dump of this env); when it does
    not cover this run's cases, the rest is assumed to take as long per case as what is done.
    """
    done, total, elapsed = int(state["done"]), int(state["total"]), float(state["elapsed_s"])
    if done <= 0:
        return None
    if done >= total:
        return 0.0
    order = list(previous)
    if len(order) == total and order[done - 1] == state.get("case"):
        before = sum(previous[c] for c in order[:done])
        pace = elapsed / before if before > 0 else 1.0
        return pace * sum(previous[c] for c in order[done:])
    return elapsed / done * (total - done)


def read_state(path: Path) -> Optional[Dict]:
    """The progress file's content, or None while it is absent or being replaced."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (
        state if isinstance(state, dict) and {"done", "total", "elapsed_s"} <= set(state) else None
    )


class DumpWatch:
    """Polls a dump's progress file in a thread and calls ``report`` once per finished case."""

    def __init__(
        self,
        path: Path,
        report: Callable[[str], None],
        previous: Optional[Dict[str, float]] = None,
        interval_s: float = 1.0,
    ) -> None:
        self.path, self.report, self.previous = path, report, previous or {}
        self.interval_s = interval_s
        self.last: Dict = {}
        self._seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> DumpWatch:
        self.path.unlink(missing_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.poll()  # the last case, if it finished between two polls
        self.path.unlink(missing_ok=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()

    def poll(self) -> None:
        """Report the cases finished since the last poll (the newest state only)."""
        state = read_state(self.path)
        if state is None or int(state["done"]) <= self._seen:
            return
        self._seen = int(state["done"])
        self.last = state
        left = estimate_left(state, self.previous)
        tail = f", ~{clock(left)} left" if left else ""
        following = f"; next {state['next']}" if state.get("next") else ""
        self.report(
            f"{state['done']}/{state['total']} {state.get('case', '')} done{following} "
            f"({clock(float(state['elapsed_s']))} elapsed{tail})"
        )
