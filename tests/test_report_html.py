"""report.html (:mod:`wgan_parity.report.htmlpage`): its sections, escaping and determinism from
committed results folders, and the page as a real headless Chromium runs it."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pandas as pd
import pytest

from wgan_parity.compare import thresholds
from wgan_parity.compare import verdict as vd
from wgan_parity.report import csvfiles, htmlpage, resultset
from wgan_parity.report.resultset import Results

RESULTS = Path(__file__).resolve().parents[1] / "results"
# results/switches for sure; results/default and results/history once committed; and any other
# committed folder with a pairs table.
FOLDERS = sorted(
    {"switches", "default", "history"}
    | ({p.parent.name for p in RESULTS.glob("*/pairs.csv.gz")} if RESULTS.is_dir() else set())
)
SECTIONS = ("verdict", "heatmap", "timelines", "taps", "rules", "envs")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
HOSTILE = "<script>alert(1)</script>"


class Elements(HTMLParser):
    """Every start tag as ``(tag, attrs, ids of the open elements with an id)``."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: List[Tuple[str, Dict[str, str], Tuple[str, ...]]] = []
        self.stack: List[Tuple[str, str]] = []
        self.scripts: List[str] = []
        self.texts: Dict[str, List[str]] = {}

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.tags.append((tag, found, tuple(i for _, i in self.stack if i)))
        if tag not in ("meta", "br", "input", "link", "img", "hr"):  # HTML's void elements
            self.stack.append((tag, found.get("id", "")))

    def handle_endtag(self, tag: str) -> None:
        if any(t == tag for t, _ in self.stack):
            while self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][0] == "script":
            self.scripts.append(data)
        for _, ident in self.stack:
            if ident:
                self.texts.setdefault(ident, []).append(data)

    def within(self, ident: str, tag: str) -> List[Dict[str, str]]:
        return [a for t, a, ids in self.tags if t == tag and ident in ids]


def parse(text: str) -> Elements:
    parsed = Elements()
    parsed.feed(text)
    return parsed


def read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    return csvfiles.read_csv(path) if path.is_file() else pd.DataFrame()


def a_verdict(res: Results) -> Dict[str, Any]:
    """A small verdict.json, from the rows (what the aggregator writes, in its schema)."""
    bad = [vd.is_divergence(s, k) for s, k in zip(res.pairs["status"], res.pairs["known"])]
    crossed = ((res.pairs["env_a"] != res.truth) & (res.pairs["env_b"] != res.truth)).any()
    passed = not any(bad)
    return {
        "schema": 1,
        "passed": passed,
        "exit_code": 0 if passed else 1,
        "headline": "PASS" if passed else f"FAIL: {sum(bad)} unexplained divergent rows",
        "envs": {"compared": len(res.others), "truth": res.truth, "failed": []},
        "rows": {"total": len(res.pairs), "unexplained": sum(bad)},
        "regressions": None,
        "causes": [],
        "next": ["wgan-parity report <folder> --thresholds mine.toml"],
        "pairs_kept": "all" if crossed else "truth",
    }


@functools.cache
def loaded(name: str) -> Tuple[Results, Dict[str, Any], str]:
    """``results/<name>`` rendered once per session: results, verdict, page."""
    folder = RESULTS / name
    res = resultset.load(folder)
    path = folder / "verdict.json"
    verdict = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else a_verdict(res)
    steps, bisect = read(folder, "steps.csv"), read(folder, "bisect.csv")
    return res, verdict, htmlpage.render(res, verdict, steps, bisect, thresholds.load())


def committed(name: str) -> Tuple[Results, Dict[str, Any], str]:
    if resultset.pairs_path(RESULTS / name) is None:
        pytest.skip(f"results/{name} is not committed (no pairs table)")
    return loaded(name)


def page_data(text: str) -> Dict[str, Any]:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S)
    assert found, "no inline JSON"
    data: Dict[str, Any] = json.loads(found.group(1))
    return data


@pytest.mark.parametrize("name", FOLDERS)
def test_the_page_has_every_section_and_its_elements(name: str) -> None:
    res, verdict, text = committed(name)
    page = parse(text)
    ids = [a.get("id") for _, a, _ in page.tags]
    assert all(ids.count(section) == 1 for section in SECTIONS), ids
    assert verdict["headline"] in "".join(page.texts["verdict"])
    cells = page.within("heatmap", "rect")
    keys = {a["data-cell"] for a in cells if "data-cell" in a}
    data = page_data(text)
    assert keys
    assert keys <= set(data["cells"]), "every cell lists its rows in the JSON"
    assert all(row[0] < len(data["tensors"]) for c in data["cells"].values() for row in c["rows"])
    timelines = [a for t, a, _ in page.tags if t == "svg" and "timeline" in a.get("class", "")]
    assert len(timelines) >= 2  # the one the script draws, then the static worst ones
    assert page.within("timelines", "polyline") or page.within("timelines", "circle")
    assert (
        len(data["timeline"]["series"]) == res.pairs[["case", "tensor"]].drop_duplicates().shape[0]
    )
    assert page.within("envs", "tr")
    assert len(text.encode()) < 4_000_000
    if verdict.get("pairs_kept") == "truth":
        assert "keeps only rows against the truth" in "".join(page.texts["heatmap"])
    else:
        assert " vs " in next(iter(keys))


