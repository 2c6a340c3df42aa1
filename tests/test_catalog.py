"""The catalog is data: unique names, every seed row covered, non-square probes, seeded fixtures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from wgan_parity.core.blocks import BLOCKS
from wgan_parity.core.catalog import CATALOG, Case, validate
from wgan_parity.core.fixtures import SEED_WEIGHT, catalog_hash, make_fixtures

SEED_ROWS = {
    "gen_data",
    "depth to space",
    "conv2d",
    "ConvMeanPool",
    "MeanPoolConv",
    "UpsampleConv",
    "ResidualBlock_Up",
    "ResidualBlock_Down",
    "Generator",
    "D_input",
    "Discriminator",
    "GradOfDisc",
    "LayerNorm-Forward",
    "LayerNorm-Backward",
    "BatchNorm",
    "BatchNorm-Backward",
}


def test_every_seed_row_is_covered_once() -> None:
    rows = [row for case in CATALOG for row, _ in case.seed_rows]
    assert sorted(rows) == sorted(SEED_ROWS)


def test_names_are_unique_and_enforced() -> None:
    assert len({c.name for c in CATALOG}) == len(CATALOG)
    with pytest.raises(ValueError, match="duplicate case name"):
        validate([CATALOG[0], CATALOG[0]])


def test_unknown_block_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown block"):
        validate([dataclasses.replace(CATALOG[0], block="nope")])


def test_seed_shapes() -> None:
    by_name = {c.name: c for c in CATALOG}
    assert BLOCKS["conv2d"].input_shape(by_name["conv2d.seed"].config) == (512, 12, 32, 32)
    assert by_name["conv2d.seed"].config["cout"] == 4
    assert BLOCKS["good_discriminator"].input_shape(by_name["good_discriminator.seed"].config) == (
        1024,
        12288,
    )
    assert BLOCKS["gradient_penalty"].input_shape(by_name["gradient_penalty.seed"].config) == (
        512,
        12288,
    )
    assert BLOCKS["good_generator"].input_shape(by_name["good_generator.seed"].config) == (64, 128)
    assert BLOCKS["layer_norm"].input_shape(by_name["layer_norm.seed"].config) == (68, 3, 64, 64)


def test_probes_are_non_square() -> None:
    probes = [c for c in CATALOG if c.name.endswith(".probe")]
    assert len(probes) >= 9
    for case in probes:
        cfg = case.config
        assert cfg["h"] != cfg["w"], case.name
        if "cout" in cfg and case.block != "depth_to_space":
            assert cfg["cin"] != cfg["cout"], case.name


def test_every_weighted_block_has_both_modes() -> None:
    for block in {c.block for c in CATALOG if BLOCKS[c.block].params(c.config)}:
        modes = {c.weights for c in CATALOG if c.block == block}
        assert modes == {"seed", "random"}, block


def test_seed_mode_fixtures() -> None:
    fx = make_fixtures(next(c for c in CATALOG if c.name == "residual_down.seed"))
    assert np.all(fx.args["conv1.w"] == np.float32(SEED_WEIGHT))
    assert np.all(fx.args["shortcut.b"] == 0)
    assert np.all(fx.args["norm1.scale"] == 1)
    x = fx.args["x"]
    assert x.min() >= 0
    assert x.max() <= 1
    np.testing.assert_allclose(x * 100, np.round(x * 100), atol=1e-4)  # 2 decimals (as float32)


def test_random_mode_fixtures_are_float32_exact_asymmetric_and_seeded() -> None:
    case = next(c for c in CATALOG if c.name == "residual_up.random")
    a, b = make_fixtures(case), make_fixtures(case)
    for name, value in a.args.items():
        np.testing.assert_array_equal(value, b.args[name])
        np.testing.assert_array_equal(value, value.astype(np.float32).astype(np.float64))
    w = a.args["conv1.w"]
    assert not np.allclose(w, np.transpose(w, (0, 1, 3, 2))), "kernels must not be symmetric"
    assert not np.allclose(a.args["norm1.scale"], 1.0)
    assert not np.allclose(a.args["norm1.offset"], 0.0)
    other = make_fixtures(dataclasses.replace(case, seed=case.seed + 100))
    assert not np.array_equal(a.args["x"], other.args["x"])


def test_hash_covers_definition_and_fixtures() -> None:
    cases = tuple(c for c in CATALOG if c.name.endswith(".probe"))[:2]
    base = catalog_hash(cases)
    assert catalog_hash(cases) == base
    changed: Case = dataclasses.replace(cases[0], seed=cases[0].seed + 1)
    assert catalog_hash((changed, cases[1])) != base
