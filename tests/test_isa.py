"""The kernel ISA: parsed from the CPU and the cap variables, recorded, and honoured by torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from wgan_parity.cli import argv
from wgan_parity.core import hostinfo, isa
from wgan_parity.dump.dumpfile import DumpReader

AVX512 = ["sse4_2", "avx", "fma", "avx2", "avx512f", "avx512dq", "avx512bw", "avx512vl"]
AVX2 = ["sse4_2", "avx", "fma", "avx2"]


def test_cpu_flags_are_read_from_cpuinfo_text() -> None:
    text = "processor : 0\nflags\t\t: fpu sse4_2 avx fma avx2 avx512f amx_tile\n"
    assert isa.cpu_flags(text) == ["sse4_2", "avx", "fma", "avx2", "avx512f", "amx_tile"]
    assert isa.cpu_flags("no flags line") == []


@pytest.mark.parametrize(
    ("flags", "machine", "expected"),
    [
        (AVX512, "x86_64", "avx512"),
        (AVX512[:-1], "x86_64", "avx2"),  # AVX-512 F without VL is not oneDNN's avx512_core
        (AVX2, "x86_64", "avx2"),
        (["sse4_2", "avx"], "x86_64", "avx"),
        ([], "x86_64", "generic"),
        (AVX512, "aarch64", "aarch64"),
    ],
)
def test_cpu_class(flags: list, machine: str, expected: str) -> None:
    assert isa.cpu_class(flags, machine) == expected


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ATEN_CPU_CAPABILITY", "avx2", "avx2"),
        ("ATEN_CPU_CAPABILITY", "AVX512", "avx512"),
        ("ATEN_CPU_CAPABILITY", "default", "generic"),  # torch's scalar kernels
        ("ONEDNN_MAX_CPU_ISA", "AVX2", "avx2"),
        ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX", "avx512"),
        ("ONEDNN_MAX_CPU_ISA", "ALL", None),
        ("NPY_DISABLE_CPU_FEATURES", "AVX512F AVX512_SKX", "avx2"),
        ("OPENBLAS_CORETYPE", "Haswell", "avx2"),
        ("OPENBLAS_CORETYPE", "SkylakeX", "avx512"),
        ("ONEDNN_MAX_CPU_ISA", "", None),
    ],
)
def test_cap_values(variable: str, value: str, expected: str) -> None:
    assert isa.cap_class(variable, value) == expected


def test_each_framework_honours_only_its_caps() -> None:
    capped = {"ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "SkylakeX"}
    assert isa.kernel_isa("torch", capped, AVX512, "x86_64") == "avx2"
    assert isa.kernel_isa("tensorflow", capped, AVX512, "x86_64") == "avx512"  # no ATen in TF
    assert isa.kernel_isa("reference", capped, AVX512, "x86_64") == "avx512"
    onednn = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert isa.kernel_isa("tensorflow", onednn, AVX512, "x86_64") == "avx2"
    assert isa.kernel_isa("torch", {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}, AVX2, "x86_64") == "avx2"


def test_the_isa_is_part_of_the_platform_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")  # lower than any CPU of this project
    capped = hostinfo.platform_info([], "torch")
    assert capped["isa"] == "sse4_2"
    assert capped["isa_caps"] == "ONEDNN_MAX_CPU_ISA=SSE41"
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    free = hostinfo.platform_info([], "torch")
    assert free["isa"] == isa.cpu_class(isa.cpu_flags())
    assert free["id"] != capped["id"]  # same CPU name, other kernels: another machine class


def test_cap_refuses_a_started_framework(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", object())
    with pytest.raises(RuntimeError, match=r"already imported.*fresh process"):
        isa.apply_cap("avx2")
    with pytest.raises(ValueError, match="expected one of"):
        isa.apply_cap("avx9000")


@pytest.mark.frameworks
def test_max_isa_caps_torch_kernels_and_is_recorded(tmp_path: Path) -> None:
    if isa.kernel_isa("torch") not in ("avx2", "avx512"):
        pytest.skip(f"needs an AVX2 or AVX-512 x86 CPU, found {isa.kernel_isa('torch')}")
    out = tmp_path / "capped.npz"
    cmd = argv(
        "dump", "--backend", "torch", "--out", out, "--cases", "conv2d.probe", "--max-isa", "avx2"
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    meta = DumpReader(out).meta
    assert meta["flags"]["max_isa"] == "avx2"
    assert meta["flags"]["cpu_capability"] == "AVX2"  # torch itself says its kernels are AVX2
    assert meta["flags"]["onednn_max_cpu_isa"] == "AVX2"
    assert meta["platform"]["isa"] == "avx2"
    assert "ATEN_CPU_CAPABILITY=avx2" in meta["platform"]["isa_caps"]


def test_ci_runs_the_avx2_stack_that_the_package_defines():
    """`.ci/run` spells the AVX2 stack in bash; it must be isa.stack_env("avx2"), all of it (the
    NumPy half makes the reference measure the AVX2 noise, the half issue 23 found missing)."""
    text = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    block = text.split("avx2_stack=(", 1)[1].split(")", 1)[0]
    spelled = dict(item.strip('"').split("=", 1) for item in re.findall(r'"[^"]+"|\S+', block))
    assert spelled == isa.stack_env("avx2")
    assert 'env "${avx2_stack[@]}" nox -R -s tests' in text
    assert 'env "${avx2_stack[@]}" nox -s compare' in text


def test_the_runner_caps_every_env_unless_its_row_sets_its_own_cap() -> None:
    from wgan_parity.cli import build_parser
    from wgan_parity.commands.run import selection_of
    from wgan_parity.matrix.envtable import load_table

    def envs(*argv: str) -> dict:
        args = build_parser("run").parse_args(["run", "--dump-only", *argv])
        return {
            env.id: env.dump_args for env in selection_of(args, args.max_isa).envs(load_table())
        }

    caps = envs("--set", "switches", "--max-isa", "avx2")
    assert caps["tf-2.21.0"][-2:] == ("--max-isa", "avx2")
    assert caps["tf-2.21.0-onednn0"] == ("--onednn", "0", "--max-isa", "avx2")
    assert caps["tf-2.21.0-avx2"] == ("--max-isa", "avx2")  # its own cap, not twice
    assert envs("--set", "switches")["tf-2.21.0"] == load_table().get("tf-2.21.0").dump_args
