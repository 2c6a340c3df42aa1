"""The float64 reference is itself tested: tiny hand-computed examples and finite differences."""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np
import pytest

from wgan_parity.backends import load_backend

ops = load_backend("reference")
RNG = np.random.default_rng(1234)


def test_conv2d_same_padding_hand_computed() -> None:
    x = np.arange(9, dtype=float).reshape(1, 1, 3, 3)  # [[0,1,2],[3,4,5],[6,7,8]]
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 1, 2] = 1.0  # picks the right neighbour (cross-correlation, not convolution)
    out = ops.conv2d(x, w, np.array([0.5]))
    expected = np.array([[1, 2, 0], [4, 5, 0], [7, 8, 0]], dtype=float) + 0.5
    np.testing.assert_array_equal(out[0, 0], expected)


def test_conv2d_sums_over_input_channels_per_output_channel() -> None:
    x = np.ones((1, 2, 2, 2))
    x[0, 1] *= 10.0
    w = np.zeros((3, 2, 1, 1))
    w[:, 0, 0, 0] = [1.0, 0.0, 2.0]
    w[:, 1, 0, 0] = [0.0, 1.0, 1.0]
    out = ops.conv2d(x, w)
    np.testing.assert_array_equal(out[0, :, 0, 0], [1.0, 10.0, 12.0])


def test_depth_to_space_dcr_hand_computed() -> None:
    # 4 channels of one pixel: DCR puts channel (i*2 + j) at offset (i, j).
    x = np.array([10.0, 20.0, 30.0, 40.0]).reshape(1, 4, 1, 1)
    np.testing.assert_array_equal(ops.depth_to_space(x, 2)[0, 0], [[10.0, 20.0], [30.0, 40.0]])


def test_mean_pool_hand_computed() -> None:
    x = np.array([[1.0, 2.0, 5.0, 6.0], [3.0, 4.0, 7.0, 8.0]]).reshape(1, 1, 2, 4)
    np.testing.assert_array_equal(ops.mean_pool(x)[0, 0], [[2.5, 6.5]])


def test_layer_norm_hand_computed() -> None:
    x = np.array([1.0, 3.0]).reshape(1, 2, 1, 1)  # mean 2, var 1
    out = ops.layer_norm(x, np.array([2.0, 1.0]), np.array([0.0, 5.0]), 0.0)
    np.testing.assert_allclose(out.ravel(), [-2.0, 6.0])


def test_batch_norm_uses_batch_statistics_per_channel() -> None:
    x = np.array([[1.0, 10.0], [3.0, 30.0]]).reshape(
        2, 2, 1, 1
    )  # channel 0: 1, 3; channel 1: 10, 30
    out = ops.batch_norm(x, np.ones(2), np.zeros(2), 0.0)
    np.testing.assert_allclose(out[:, :, 0, 0], [[-1.0, -1.0], [1.0, 1.0]])


def test_linear_uses_in_out_weight() -> None:
    out = ops.linear(
        np.array([[1.0, 2.0]]),
        np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]),
        np.array([0.0, 0.0, 1.0]),
    )
    np.testing.assert_array_equal(out, [[1.0, 2.0, 4.0]])


def _finite_difference_check(
    fn: Callable[[Dict[str, np.ndarray]], np.ndarray], args: Dict[str, np.ndarray]
) -> None:
    """Directional derivative of sum(fn * R) by central differences vs the autograd gradient."""
    out = fn(args)
    cotangent = RNG.standard_normal(np.shape(out))
    _, _, grads = ops.vjp(lambda a: (fn(a), {}), args, list(args), cotangent)
    direction = {k: RNG.standard_normal(v.shape) for k, v in args.items()}
    h = 1e-6
    plus = np.sum(fn({k: v + h * direction[k] for k, v in args.items()}) * cotangent)
    minus = np.sum(fn({k: v - h * direction[k] for k, v in args.items()}) * cotangent)
    numeric = (plus - minus) / (2 * h)
    analytic = sum(float(np.sum(grads[k] * direction[k])) for k in args)
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), (numeric, analytic)


