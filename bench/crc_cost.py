"""What checking every member's CRC-32 costs the aggregation: one run with, one without.

    python bench/crc_cost.py dumps/            # the default set's real dumps (nox -s compare)

Prints the wall time of `wgan-parity aggregate` over the same dumps with the check on and off
(in this process, one after the other, so the page cache is warm for both), and the bytes read.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from wgan_parity.cli import main
from wgan_parity.compare import member_reader


def timed(folder: Path, verify: bool) -> float:
    """Seconds for one aggregation of ``folder`` with the CRC check on or off."""
    member_reader.VERIFY_CRC = verify
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        code = main(["aggregate", str(folder), "--out", out, "--quiet", "--calibration", "none"])
        took = time.perf_counter() - start
    if code not in (0, 1, 4, 5):
        raise SystemExit(f"aggregate exited {code}")
    return took


def main_bench(argv: list) -> int:
    folder = Path(argv[0] if argv else "dumps")
    size = sum(p.stat().st_size for p in folder.glob("*.npz"))
    timed(folder, False)  # warm the page cache
    off = timed(folder, False)
    on = timed(folder, True)
    print(f"{folder}: {size / 2**30:.2f} GiB of dumps")
    print(f"aggregate without the CRC check: {off:.1f} s")
    print(f"aggregate with the CRC check:    {on:.1f} s  (+{100 * (on - off) / off:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main_bench(sys.argv[1:]))
