"""depth_to_space: TF's DCR order pinned; PyTorch's pixel_shuffle (CRD) differs unless permuted."""

from __future__ import annotations

import numpy as np
import pytest

from wgan_parity.backends import load_backend

X = np.arange(2 * 12 * 2 * 3, dtype=np.float64).reshape(
    2, 12, 2, 3
)  # C=12 -> 3 channels, 2x upsampled


def _dcr_expected(x: np.ndarray, block: int) -> np.ndarray:
    """out[n, c, h*b+i, w*b+j] = x[n, (i*b + j)*C_out + c, h, w], written as loops."""
    n, c, h, w = x.shape
    out_c = c // (block * block)
    out = np.empty((n, out_c, h * block, w * block))
    for i in range(block):
        for j in range(block):
            for ch in range(out_c):
                out[:, ch, i::block, j::block] = x[:, (i * block + j) * out_c + ch]
    return out


def test_reference_is_dcr() -> None:
    np.testing.assert_array_equal(
        load_backend("reference").depth_to_space(X, 2), _dcr_expected(X, 2)
    )


@pytest.mark.frameworks
def test_tensorflow_depth_to_space_is_dcr() -> None:
    tf_backend = load_backend("tensorflow")
    import tensorflow as tf

    nhwc = tf.constant(np.transpose(X, (0, 2, 3, 1)).astype(np.float32))
    raw = np.transpose(tf.nn.depth_to_space(nhwc, 2).numpy(), (0, 3, 1, 2))
    np.testing.assert_array_equal(raw, _dcr_expected(X, 2))  # the framework's own op
    adapter = tf_backend.to_numpy(tf_backend.depth_to_space(tf_backend.asarray(X), 2))
    np.testing.assert_array_equal(adapter, _dcr_expected(X, 2))


@pytest.mark.frameworks
def test_torch_pixel_shuffle_is_crd_and_differs_unless_permuted() -> None:
    torch_backend = load_backend("torch")
    import torch

    shuffled = torch.nn.functional.pixel_shuffle(torch.from_numpy(X), 2).numpy()
    assert not np.array_equal(shuffled, _dcr_expected(X, 2)), (
        "pixel_shuffle unexpectedly matches DCR"
    )
    crd = X.reshape(2, 3, 2, 2, 2, 3).transpose(0, 1, 4, 2, 5, 3).reshape(2, 3, 4, 6)
    np.testing.assert_array_equal(shuffled, crd)  # CRD: channel c*4 + i*2 + j -> (c, i, j)
    adapter = torch_backend.to_numpy(torch_backend.depth_to_space(torch_backend.asarray(X), 2))
    np.testing.assert_array_equal(adapter, _dcr_expected(X, 2))