def _conv_args(cin: int, cout: int, k: int) -> Dict[str, np.ndarray]:
    return {
        "x": RNG.standard_normal((2, cin, 6, 4)),
        "w": RNG.standard_normal((cout, cin, k, k)),
        "b": RNG.standard_normal(cout),
    }


@pytest.mark.parametrize("block", ["conv2d", "conv_mean_pool", "mean_pool_conv", "upsample_conv"])
def test_conv_blocks_gradients_match_finite_differences(block: str) -> None:
    _finite_difference_check(
        lambda a: getattr(ops, block)(a["x"], a["w"], a["b"]), _conv_args(3, 2, 3)
    )


@pytest.mark.parametrize("norm", ["layer_norm", "batch_norm"])
def test_norm_gradients_match_finite_differences(norm: str) -> None:
    args = {
        "x": RNG.standard_normal((3, 2, 4, 5)),
        "scale": RNG.uniform(0.5, 1.5, 2),
        "offset": RNG.standard_normal(2),
    }
    _finite_difference_check(
        lambda a: getattr(ops, norm)(a["x"], a["scale"], a["offset"], 1e-5), args
    )


@pytest.mark.parametrize(("resample", "norm"), [("down", "layer"), ("up", "batch")])
def test_residual_block_gradients_match_finite_differences(resample: str, norm: str) -> None:
    from wgan_parity.core.blocks import residual_params
    from wgan_parity.core.catalog import Case
    from wgan_parity.core.fixtures import make_param

    case = Case("fd", "residual_block", (), "random", 7, "residual")
    args = {k: make_param(case, k, s) for k, s in residual_params("", 3, 2, resample).items()}
    args["x"] = RNG.standard_normal((2, 3, 4, 6))
    _finite_difference_check(lambda a: ops.residual_block(a["x"], a, "", resample, norm), args)


def test_gradient_penalty_double_backward_matches_finite_differences() -> None:
    from wgan_parity.core.blocks import discriminator_params
    from wgan_parity.core.catalog import Case
    from wgan_parity.core.fixtures import make_param

    case = Case("fd", "gradient_penalty", (), "random", 11, "gradient")
    args = {k: make_param(case, k, s) for k, s in discriminator_params(1).items()}
    args["x"] = RNG.uniform(0, 1, (2, 3 * 64 * 64))
    _finite_difference_check(lambda a: ops.gradient_penalty(a["x"], a, 1), args)


def test_gradient_penalty_hand_computed_on_a_linear_critic() -> None:
    # D(x) = x . v per sample => grad_x D = v, penalty = 10 * (|v| - 1)^2 whatever x is.
    class Linear:
        @staticmethod
        def good_discriminator(x, p, dim, taps=None):
            return ops.linear(x, p["v"], np.zeros(1))[:, 0]

    from wgan_parity.core.model import gradient_penalty

    shim = type(
        "Shim",
        (),
        {
            "vjp": staticmethod(ops.vjp),
            "sqrt": staticmethod(ops.sqrt),
            "sum": staticmethod(ops.sum),
            "mean": staticmethod(ops.mean),
            "good_discriminator": Linear.good_discriminator,
        },
    )
    v = np.array([[3.0], [4.0]])  # |v| = 5
    assert gradient_penalty(shim, np.ones((7, 2)), {"v": v}, 1) == pytest.approx(10 * (5 - 1) ** 2)


def test_conv_weight_gradient_is_itself_differentiable() -> None:
    # The weight gradient as a function of (x, g): checks the adjoints of the adjoint.
    def weight_grad(a: Dict[str, np.ndarray]) -> np.ndarray:
        _, _, grads = ops.vjp(
            lambda b: (ops.conv2d(b["x"], b["w"]), {}), {"x": a["x"], "w": a["w"]}, ["w"], a["g"]
        )
        return grads["w"]

    args = {
        "x": RNG.standard_normal((2, 3, 5, 4)),
        "w": RNG.standard_normal((2, 3, 3, 3)),
        "g": RNG.standard_normal((2, 2, 5, 4)),
    }
    _finite_difference_check(weight_grad, args)


