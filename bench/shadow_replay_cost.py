"""What the shadow replay adds to a dump: per composite case, the case itself against its replay.

    python bench/shadow_replay_cost.py [BACKEND]   # in a venv with the framework (default torch)

Prints, per composite case, the seconds of ``run_case`` (forward, backward, taps) and of the
replay (the float64 truth's whole-batch forward pass, then the backend's forward pass on the
truth's input at every tap), and the replay's peak bytes of truth taps (float32).
"""

from __future__ import annotations

import sys
import time

from wgan_parity.backends import load_backend
from wgan_parity.core.catalog import CATALOG
from wgan_parity.core.fixtures import make_fixtures
from wgan_parity.dump import shadow
from wgan_parity.dump.case_runner import run_case
from wgan_parity.dump.repro_plan import COMPOSITE_BLOCKS


def main() -> None:
    """One line per composite case, then the totals."""
    name = sys.argv[1] if len(sys.argv) > 1 else "torch"
    backend, truth = load_backend(name), load_backend("reference")
    totals = [0.0, 0.0, 0.0]
    print(f"{name}: case, run_case s, truth taps s, replay s, truth taps MB")
    for case in [c for c in CATALOG if c.block in COMPOSITE_BLOCKS]:
        fixtures = make_fixtures(case)
        started = time.perf_counter()
        run_case(backend, case, fixtures)
        ran = time.perf_counter()
        taps = shadow.truth_taps(truth, case, fixtures)
        truthed = time.perf_counter()
        shadow.replay(backend, case, fixtures, taps)
        done = time.perf_counter()
        mb = sum(v.nbytes for v in taps.values()) / 1e6
        times = (ran - started, truthed - ran, done - truthed)
        totals = [t + s for t, s in zip(totals, times)]
        print(f"{case.name:28s} {times[0]:7.2f} {times[1]:7.2f} {times[2]:7.2f} {mb:8.0f}")
    print(f"{'total':28s} {totals[0]:7.2f} {totals[1]:7.2f} {totals[2]:7.2f}")
    print(f"the replay adds {100 * (totals[1] + totals[2]) / totals[0]:.0f}% to these cases")


if __name__ == "__main__":
    main()
