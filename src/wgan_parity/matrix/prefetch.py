"""Install the next envs while one dumps: one background thread, the dumps stay one at a time.

The runner takes the envs in order. For each, it first asks :meth:`Installer.wait` for what the
installer did: the installer locks env ``i`` and, unless its dump is cached, builds its venv, as
soon as the runner has reached env ``i - ahead``. Installs are mostly downloads and unpacking,
so they overlap a dump well; the dumps themselves run alone, so their times stay comparable.

Disk: the installer checks the free disk as a sequential run would, with every venv that exists
at that moment counted. With ``--delete-venvs``, a check that fails while the env before is still
dumping waits until that env's venv is deleted, then checks again (then at most two venvs exist
at once: the one dumping and the one being installed).
"""

from __future__ import annotations

import functools
import threading
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from wgan_parity.matrix.envtable import EnvSpec

#: ``prepare(index, env, wait_for_previous)`` -> (began an install, its failure or None).
Prepare = Callable[[int, EnvSpec, Callable[[], None]], Tuple[bool, Optional[BaseException]]]


class Installer:
    """Prepares ``envs`` in order on a daemon thread, at most ``ahead`` envs before the runner."""

    def __init__(self, envs: Sequence[EnvSpec], prepare: Prepare, ahead: int = 1) -> None:
        if ahead < 0:
            raise ValueError(f"install-ahead must be 0 or more, found {ahead}")
        self.envs: List[EnvSpec] = list(envs)
        self.ahead = ahead
        self._prepare = prepare
        self._cond = threading.Condition()
        self._reached = -1  # the env the runner is at
        self._finished = -1  # the last env the runner finished (venv deleted if asked)
        self._outcomes: Dict[int, Tuple[bool, Optional[BaseException]]] = {}
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="wgan-parity-install", daemon=True)

    def __enter__(self) -> Installer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=None if exc[0] is None else 5.0)

    def wait(self, index: int) -> Tuple[bool, Optional[BaseException]]:
        """The runner reached env ``index``: (whether an install began, its failure or None)."""
        with self._cond:
            self._reached = max(self._reached, index)
            self._cond.notify_all()
            self._cond.wait_for(lambda: index in self._outcomes or not self._thread.is_alive())
            if index not in self._outcomes:
                raise RuntimeError(f"the install thread stopped before env {self.envs[index].id}")
            return self._outcomes.pop(index)

    def finished(self, index: int) -> None:
        """The runner is done with env ``index`` (dumped, venv deleted if asked)."""
        with self._cond:
            self._finished = max(self._finished, index)
            self._cond.notify_all()

    def _loop(self) -> None:
        for index, env in enumerate(self.envs):
            with self._cond:
                self._cond.wait_for(functools.partial(self._may_start, index))
                if self._stopped:
                    return
            try:
                previous = functools.partial(self._wait_finished, index - 1)
                outcome = self._prepare(index, env, previous)
            except BaseException as exc:  # handed to the runner, which records the env
                outcome = (True, exc)
            with self._cond:
                self._outcomes[index] = outcome
                self._cond.notify_all()

    def _may_start(self, index: int) -> bool:
        return self._stopped or self._reached >= index - self.ahead

    def _wait_finished(self, index: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._stopped or self._finished >= index)


class Background:
    """What an install ahead shows: its own lines with its env's index, no stage in the bar."""

    def __init__(self, line: Callable[..., None], index: int) -> None:
        self._line = line
        self._index = index

    def stage(self, stage: str) -> None:
        """The bar shows the dumping env's stage, not this one's."""

    def event(self, env_id: str, what: str, seconds: Optional[float] = None) -> None:
        """``[i/n] env: installed in 12.3 s``, ``i`` being this env's place in the run."""
        took = f" in {seconds:.1f} s" if seconds is not None else ""
        self._line(f"{env_id}: {what}{took}", index=self._index)
