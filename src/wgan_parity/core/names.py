"""What a name may look like: env ids, versions, backends, case and tensor names.

One set of rules for ``matrix.toml`` and for what a dump or a status record says about itself. A
dump is untrusted input (a pull request from a fork can carry any file), so a name that breaks
these rules refuses the dump before the name can reach a CSV, Markdown or HTML output; free text
(errors, CPU names) is escaped where it is drawn.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Pattern
from urllib.parse import quote

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # matrix.toml ids, platform ids, ISAs
# A dump's env id: a matrix.toml id, or what `wgan-parity dump` makes without --env-id, which
# may hold a local version and a backend ("seed_port@torch-2.13.0+cpu"): "+" and "@" as well.
DUMP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@-]{0,199}")
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_!-]{0,63}")
BACKEND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,199}")
CASE_OR_TENSOR = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")
HEX = re.compile(r"[0-9a-f]{1,64}")
_SAFE_FILE_CHARS = "._@~+-"

#: Metadata fields a dump must spell with these rules (absent or null is fine).
META_FIELDS: Mapping[str, Pattern[str]] = {
    "env_id": DUMP_ID,
    "framework": ID,
    "backend": BACKEND,
    "dtype": ID,
    "framework_version": VERSION,
    "python": VERSION,
    "numpy": VERSION,
    "package_version": VERSION,
    "catalog_hash": HEX,
    "git_commit": HEX,
}
PLATFORM_FIELDS: Mapping[str, Pattern[str]] = {"id": ID, "isa": ID, "cpu_isa": ID}
RULES = {
    ID.pattern: "letters, digits, '.', '_' and '-', starting with a letter or digit",
    DUMP_ID.pattern: "letters, digits, '.', '_', '+', '@' and '-', starting with a letter or digit",
    VERSION.pattern: "a version: letters, digits, '.', '+', '_', '!' and '-'",
    BACKEND.pattern: "a backend name or module path: letters, digits, '.', '_', ':' and '-'",
    CASE_OR_TENSOR.pattern: "letters, digits, '.', '_', '/' and '-'",
    HEX.pattern: "lowercase hex digits",
}


def shown(value: object) -> str:
    """``value`` percent-encoded outside letters, digits and ``._@~+-``: inert anywhere."""
    return quote(str(value), safe=_SAFE_FILE_CHARS)


def problem(field: str, value: Any, rule: Pattern[str]) -> str:
    """Why ``value`` is not a valid ``field`` ('' when it is); the value is shown encoded."""
    if isinstance(value, str) and rule.fullmatch(value):
        return ""
    found = shown(value) if isinstance(value, str) else type(value).__name__
    return f"expected {field} to be {RULES[rule.pattern]}, found {found!r}"


def meta_problem(meta: Mapping[str, Any]) -> Optional[str]:
    """The first name in a dump's metadata that breaks the rules, as a message (else ``None``)."""
    checks = [(k, meta.get(k), rule) for k, rule in META_FIELDS.items()]
    platform = meta.get("platform") or {}
    if isinstance(platform, Mapping):
        checks += [(f"platform.{k}", platform.get(k), r) for k, r in PLATFORM_FIELDS.items()]
    checks += [("lineage entry", v, BACKEND) for v in meta.get("lineage") or []]
    for case, record in (meta.get("cases") or {}).items():
        checks.append(("a case name", case, CASE_OR_TENSOR))
        tensors = record.get("tensors") if isinstance(record, Mapping) else None
        checks += [(f"a tensor name of {shown(case)}", t, CASE_OR_TENSOR) for t in tensors or []]
    for field, value, rule in checks:
        if value is not None and problem(field, value, rule):
            return problem(field, value, rule)
    return None
