"""A dump is untrusted input: a hostile env id or file name never reaches the outputs as markup.

A pull request from a fork can carry any dump. Its names must meet matrix.toml's rules, or the
dump is refused; what still reaches summary.md (the refusal's text, the file name) is inert.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from test_aggregate import write_clean_set
from wgan_parity.cli import main
from wgan_parity.core import names
from wgan_parity.dump import synthetic
from wgan_parity.report.mdtext import code, plain

HOSTILE = "x`y|z\n![pwned](https://evil.example/p.png)<img src=x>"


@pytest.mark.parametrize(
    ("field", "value"),
    [("env_id", HOSTILE), ("framework_version", "1.0`![a](b)"), ("backend", "torch`![a](b)")],
    ids=["env_id", "version", "backend"],
)
def test_a_hostile_name_refuses_the_dump(tmp_path: Path, field: str, value: str) -> None:
    truth = write_clean_set(tmp_path)
    meta = synthetic.metadata("env-c", list(truth))
    meta[field] = value
    from wgan_parity.dump.dumpfile import write_dump

    write_dump(tmp_path / "c.npz", meta, ((k, v.astype("float32")) for k, v in truth.items()))
    out = tmp_path / "out"
    assert main(["aggregate", str(tmp_path), "--out", str(out), "--quiet"]) == 4
    envs = pd.read_csv(out / "envs.csv", keep_default_na=False, dtype=str)
    refused = envs[envs["file"] == "c.npz"]
    assert list(refused["status"]) == ["refused"]
    assert f"expected {field}" in refused["error"].iloc[0]
    every = "".join(p.read_text() for p in out.glob("*.csv")) + (out / "summary.md").read_text()
    assert value not in every
    assert "![pwned](" not in every
    assert "<img" not in every


def test_a_hostile_file_name_is_shown_encoded(tmp_path: Path) -> None:
    write_clean_set(tmp_path)
    (tmp_path / "b.npz").rename(tmp_path / "b`|![x](y).npz")
    out = tmp_path / "out"
    main(["aggregate", str(tmp_path), "--out", str(out), "--quiet"])
    summary = (out / "summary.md").read_text()
    envs = (out / "envs.csv").read_text()
    assert "![x](y)" not in summary
    assert "b`|" not in summary
    assert names.shown("b`|![x](y).npz") in envs


def test_markdown_helpers_make_any_text_inert() -> None:
    span = code(HOSTILE)
    fence = span[: span.index(" ")]
    assert set(fence) == {"`"}
    assert len(fence) == 2
    assert span.endswith(fence)
    assert "\n" not in span
    text = plain(HOSTILE)
    for active in ("![", "](", "<img"):
        assert active not in text
    assert text.count("`") == text.count("\\`")  # every backtick escaped
    assert code("tf-2.21.0") == "`tf-2.21.0`"  # valid names look as they always did