def _pullback(
    fn: Callable[[Dict[str, np.ndarray]], np.ndarray], args: Dict[str, np.ndarray], g: np.ndarray
) -> Dict[str, np.ndarray]:
    """Gradients of ``sum(fn(args) * g)`` straight from autograd (not through ``ops.vjp``)."""
    import autograd

    pullback, _ = autograd.make_vjp(fn)(args)
    return dict(pullback(g))


def _direct_correlation(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """SAME cross-correlation by a sum over the kernel offsets (no im2col, no chunks)."""
    k = w.shape[2]
    padded = np.pad(x, ((0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)))
    h, wd = x.shape[2], x.shape[3]
    return sum(
        np.einsum("oc,nchw->nohw", w[:, :, i, j], padded[:, :, i : i + h, j : j + wd])
        for i in range(k)
        for j in range(k)
    )


@pytest.mark.parametrize("chunk_bytes", [64 * 1024 * 1024, 4096])  # one chunk; many chunks
def test_conv_kernels_match_a_direct_sum(chunk_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from wgan_parity.backends import reference

    monkeypatch.setattr(reference, "_CHUNK_BYTES", chunk_bytes)
    x, w = RNG.standard_normal((5, 3, 7, 6)), RNG.standard_normal((4, 3, 3, 3))
    g = RNG.standard_normal((5, 4, 7, 6))
    np.testing.assert_allclose(ops.conv2d(x, w), _direct_correlation(x, w), rtol=1e-13)
    grads = _pullback(lambda a: ops.conv2d(a["x"], a["w"]), {"x": x, "w": w}, g)
    expected_w = np.einsum(
        "nohw,nchwij->ocij",
        g,
        np.lib.stride_tricks.sliding_window_view(
            np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3)
        ),
    )
    np.testing.assert_allclose(grads["w"], expected_w, rtol=1e-12)
    flipped = np.transpose(w[:, :, ::-1, ::-1], (1, 0, 2, 3))
    np.testing.assert_allclose(grads["x"], _direct_correlation(g, flipped), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mean_pool_primitive_gives_the_shared_composites_bits(dtype: type) -> None:
    from wgan_parity.core import model

    x = RNG.standard_normal((3, 2, 6, 4)).astype(dtype)
    g = RNG.standard_normal((3, 2, 3, 2)).astype(dtype)
    np.testing.assert_array_equal(ops.mean_pool(x), model.mean_pool(ops, x))
    fast = _pullback(lambda a: ops.mean_pool(a["x"]), {"x": x}, g)["x"]
    sliced = _pullback(lambda a: model.mean_pool(ops, a["x"]), {"x": x}, g)["x"]
    np.testing.assert_array_equal(fast, sliced)
    assert fast.dtype == dtype


def test_mean_pool_gradient_is_itself_differentiable() -> None:
    def pool_grad(a: Dict[str, np.ndarray]) -> np.ndarray:
        return _pullback(lambda b: ops.mean_pool(b["x"] * b["x"]), {"x": a["x"]}, a["g"])["x"]

    args = {"x": RNG.standard_normal((2, 3, 4, 6)), "g": RNG.standard_normal((2, 3, 2, 3))}
    _finite_difference_check(pool_grad, args)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_im2col_copies_each_offsets_slice_exactly(kernel: int, dtype: type) -> None:
    from wgan_parity.backends import reference

    x = RNG.standard_normal((3, 4, 5, 7)).astype(dtype)
    pad = kernel // 2
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    expected = np.stack(
        [
            padded[:, :, i : i + 5, j : j + 7].transpose(1, 0, 2, 3)
            for i in range(kernel)
            for j in range(kernel)
        ],
        axis=1,
    ).reshape(4 * kernel * kernel, 3 * 5 * 7)
    cols = reference._im2col(x, kernel, kernel)
    assert cols.dtype == dtype
    np.testing.assert_array_equal(cols, expected)
