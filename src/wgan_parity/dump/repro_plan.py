"""Which ops make a tap, and what they read: the segments a reproducer starts from.

A composite case is a chain of *segments*, one per tap: the ops between the tap's input and the
tap (``conv1`` of an up block is relu, the four-fold concatenation, depth_to_space and a conv
without bias). :func:`segments` lists them from the case's configuration, as
:mod:`wgan_parity.core.model` builds the block; a layer case is one segment, its block.
:func:`segment_input` gives a segment's float64 input from the truth's whole-batch taps
(:func:`~wgan_parity.dump.shadow.truth_taps`). ``tests/test_repro.py`` checks every segment of
every composite case: its NumPy chain on that input gives the truth's tap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from wgan_parity.core.catalog import Case
from wgan_parity.core.fixtures import Fixtures
from wgan_parity.core.model import join

INPUT = "x"  # every block's input argument
COMPOSITE_BLOCKS = ("residual_block", "good_generator", "good_discriminator", "gradient_penalty")


@dataclass(frozen=True)
class Segment:
    """The ops that make one tap (``tap`` "" for a layer case's whole block).

    ``source`` is where the input comes from (the case's input, or a tap), ``reshape`` how
    that value is reshaped first, and ``params`` the case parameters the ops take, in order.
    """

    tap: str
    ops: Tuple[str, ...]
    source: str
    params: Tuple[str, ...] = ()
    reshape: Optional[Tuple[int, ...]] = None


_LAYERS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "batch_norm": (("batch_norm",), ("scale", "offset")),
    "layer_norm": (("layer_norm",), ("scale", "offset")),
    "conv2d": (("conv2d",), ("w", "b")),
    "conv_mean_pool": (("conv2d", "mean_pool"), ("w", "b")),
    "mean_pool_conv": (("mean_pool", "conv2d"), ("w", "b")),
    "upsample_conv": (("tile4", "depth_to_space", "conv2d"), ("w", "b")),
    "depth_to_space": (("depth_to_space",), ()),
}


def residual(scope: str, resample: str, norm: str, source: str,
             reshape: Optional[Tuple[int, ...]] = None) -> List[Segment]:  # fmt: skip
    """The five segments of a residual block (its output only adds two taps)."""
    up = resample == "up"
    norm_op = f"{norm}_norm"

    def names(layer: str, *keys: str) -> Tuple[str, ...]:
        return tuple(join(scope, f"{layer}.{key}") for key in keys)

    upsample = ("tile4", "depth_to_space")
    return [
        Segment(
            join(scope, "shortcut"),
            (*upsample, "conv2d") if up else ("mean_pool", "conv2d"),
            source,
            names("shortcut", "w", "b"),
            reshape,
        ),
        Segment(
            join(scope, "norm1"), (norm_op,), source, names("norm1", "scale", "offset"), reshape
        ),
        Segment(
            join(scope, "conv1"),
            ("relu", *upsample, "conv2d_nobias") if up else ("relu", "conv2d_nobias"),
            join(scope, "norm1"),
            names("conv1", "w"),
        ),
        Segment(
            join(scope, "norm2"),
            (norm_op,),
            join(scope, "conv1"),
            names("norm2", "scale", "offset"),
        ),
        Segment(
            join(scope, "conv2"),
            ("relu", "conv2d") if up else ("relu", "conv2d", "mean_pool"),
            join(scope, "norm2"),
            names("conv2", "w", "b"),
        ),
    ]


def segments(case: Case) -> List[Segment]:
    """Every segment of ``case``, in forward order."""
    config = case.config
    if case.block in _LAYERS:
        ops, params = _LAYERS[case.block]
        return [Segment("", ops, INPUT, params)]
    if case.block == "residual_block":
        return residual("", config["resample"], config["norm"], INPUT)
    dim = int(config.get("dim", 0))
    if case.block == "good_generator":
        found = [Segment("input", ("linear",), INPUT, ("input.w", "input.b"))]
        source: str = "input"
        reshape: Optional[Tuple[int, ...]] = (-1, 8 * dim, 4, 4)
        for i in range(1, 5):
            found += residual(f"res{i}", "up", "batch", source, reshape)
            source, reshape = f"res{i}", None
        found += [
            Segment(
                "output_norm", ("batch_norm",), source, ("output_norm.scale", "output_norm.offset")
            ),
            Segment("output_conv", ("relu", "conv2d"), "output_norm", ("output.w", "output.b")),
        ]
        return found
    if case.block in ("good_discriminator", "gradient_penalty"):
        found = [Segment("input", ("conv2d",), INPUT, ("input.w", "input.b"), (-1, 3, 64, 64))]
        source = "input"
        for i in range(1, 5):
            found += residual(f"res{i}", "down", "layer", source)
            source = f"res{i}"
        return found
    return []


def find(case: Case, tap: str) -> Segment:
    """The segment of ``tap`` ("" for a layer case); :class:`KeyError` names the taps there are."""
    for segment in segments(case):
        if segment.tap == tap:
            return segment
    known = [s.tap for s in segments(case)]
    raise KeyError(f"{case.name}: no segment makes tap {tap!r}; its segments: {known}")


def upstream(case: Case, tap: str) -> List[Segment]:
    """``tap``'s segment, then it joined with 1, 2, ... segments upstream along its input.

    A layer that is accurate on the truth's input can still diverge where its producer runs
    with it (a compiler fuses them): the longer chains find that.
    """
    by_tap = {s.tap: s for s in segments(case)}
    chain = [find(case, tap)]
    while chain[0].source in by_tap:
        chain.insert(0, by_tap[chain[0].source])
    return [joined(chain[k:]) for k in range(len(chain) - 1, -1, -1)]


def joined(chain: List[Segment]) -> Segment:
    """Consecutive segments as one: the first's input, every op and parameter, the last's tap."""
    first, last = chain[0], chain[-1]
    ops = tuple(op for s in chain for op in s.ops)
    params = tuple(p for s in chain for p in s.params)
    return Segment(last.tap, ops, first.source, params, first.reshape)


def segment_input(segment: Segment, fixtures: Fixtures, truth: Mapping[str, Any]) -> np.ndarray:
    """The segment's float64 input: the case's input or the truth's tap, reshaped like the model."""
    value = fixtures.args[INPUT] if segment.source == INPUT else truth[segment.source]
    array = np.asarray(value, dtype=np.float64)
    return array.reshape(segment.reshape) if segment.reshape else array


def segment_params(segment: Segment, fixtures: Fixtures) -> List[np.ndarray]:
    """The segment's parameters from the case's fixtures, float64, in op order."""
    return [np.asarray(fixtures.args[name], dtype=np.float64) for name in segment.params]
