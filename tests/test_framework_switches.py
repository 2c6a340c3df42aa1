"""A framework's switches are declared once, in its registry entry (``Framework.switches``).

The toy framework (``tests/toy_framework.py``) is registered with a switch of its own, and the
switch reaches ``wgan-parity dump``'s options, the flags a dump records and the env's kernel
class, with no other edit. The built-in switches keep their options, keys and tokens.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

import pytest

from toy_framework import ENTRY
from wgan_parity import frameworks
from wgan_parity.cli import build_parser, main
from wgan_parity.compare import traits
from wgan_parity.core.flags import Flags
from wgan_parity.dump.dumpfile import DumpReader
from wgan_parity.exitcodes import ExitCode

FAST = frameworks.Switch(
    "fast_math",
    "--toy-fast-math",
    "toy: reassociate sums (values change in the last bits)",
    token="fastmath",
)
TOY = dataclasses.replace(ENTRY, switches=(FAST,))


@pytest.fixture
def toy() -> Iterator[frameworks.Framework]:
    """The toy framework with its switch, registered for one test."""
    with frameworks.registered(TOY) as entry:
        yield entry


def test_the_switch_is_a_dump_option(toy: frameworks.Framework, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["dump", "--help"])
    assert "--toy-fast-math" in capsys.readouterr().out
    args = build_parser("dump").parse_args(
        ["dump", "--backend", toy.name, "--out", "x.npz", "--toy-fast-math"]
    )
    assert args.switch_fast_math is True


def test_the_switch_is_recorded_and_changes_the_kernel_class(
    toy: frameworks.Framework, tmp_path: Path
) -> None:
    out = tmp_path / "toy.npz"
    argv = ["dump", "--backend", toy.name, "--out", str(out), "--cases", "conv2d.probe"]
    assert main([*argv, "--toy-fast-math", "--quiet"]) == ExitCode.OK
    with DumpReader(out) as dump:
        meta = dump.meta
    assert meta["flags"]["fast_math"] is True
    assert meta["flags"]["onednn"] is True  # every registered framework's switch is recorded
    found = traits.from_meta("toy", meta)
    assert found.kernels.endswith(":cpu:fastmath"), found.kernels
    plain = traits.from_meta("toy", {**meta, "flags": {**meta["flags"], "fast_math": False}})
    assert plain.kernels.endswith(":cpu"), plain.kernels


def test_a_switch_of_another_framework_leaves_the_kernel_class_alone(
    toy: frameworks.Framework,
) -> None:
    meta = {"framework": "torch", "flags": {"fast_math": True}, "platform": {"isa": "avx2"}}
    assert traits.from_meta("torch-x", meta).kernels == "torch:avx2:cpu"


@pytest.mark.parametrize(
    ("framework", "flags", "kernels"),
    [
        ("tensorflow", {"onednn": False}, "tensorflow:avx512:cpu:onednn0"),
        ("tensorflow", {"graph": True, "tf32": True}, "tensorflow:avx512:cpu:tf32:graph"),
        ("torch", {"channels_last": True}, "torch:avx512:cpu:channels_last"),
        ("torch", {"device": "cuda", "tf32": True}, "torch:avx512:cuda:tf32"),
        ("jax", {"deterministic": False}, "jax:avx512:cpu:nondeterministic"),
        (
            "tensorflow",
            {"onednn": False, "tf32": True, "deterministic": False, "graph": True},
            "tensorflow:avx512:cpu:onednn0:tf32:nondeterministic:graph",
        ),
        ("tensorflow", {"onednn": "unavailable", "tf32": "unavailable"}, "tensorflow:avx512:cpu"),
        ("torch", {"precision": "bfloat16"}, "torch:avx512:cpu:bf16"),
        ("jax", {"precision": "float16", "tf32": True}, "jax:avx512:cpu:tf32:fp16"),
        ("tensorflow", {"precision": "float32"}, "tensorflow:avx512:cpu"),
    ],
)
def test_builtin_switches_keep_their_kernel_tokens(framework, flags, kernels) -> None:
    meta = {"framework": framework, "flags": flags, "platform": {"isa": "avx512"}}
    assert traits.from_meta("env", meta).kernels == kernels


def test_flags_record_the_same_keys_as_before() -> None:
    """The keys before issue 29, plus ``precision`` (float32 unless asked)."""
    assert Flags().as_dict() == {
        "precision": "float32",
        "deterministic": True,
        "onednn": True,
        "tf32": False,
        "threads": None,
        "device": "cpu",
        "max_isa": None,
        "channels_last": False,
        "graph": False,
    }
    parsed = build_parser("dump").parse_args(
        ["dump", "--backend", "tensorflow", "--out", "x.npz", "--onednn", "0", "--tf-graph"]
    )
    assert (parsed.switch_onednn, parsed.switch_graph) == (0, True)


def test_an_unknown_switch_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown framework switches"):
        Flags(switches={"fast_math": True})
    with pytest.raises(KeyError, match="unknown framework switch"):
        Flags().switch("fast_math")


def test_a_switch_cannot_be_registered_twice() -> None:
    clash = dataclasses.replace(ENTRY, switches=(dataclasses.replace(FAST, key="graph"),))
    with pytest.raises(frameworks.FrameworkError, match="graph"), frameworks.registered(clash):
        pass
