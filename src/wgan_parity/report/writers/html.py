"""``report.html``: one static page to explore the results (:mod:`wgan_parity.report.htmlpage`)."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wgan_parity import atomic
from wgan_parity.report import writers
from wgan_parity.report.writers.context import Context

FILE = "report.html"


def write(ctx: Context) -> List[Path]:
    """Write the page."""
    from wgan_parity.report import htmlpage

    page = htmlpage.render(ctx.res, ctx.outcome.to_json(), ctx.steps, ctx.bisect, ctx.th)
    return [atomic.write_text(ctx.folder / FILE, page)]


OUTPUT = writers.Output("html", 90, frozenset(), write, drawing=True)
