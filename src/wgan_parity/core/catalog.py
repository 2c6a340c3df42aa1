"""The case catalog, as data: every comparison is one frozen :class:`Case` entry.

Adding a case means adding one entry to :data:`CATALOG`; no test code changes. The ``seed``
weight mode reproduces the seed repository's setup (constant 5e-2 weights, zero biases, unit
norm scale, inputs uniform [0, 1) rounded to 2 decimals, now seeded); ``random`` draws tflib-style
initialisers and non-trivial norm scale/offset; ``probe`` cases use non-square shapes
(H != W, C_in != C_out) with random weights, because symmetric data hides transposition bugs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, Tuple

from wgan_parity.core.blocks import BLOCKS

WEIGHT_MODES = ("seed", "random")
TENSOR_KINDS = ("out", "grad", "seedgrad", "aux", "tap")


@dataclass(frozen=True)
class Case:
    """One comparison: a block at given dimensions, a weight mode and a seed.

    ``seed_rows`` maps rows of the seed README's table to this case's tensors, e.g.
    ``(("LayerNorm-Backward", "seedgrad/x"),)``. ``seed_cost`` adds the gradients of the seed's
    own cost ``mean(out**2)``. Taps keep the first ``tap_samples`` samples of the batch.
    """

    name: str
    block: str
    dims: Tuple[Tuple[str, Any], ...]
    weights: str
    seed: int
    group: str
    seed_rows: Tuple[Tuple[str, str], ...] = ()
    seed_cost: bool = False
    tap_samples: int = 4
    compare: Tuple[str, ...] = TENSOR_KINDS

    @property
    def config(self) -> Dict[str, Any]:
        """The block dimensions as a dict."""
        return dict(self.dims)

    def to_json(self) -> Dict[str, Any]:
        """Plain-data form, used in the catalog hash."""
        return asdict(self)


# The seed's shapes: layer cases b=512, C=12, 32x32, conv 12->4, k=3.
_LAYER = (("batch", 512), ("cin", 12), ("cout", 4), ("h", 32), ("w", 32), ("k", 3))
# Non-square probes: H != W, C_in != C_out, odd sizes where the block allows.
_PROBE = (("batch", 6), ("cin", 5), ("cout", 7), ("h", 12), ("w", 20), ("k", 3))
_NORM = (("batch", 68), ("cin", 3), ("h", 64), ("w", 64))
_NORM_PROBE = (("batch", 6), ("cin", 5), ("h", 12), ("w", 20))


def _layer_cases(
    block: str, seed_row: str, group: str, base_seed: int, extra: tuple = ()
) -> Iterable[Case]:
    rows = ((seed_row, "out"),)
    yield Case(f"{block}.seed", block, _LAYER + extra, "seed", base_seed, group, rows)
    yield Case(f"{block}.random", block, _LAYER + extra, "random", base_seed + 1, group)
    yield Case(f"{block}.probe", block, _PROBE + extra, "random", base_seed + 2, group)


def _residual_cases(resample: str, norm: str, seed_row: str, base_seed: int) -> Iterable[Case]:
    extra = (("resample", resample), ("norm", norm))
    name = f"residual_{resample}"
    yield Case(
        f"{name}.seed",
        "residual_block",
        _LAYER + extra,
        "seed",
        base_seed,
        "residual",
        ((seed_row, "out"),),
    )
    yield Case(
        f"{name}.random", "residual_block", _LAYER + extra, "random", base_seed + 1, "residual"
    )
    yield Case(
        f"{name}.probe", "residual_block", _PROBE + extra, "random", base_seed + 2, "residual"
    )


def _norm_cases(block: str, label: str, base_seed: int) -> Iterable[Case]:
    rows = (
        (f"{label}-Forward" if block == "layer_norm" else label, "out"),
        (f"{label}-Backward", "seedgrad/x"),
    )
    yield Case(f"{block}.seed", block, _NORM, "seed", base_seed, "norm", rows, seed_cost=True)
    yield Case(f"{block}.random", block, _NORM, "random", base_seed + 1, "norm", seed_cost=True)
    yield Case(
        f"{block}.probe", block, _NORM_PROBE, "random", base_seed + 2, "norm", seed_cost=True
    )


def _model_cases(
    block: str, seed_row: str, group: str, batch: int, base_seed: int
) -> Iterable[Case]:
    dims = (("batch", batch), ("dim", 4))
    yield Case(f"{block}.seed", block, dims, "seed", base_seed, group, ((seed_row, "out"),))
    yield Case(f"{block}.random", block, dims, "random", base_seed + 1, group)


def _build() -> Tuple[Case, ...]:
    cases = [
        # Input sanity: the data round trip through the framework. No weights, so seed mode only.
        Case(
            "gen_data.seed",
            "identity",
            (("shape", (512, 12, 32, 32)),),
            "seed",
            100,
            "input",
            (("gen_data", "out"),),
        ),
        Case(
            "d_input.seed",
            "identity",
            (("shape", (1024, 3 * 64 * 64)),),
            "seed",
            110,
            "input",
            (("D_input", "out"),),
        ),
    ]
    cases += [
        Case(
            "depth_to_space.seed",
            "depth_to_space",
            _LAYER,
            "seed",
            200,
            "layer",
            (("depth to space", "out"),),
        ),
        Case(
            "depth_to_space.probe",
            "depth_to_space",
            (("batch", 6), ("cin", 12), ("h", 6), ("w", 10)),
            "random",
            202,
            "layer",
        ),
    ]
    cases += _layer_cases("conv2d", "conv2d", "layer", 300)
    cases += _layer_cases("conv_mean_pool", "ConvMeanPool", "layer", 400)
    cases += _layer_cases("mean_pool_conv", "MeanPoolConv", "layer", 500)
    cases += _layer_cases("upsample_conv", "UpsampleConv", "layer", 600)
    cases += _residual_cases("up", "batch", "ResidualBlock_Up", 700)
    cases += _residual_cases("down", "layer", "ResidualBlock_Down", 800)
    cases += _model_cases("good_generator", "Generator", "generator", 64, 900)
    cases += _model_cases("good_discriminator", "Discriminator", "discriminator", 1024, 1000)
    cases += _model_cases("gradient_penalty", "GradOfDisc", "gradient", 512, 1100)
    cases += _norm_cases("layer_norm", "LayerNorm", 1200)
    cases += _norm_cases("batch_norm", "BatchNorm", 1300)
    return validate(cases)


def validate(cases: Iterable[Case]) -> Tuple[Case, ...]:
    """Check names are unique, blocks known and modes valid; return the cases as a tuple."""
    seen: Dict[str, Case] = {}
    for case in cases:
        if case.name in seen:
            raise ValueError(f"duplicate case name {case.name!r}: case names must be unique")
        if case.block not in BLOCKS:
            raise ValueError(
                f"case {case.name!r}: unknown block {case.block!r}; known: {sorted(BLOCKS)}"
            )
        if case.weights not in WEIGHT_MODES:
            raise ValueError(
                f"case {case.name!r}: weights must be one of {WEIGHT_MODES}, found {case.weights!r}"
            )
        unknown = set(case.compare) - set(TENSOR_KINDS)
        if unknown:
            raise ValueError(
                f"case {case.name!r}: unknown tensor kinds {sorted(unknown)}; known: {TENSOR_KINDS}"
            )
        seen[case.name] = case
    return tuple(seen.values())


CATALOG: Tuple[Case, ...] = _build()


def catalog_json(cases: Iterable[Case] = CATALOG) -> str:
    """Canonical JSON of the catalog definition (the first half of the catalog hash)."""
    return json.dumps([c.to_json() for c in cases], sort_keys=True)


def select(patterns: Iterable[str] = ()) -> Tuple[Case, ...]:
    """Cases whose name matches any of the glob ``patterns`` (all cases if none given)."""
    import fnmatch

    patterns = list(patterns)
    if not patterns:
        return CATALOG
    chosen = tuple(c for c in CATALOG if any(fnmatch.fnmatchcase(c.name, p) for p in patterns))
    if not chosen:
        raise ValueError(f"no case matches {patterns}; known cases: {[c.name for c in CATALOG]}")
    return chosen
