"""The selftest's plan: which planted bugs run, on which catalog cases, as which backend.

Reads the bug modules of :mod:`wgan_parity.bugs` (their data only; no framework is imported)
and matches each bug's ``TOUCHES`` globs against the catalog. The scoring of what the dumps
show is :mod:`wgan_parity.report.selftest`.
"""

from __future__ import annotations

import fnmatch
from typing import Dict, List, Mapping, Sequence

from wgan_parity import bugs as bug_package
from wgan_parity.core.catalog import CATALOG
from wgan_parity.report.selftest import Bug

#: Cases left out even when a bug touches them: the discriminator and the penalty's double
#: backward take 30 s each in the float64 reference and 3-6 s per framework dump.
EXPENSIVE = ("good_discriminator.*", "gradient_penalty.*")


class SelftestError(RuntimeError):
    """The selftest cannot run as asked; the message says why and what to do."""


def match(name: str, globs: Sequence[str]) -> bool:
    """Whether ``name`` matches one of the shell ``globs``."""
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def backend(bug: Bug) -> str:
    """The bug's user backend module path (``--backend``)."""
    return f"{bug_package.PACKAGE}.{bug.name}"


def cases(bug: Bug, only: Sequence[str] = ()) -> List[str]:
    """Catalog cases ``bug`` touches, in catalog order, cheap ones only, within ``only`` globs."""
    return [
        c.name
        for c in CATALOG
        if match(c.name, bug.touches)
        and not match(c.name, EXPENSIVE)
        and (not only or match(c.name, only))
    ]


def load_bugs(names: Sequence[str] = ()) -> List[Bug]:
    """The bug modules (all, or ``names``) as :class:`Bug` records; imports no framework."""
    known = bug_package.names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SelftestError(f"unknown bug(s) {unknown}; known: {known}")
    found = []
    for name in names or known:
        module = bug_package.load(name)
        doc = (module.__doc__ or "").strip()
        found.append(
            Bug(
                name=name,
                base=module.BASE,
                touches=tuple(module.TOUCHES),
                first_tap=module.FIRST_TAP,
                seed_forward_visible=bool(module.SEED_FORWARD_VISIBLE),
                summary=doc.splitlines()[0] if doc else "",
            )
        )
    return found


def plan(bugs: Sequence[Bug], only: Sequence[str] = ()) -> Dict[str, List[str]]:
    """Bug name -> its cases (within ``only``); bugs without any are left out."""
    return {b.name: cases(b, only) for b in bugs if cases(b, only)}


def union(planned: Mapping[str, Sequence[str]]) -> List[str]:
    """Every case of the plan once, in catalog order."""
    return [c.name for c in CATALOG if any(c.name in names for names in planned.values())]
