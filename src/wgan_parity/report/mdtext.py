"""Untrusted text made inert in Markdown: a dump, a status record or a user file can say anything.

Names that reach the reports are validated when the dumps are read (:mod:`wgan_parity.core.names`);
these two functions are the second line, for every value the Markdown outputs draw: a code span
that no backtick, pipe or newline can leave, and plain text in which no Markdown or HTML is
active (no link, image, emphasis or tag).
"""

from __future__ import annotations

import re

_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_SPACE = re.compile(r"\s+")


def code(value: object) -> str:
    """``value`` as one inline code span that nothing in it can close (tables escape ``|``)."""
    text = _SPACE.sub(" ", str(value)).strip()
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plain(value: object) -> str:
    """``value`` as one line of text with every Markdown and HTML character escaped."""
    text = _SPACE.sub(" ", str(value)).strip().replace("&", "&amp;")
    return _ACTIVE.sub(r"\\\1", text.replace("<", "&lt;").replace(">", "&gt;"))
