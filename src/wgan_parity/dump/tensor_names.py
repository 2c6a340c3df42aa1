"""The tensors each catalog case produces, recorded for the parity tests' ids.

``tests/data/parity_tensors.json`` maps case -> tensor names, so pytest lists one id per
(case, tensor, framework) without running anything. ``wgan-parity regen parity-tensors`` rewrites
it (``--check``: exit 1 when it drifted from the model); the names are found by running each
case small (batch 2) on the NumPy float32 backend.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from wgan_parity import atomic
from wgan_parity.core.catalog import CATALOG, Case

#: The file, relative to the project root (it belongs to the tests, not to the package).
TENSORS_FILE = Path("tests") / "data" / "parity_tensors.json"
REGEN = "wgan-parity regen parity-tensors"


def shrunk(case: Case) -> Case:
    """The same case at batch 2: same tensor names, a fraction of the cost."""
    dims = tuple(
        (k, 2 if k == "batch" else (2, *v[1:]) if k == "shape" else v) for k, v in case.dims
    )
    return dataclasses.replace(case, dims=dims)


def run_tensor_names(case: Case) -> Tuple[str, ...]:
    """The tensors ``case`` produces, found by running it small on the NumPy float32 backend."""
    from wgan_parity.backends import load_backend
    from wgan_parity.core.fixtures import make_fixtures
    from wgan_parity.dump.case_runner import run_case

    small = shrunk(case)
    return tuple(run_case(load_backend("reference32"), small, make_fixtures(small)))


def load(path: Path) -> Dict[str, Tuple[str, ...]]:
    """case -> tensors, as recorded in ``path`` ({} when it is missing)."""
    if not path.exists():
        return {}
    return {k: tuple(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}


def found(cases: Sequence[Case] = CATALOG) -> Dict[str, Tuple[str, ...]]:
    """case -> tensors, found by running every case small."""
    return {case.name: run_tensor_names(case) for case in cases}


def drift(path: Path, now: Optional[Dict[str, Tuple[str, ...]]] = None) -> Optional[str]:
    """Why ``path`` is out of date with the catalog, or None when it is current."""
    recorded, now = load(path), found() if now is None else now
    stale = sorted(set(recorded) - set(now))
    if stale:
        return f"{path.name} lists cases no longer in the catalog: {stale}; run `{REGEN}`"
    drifted = {
        name: {"recorded": list(recorded.get(name, ())), "found": list(tensors)}
        for name, tensors in now.items()
        if recorded.get(name) != tensors
    }
    if drifted:
        return f"{path.name} is out of date: {json.dumps(drifted)}; run `{REGEN}`"
    return None


def write(path: Path) -> Dict[str, List[str]]:
    """Run every case small and record its tensors in ``path`` (atomically)."""
    names = {name: list(tensors) for name, tensors in found().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(names, indent=1) + "\n")
    return names
