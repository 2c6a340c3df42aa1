"""Progress lines for a matrix run: one line per env event; a live bar on a terminal.

Plain mode (CI, pipes, ``--plain``) prints only the permanent lines. Terminal mode also keeps a
one-line bar at the bottom (done/total, current env and stage, elapsed time) redrawn each second.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Mapping, Optional, TextIO


def use_bar(stream: TextIO, environ: Optional[Mapping[str, str]] = None) -> bool:
    """A bar only on an interactive terminal and never in CI."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    return bool(getattr(stream, "isatty", lambda: False)()) and not env.get("CI")


class Progress:
    """Prints ``[ i/n] env: event (duration)`` lines; optionally a live bar below them."""

    def __init__(self, total: int, stream: Optional[TextIO] = None, bar: Optional[bool] = None):
        self.total = total
        self.stream = stream or sys.stderr
        self.bar = use_bar(self.stream) if bar is None else bar
        self.done = 0
        self.index = 0
        self._current = ""
        self._stage = ""
        self._since = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: Optional[threading.Thread] = None
        if self.bar:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def start(self, env_id: str) -> None:
        """An env starts."""
        self.index += 1
        self._current, self._stage, self._since = env_id, "starting", time.monotonic()
        self.line(f"{env_id}: start")

    def stage(self, stage: str) -> None:
        """The current env enters ``stage`` (shown in the bar only)."""
        self._stage, self._since = stage, time.monotonic()
        self._draw()

    def event(self, env_id: str, what: str, seconds: Optional[float] = None, final: bool = False):
        """A permanent line: ``installed``, ``dumped``, ``cached``, ``failed (...)``."""
        took = f" in {seconds:.1f} s" if seconds is not None else ""
        if final:
            self.done += 1
        self.line(f"{env_id}: {what}{took}")

    def line(self, text: str, index: Optional[int] = None) -> None:
        """Print one permanent line (above the bar), numbered ``index`` (default: the current)."""
        with self._lock:
            number = self.index if index is None else index
            prefix = f"[{number:>{len(str(self.total))}}/{self.total}] " if self.total else ""
            clear = "\r\033[K" if self.bar else ""
            self.stream.write(f"{clear}{prefix}{text}\n")
            self.stream.flush()
        self._draw()

    def close(self) -> None:
        """Stop the bar and clear it."""
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=2)
            with self._lock:
                self.stream.write("\r\033[K")
                self.stream.flush()

    def _draw(self) -> None:
        if not self.bar or self._stop.is_set():
            return
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        elapsed = int(time.monotonic() - self._since)
        text = (
            f"[{'#' * filled}{'-' * (width - filled)}] {self.done}/{self.total} "
            f"{self._current} {self._stage} {elapsed // 60}:{elapsed % 60:02d}"
        )
        with self._lock:
            self.stream.write(f"\r\033[K{text}")
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._draw()
