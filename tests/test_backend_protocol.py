"""Conformance: every registered backend implements the protocol; user backends plug in.

The backends come from the framework registry (``wgan_parity.frameworks``): a new entry is
checked here with no edit (``tests/test_registry.py`` shows it with a toy framework).
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from wgan_parity import frameworks
from wgan_parity.backends import BUILTIN, BackendError, import_backend_module, load_backend
from wgan_parity.core.blocks import BLOCKS
from wgan_parity.core.model import COMPOSITE_IMPLS
from wgan_parity.core.protocol import COMPOSITES, CONSTANTS, PRIMITIVES, Composites, Primitives

REFERENCE = import_backend_module("reference")


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_module_implements_protocol(name: str) -> None:
    module = import_backend_module(
        name
    )  # framework modules import their framework only in configure()
    if getattr(module, "BASE", None):
        assert module.BASE in BUILTIN, f"{name}: BASE {module.BASE!r} is not a built-in backend"
        defined = [a for a in PRIMITIVES if hasattr(module, a)]
    else:
        missing = [a for a in PRIMITIVES + CONSTANTS if not hasattr(module, a)]
        assert not missing, f"backend {name} lacks {missing}"
        defined = list(PRIMITIVES)
    for attr in defined:
        expected = _parameters(getattr(Primitives, attr))
        found = list(inspect.signature(getattr(module, attr)).parameters)
        assert found == expected, f"{name}.{attr}{found} differs from the protocol's {expected}"


@pytest.mark.parametrize("name", [fw.name for fw in frameworks.compared()])
def test_adapter_does_not_import_its_framework_at_import_time(name: str) -> None:
    """Importing the adapter costs nothing: its framework is imported in ``configure()``.

    (The package's own dependencies, NumPy, are imported first: a NumPy adapter passes.)
    """
    framework = frameworks.get(name)
    code = (
        "import sys, wgan_parity.backends, wgan_parity.core.fixtures; "
        f"had = {framework.import_module!r} in sys.modules; "
        f"import {framework.adapter}; print(had or {framework.import_module!r} not in sys.modules)"
    )
    here = str(Path(__file__).resolve().parent)  # test adapters (the toy framework) live here
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.split() == ["True"], (
        f"importing {framework.adapter} imported {framework.import_module}"
    )


def _parameters(method: object) -> list:
    """A protocol method's parameter names, without ``self``."""
    return list(inspect.signature(method).parameters)[1:]  # type: ignore[arg-type]


def test_every_composite_has_an_implementation_with_the_protocol_signature() -> None:
    assert set(COMPOSITES) == set(COMPOSITE_IMPLS)
    for name in COMPOSITES:
        found = list(inspect.signature(COMPOSITE_IMPLS[name]).parameters)[1:]  # after ops
        assert found == _parameters(getattr(Composites, name)), name


def test_every_block_applies_the_protocol_op_it_is_named_after() -> None:
    """BLOCKS names its ops once: each block calls the primitive or composite of its name."""
    for name, block in BLOCKS.items():
        assert block.op in ("", name), name
        assert not block.op or block.op in PRIMITIVES + COMPOSITES, name


def test_vjp_returns_taps_as_values_and_nested_vjp_keeps_them() -> None:
    """The functional contract: fn returns (out, aux); vjp returns (out, aux, grads)."""
    ops = load_backend("reference")
    x = np.arange(6.0).reshape(2, 3)

    def inner(a):
        return ops.sum(a["x"] * a["x"]), {"aux/inner": ops.stop_gradient(a["x"])}

    def outer(a):
        value, aux, grads = ops.vjp(inner, a, ["x"], None, create_graph=True)
        return ops.sum(grads["x"]), {**aux, "aux/outer": ops.stop_gradient(value)}

    out, aux, grads = ops.vjp(outer, {"x": x}, ["x"])
    assert out == pytest.approx(2 * x.sum())
    np.testing.assert_array_equal(grads["x"], np.full_like(x, 2.0))  # d/dx sum(2x)
    np.testing.assert_array_equal(aux["aux/inner"], x)
    assert aux["aux/outer"] == pytest.approx((x * x).sum())
    assert all(isinstance(v, np.ndarray) or np.isscalar(v) for v in aux.values())


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a user backend package into tmp_path and make it importable."""

    def write(name: str, body: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
        monkeypatch.syspath_prepend(str(tmp_path))
        sys.modules.pop(name, None)
        return name

    return write


def test_user_backend_overrides_one_primitive_and_it_reaches_composites(user_module) -> None:
    name = user_module(
        "doubled_norm_port",
        """
        BASE = "reference"
        def layer_norm(x, scale, offset, eps):
            from wgan_parity.backends import reference
            return 2.0 * reference.layer_norm(x, scale, offset, eps)
    """,
    )
    user, base = load_backend(name), load_backend("reference")
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    scale, offset = np.ones(3), np.zeros(3)
    np.testing.assert_allclose(
        user.layer_norm(x, scale, offset, 1e-5), 2 * base.layer_norm(x, scale, offset, 1e-5)
    )
    np.testing.assert_array_equal(
        user.conv2d(x, np.ones((1, 3, 1, 1))), base.conv2d(x, np.ones((1, 3, 1, 1)))
    )
    norm_via_composite = user.normalize(x, {"n.scale": scale, "n.offset": offset}, "n", "layer")
    np.testing.assert_allclose(norm_via_composite, 2 * base.layer_norm(x, scale, offset, 1e-5))


def test_user_backend_overrides_a_composite(user_module) -> None:
    name = user_module(
        "zero_pool_port",
        """
        BASE = "reference"
        def mean_pool(ops, x):
            return 0.0 * x[:, :, ::2, ::2]
    """,
    )
    user = load_backend(name)
    x = np.ones((1, 1, 4, 4))
    assert np.all(
        user.conv_mean_pool(x, np.ones((1, 1, 3, 3))) == 0.0
    )  # conv_mean_pool goes through it
    assert np.all(load_backend("reference").conv_mean_pool(x, np.ones((1, 1, 3, 3))) > 0.0)


def test_unknown_backend_error_says_what_to_do() -> None:
    with pytest.raises(BackendError, match="built-in name"):
        load_backend("no_such_backend_module_xyz")


def test_incomplete_backend_without_base_is_refused(user_module) -> None:
    name = user_module(
        "half_port",
        "FRAMEWORK = 'half'\nDTYPE = 'float32'\ndef conv2d(x, w, b=None):\n    return x\n",
    )
    with pytest.raises(BackendError, match="missing"):
        load_backend(name)
