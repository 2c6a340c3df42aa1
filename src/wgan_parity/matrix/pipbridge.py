"""Bridge the user's pip configuration into uv's environment variables.

uv does not read pip's config files or ``PIP_*`` variables. A local wheelhouse set up for pip
(``find-links``), extra indexes and constraint files would be silently ignored, and uv would
download e.g. a 4.6 GB CUDA torch where pip takes a 190 MB CPU wheel. :func:`uv_environ`
reads pip's settings with pip's precedence and maps them onto ``UV_*`` variables, never
overriding a ``UV_*`` variable the user set.
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional

# pip setting -> (uv variable, separator uv expects between items)
_MAPPING = {
    "index-url": ("UV_DEFAULT_INDEX", " "),
    "extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
    "find-links": ("UV_FIND_LINKS", ","),
    "constraint": ("UV_CONSTRAINT", " "),
}
_SECTIONS = ("global", "install")


def pip_config_files(environ: Mapping[str, str]) -> List[Path]:
    """pip's config files (POSIX), lowest precedence first: global, user, site, PIP_CONFIG_FILE."""
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d] + [Path("/etc/pip.conf")]
    home = Path(environ.get("HOME", str(Path.home())))
    if not (env_file and Path(env_file).exists()):
        files.append(home / ".pip" / "pip.conf")
        user_dir = Path(environ.get("XDG_CONFIG_HOME", str(home / ".config")))
        files.append(user_dir / "pip" / "pip.conf")
    files.append(Path(sys.prefix) / "pip.conf")
    if env_file:
        files.append(Path(env_file))
    return files


def pip_settings(environ: Optional[Mapping[str, str]] = None) -> Dict[str, List[str]]:
    """The bridged pip settings (``find-links`` ...) as lists of values, highest precedence wins."""
    environ = os.environ if environ is None else environ
    settings: Dict[str, List[str]] = {}
    for path in pip_config_files(environ):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error):
            continue
        for section in _SECTIONS:
            if parser.has_section(section):
                for key in (*_MAPPING, "no-index"):
                    if parser.has_option(section, key):
                        settings[key] = parser.get(section, key).split()
    for key in (*_MAPPING, "no-index"):
        value = environ.get("PIP_" + key.upper().replace("-", "_"))
        if value:
            settings[key] = value.split()
    return settings


def uv_environ(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """``UV_*`` variables equivalent to pip's config; only those not already set by the user."""
    environ = os.environ if environ is None else environ
    settings = pip_settings(environ)
    bridged: Dict[str, str] = {}
    for key, (var, sep) in _MAPPING.items():
        if settings.get(key) and var not in environ:
            if key == "index-url" and "UV_INDEX_URL" in environ:
                continue
            bridged[var] = sep.join(settings[key])
    no_index = settings.get("no-index", [""])[0].lower() in ("1", "true", "yes", "on")
    if no_index and "UV_NO_INDEX" not in environ:
        bridged["UV_NO_INDEX"] = "1"
    if (settings.get("extra-index-url") or settings.get("find-links")) and (
        "UV_INDEX_STRATEGY" not in environ
    ):
        # pip picks the best version across all indexes; uv's default stops at the first
        # index that has the package, which would hide PyPI's releases behind a local mirror.
        bridged["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    return bridged


def describe(bridged: Mapping[str, str]) -> str:
    """One line for the log: which variables were bridged."""
    if not bridged:
        return "pip config: nothing to bridge into uv"
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(bridged.items()))
    return f"pip config bridged into uv: {pairs}"
