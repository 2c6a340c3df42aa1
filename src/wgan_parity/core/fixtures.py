"""Seeded NumPy fixtures: inputs, weights and the projection tensor ``R`` of every case.

All values are drawn from NumPy's PCG64 uniform stream (bit-exact across NumPy releases and
platforms: no transcendental functions), transformed affinely, then rounded to float32, so the
float64 reference and the float32 frameworks see the very same numbers. Each tensor has its own
stream, keyed by the case seed and the tensor's name, so adding a parameter changes no other value.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional

import numpy as np

from wgan_parity.core.blocks import BLOCKS, ParamSpec
from wgan_parity.core.catalog import CATALOG, Case, catalog_json
from wgan_parity.core.compat import require_pcg64

SEED_WEIGHT = 5e-2
PROJECTION = "R"


@dataclass(frozen=True)
class Fixtures:
    """Float64 arrays (float32-representable) of one case: ``args`` (``x`` and params) and ``R``."""

    args: Dict[str, np.ndarray]
    projection: np.ndarray

    def digest(self) -> str:
        """sha256 over every tensor's name, shape and float32 bytes, in sorted order."""
        h = hashlib.sha256()
        for name, array in sorted({**self.args, PROJECTION: self.projection}.items()):
            h.update(f"{name}:{array.shape};".encode())
            h.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        return h.hexdigest()


def _stream(case: Case, name: str) -> Any:
    require_pcg64()
    return np.random.default_rng([case.seed, zlib.crc32(name.encode("utf-8"))])


def _f32(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def _uniform(rng: Any, shape: tuple, low: float, high: float) -> np.ndarray:
    return _f32(low + (high - low) * rng.random(shape))


def make_input(case: Case, shape: tuple) -> np.ndarray:
    """Seed mode: uniform [0, 1) rounded to 2 decimals; random mode: uniform [-1, 1)."""
    rng = _stream(case, "x")
    if case.weights == "seed":
        return _f32(np.round(rng.random(shape), 2))
    return _uniform(rng, shape, -1.0, 1.0)


def make_param(case: Case, name: str, spec: ParamSpec) -> np.ndarray:
    """One parameter: seed mode constants, or tflib-style random initialisation."""
    if case.weights == "seed":
        value = {"weight": SEED_WEIGHT, "bias": 0.0, "scale": 1.0, "offset": 0.0}[spec.init]
        return _f32(np.full(spec.shape, value))
    rng = _stream(case, name)
    if spec.init == "weight":
        half = spec.stdev * np.sqrt(3.0)
        return _uniform(rng, spec.shape, -half, half)
    low, high = {"bias": (-0.1, 0.1), "scale": (0.5, 1.5), "offset": (-0.5, 0.5)}[spec.init]
    return _uniform(rng, spec.shape, low, high)


def make_fixtures(case: Case) -> Fixtures:
    """All inputs, parameters and the projection ``R`` (uniform [-1, 1), shape of ``out``)."""
    block = BLOCKS[case.block]
    config = case.config
    args = {"x": make_input(case, block.input_shape(config))}
    for name, spec in block.params(config).items():
        args[name] = make_param(case, name, spec)
    projection = _uniform(_stream(case, PROJECTION), block.output_shape(config), -1.0, 1.0)
    return Fixtures(args, projection)


def catalog_hash(cases: Iterable[Case] = CATALOG, known: Optional[Dict[str, str]] = None) -> str:
    """sha256 of the catalog definition and every case's fixture digest.

    ``known`` maps case names to digests already computed (a dump computes them as it runs);
    the fixtures of the other cases are generated here.
    """
    cases = tuple(cases)
    known = known or {}
    h = hashlib.sha256(catalog_json(cases).encode("utf-8"))
    for case in cases:
        digest = known.get(case.name) or make_fixtures(case).digest()
        h.update(f"{case.name}={digest};".encode())
    return h.hexdigest()