def test_a_small_folder_makes_a_small_page() -> None:
    _, _, text = committed("switches")
    assert len(text.encode()) < 1_000_000


def test_the_page_is_deterministic() -> None:
    _, verdict, text = committed("switches")
    again = htmlpage.render(
        resultset.load(RESULTS / "switches"),
        json.loads(json.dumps(verdict)),
        read(RESULTS / "switches", "steps.csv"),
        read(RESULTS / "switches", "bisect.csv"),
        thresholds.load(),
    )
    assert again == text
    assert str(RESULTS) not in text  # no absolute paths


def test_strings_from_the_data_are_escaped() -> None:
    res, _, _ = committed("switches")
    victim = res.others[0]
    pairs = res.pairs.copy()
    for column in ("env_a", "env_b", "blame", "closer"):
        pairs[column] = pairs[column].str.replace(victim, HOSTILE, regex=False)
    pairs.loc[pairs.index[:5], "known"] = "</script><script>alert(2)</script>"
    envs = res.envs.copy()
    envs["env"] = envs["env"].replace(victim, HOSTILE)
    hostile = resultset.from_frames(pairs, envs, res.folder, res.cases)
    verdict = {
        "headline": f"FAIL: {HOSTILE}",
        "causes": [{"where": HOSTILE, "envs": [HOSTILE], "worst": {"env": HOSTILE}}],
        "next": [f"wgan-parity report '{HOSTILE}'"],
        "envs": {"failed": [{"env": HOSTILE, "stage": "dump", "error": "<b>boom</b>"}]},
    }
    text = htmlpage.render(hostile, verdict, pd.DataFrame(), pd.DataFrame(), thresholds.load())
    assert HOSTILE not in text
    assert "<script>alert(2)" not in text
    assert "<b>boom" not in text
    assert text.count("<script") == 2  # the page's own: its JSON and its code
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    data = page_data(text)
    assert any(HOSTILE in row[2] for c in data["cells"].values() for row in c["rows"])
    assert HOSTILE in data["timeline"]["layout"]["labels"]


def test_a_verdict_without_keys_and_a_folder_without_crossed_pairs() -> None:
    res, _, _ = committed("switches")
    truth_rows = res.pairs[(res.pairs["env_a"] == res.truth) | (res.pairs["env_b"] == res.truth)]
    only = resultset.from_frames(truth_rows, res.envs, res.folder, res.cases)
    text = htmlpage.render(only, {}, pd.DataFrame(), pd.DataFrame(), None)
    page = parse(text)
    headline = "".join(page.texts["verdict"])
    assert "PASS" in headline or "FAIL" in headline
    assert "keeps only rows against the truth" in "".join(page.texts["heatmap"])
    assert all(" | " in a["data-cell"] for a in page.within("heatmap", "rect") if "data-cell" in a)
    assert "none given" in "".join(page.texts["rules"])


def test_a_non_finite_tap_heads_its_chain() -> None:
    res, _, _ = committed("switches")
    pairs, victim = res.pairs.copy(), res.others[0]
    rows = (pairs["env_a"] == victim) & (pairs["env_b"] == res.truth)
    rows &= pairs["case"] == "residual_up.seed"
    tap, out = rows & (pairs["tensor"] == "tap/norm1"), rows & (pairs["tensor"] == "out")
    pairs.loc[tap, ["status", "known", "err_a"]] = [vd.NON_FINITE, "", float("inf")]
    pairs.loc[out, ["status", "known", "first_divergent_tap_a"]] = [vd.DIVERGED, "", "norm1"]
    broken = resultset.from_frames(pairs, res.envs, res.folder, res.cases)
    page = parse(htmlpage.render(broken, {}, pd.DataFrame(), pd.DataFrame(), thresholds.load()))
    assert "residual_up.seed" in "".join(page.texts["taps"])
    assert page.within("taps", "span")  # the highlighted first tap, the bars
    assert "inf" in page.texts["taps"]


def browser() -> Optional[str]:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None and os.environ.get("WGAN_PARITY_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"WGAN_PARITY_REQUIRE_BROWSER=1 but none of {BROWSERS} is on PATH: install Debian's "
            "`chromium` (apt-get install -y chromium), as .ci/run does"
        )
    if found is None:
        pytest.skip(f"no headless browser ({', '.join(BROWSERS)}) on PATH")
    return found


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    command += [f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def test_a_browser_runs_the_page(tmp_path: Path) -> None:
    binary = browser()
    assert binary
    _, verdict, text = committed("switches")
    report = tmp_path / "report.html"
    report.write_text(text, encoding="utf-8")
    done = chromium(binary, tmp_path / "profile", "--dump-dom", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "</html>" in done.stdout
    dom = parse(done.stdout)
    assert verdict["headline"] in "".join(dom.texts["verdict"])
    assert [a for a in dom.within("heatmap", "rect") if "data-cell" in a]
    assert [a for t, a, _ in dom.tags if t == "svg" and "timeline" in a.get("class", "").split()]
    assert dom.within("timelines", "polyline"), "no timeline has a line"
    drawn = dom.within("tl-pick", "polyline") + dom.within("tl-pick", "circle")
    assert drawn, "the script drew no timeline"
    assert dom.within("cell-rows", "td"), "the script listed no rows of the worst cell"
    shot = tmp_path / "report.png"
    done = chromium(
        binary,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1400,2400",
        "--hide-scrollbars",
        report.as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
