"""Writing the aggregate's CSV files with pandas: ``pairs.csv``, ``matrix_*.csv``, ``envs.csv``.

The rows come in memory from :func:`wgan_parity.compare.aggregate.aggregate`, once; the files
are read back only by ``wgan-parity report`` and the baseline tools.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), in a
fixed row and column order, with floats as ``%.6e`` and empty cells for NaN/None, so that a
``git diff`` between two runs shows only what changed. Nothing here writes a path or a time of its
own: the same dumps give byte-identical files wherever they are aggregated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import pandas as pd

from wgan_parity import atomic
from wgan_parity.compare import pairschema, traits
from wgan_parity.compare.input_files import Env
from wgan_parity.compare.rowstore import RowStore

FLOAT_FORMAT = "%.6e"
INT_COLUMNS = pairschema.INT
BOOL_COLUMNS = pairschema.FLAGS
TEXT_COLUMNS = (*pairschema.TEXT, "isa")  # isa: a baseline's rows record their kernel ISA
MATRIX_INDEX = ("env_a", "env_b")
ENV_COLUMNS = (
    "env",
    "env_id",
    "role",
    "status",
    "stage",
    "error",
    "file",
    "framework",
    "framework_version",
    "backend",
    "lineage",
    "dtype",
    "python",
    "numpy",
    "system",
    "machine",
    "cpu",
    "gpu",
    "isa",
    "cpu_isa",
    "isa_caps",
    "cpu_flags",
    "platform_id",
    "flags",
    "package_version",
    "git_commit",
    "catalog_hash",
    "schema_version",
    "created_utc",
    "wall_s",
    "cases_ok",
    "cases_error",
)


class PairTable:
    """The rows as one typed DataFrame, in row order (built once from the aggregate's columns)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    @classmethod
    def from_store(cls, store: RowStore) -> PairTable:
        """The table of :class:`~wgan_parity.compare.rowstore.RowStore` ``store``."""
        columns = store.columns()
        return cls(
            _typed(
                pd.DataFrame(
                    {c: columns[c] for c in pairschema.COLUMNS}, columns=list(pairschema.COLUMNS)
                )
            )
        )

    def status_counts(self) -> Dict[str, int]:
        """How many rows have each status."""
        return {str(k): int(v) for k, v in self.frame["status"].value_counts(sort=False).items()}

    def records(self, env_a: str, env_b: str) -> List[Dict[str, Any]]:
        """The rows of one pair, oriented so that ``env_a`` is side a (``*_a``/``*_b`` swapped)."""
        df = self.frame
        direct = df[(df["env_a"] == env_a) & (df["env_b"] == env_b)]
        if len(direct):
            return [_plain(r) for r in direct.to_dict("records")]
        swapped = df[(df["env_a"] == env_b) & (df["env_b"] == env_a)]
        return [_swap(_plain(r)) for r in swapped.to_dict("records")]

    def pairs(self) -> List[tuple]:
        """Every (env_a, env_b) present, in row order."""
        return list(dict.fromkeys(zip(self.frame["env_a"], self.frame["env_b"])))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    for name in pairschema.COLUMNS:
        if name in INT_COLUMNS:
            df[name] = pd.to_numeric(df[name], errors="coerce").astype("Int64")
        elif name in BOOL_COLUMNS:
            df[name] = df[name].astype(object)
        elif name not in TEXT_COLUMNS:
            df[name] = pd.to_numeric(df[name], errors="coerce").astype("float64")
    return df


def _plain(record: Dict[str, Any]) -> Dict[str, Any]:
    return {k: (None if v is pd.NA else v) for k, v in record.items()}


def _swap(record: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(record)
    for key in list(record):
        if key.endswith("_a") and key[:-2] + "_b" in record:
            out[key], out[key[:-2] + "_b"] = record[key[:-2] + "_b"], record[key]
    return out


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` atomically with the project's stable format."""
    return atomic.write_with(
        path,
        lambda tmp: df.to_csv(
            tmp, index=False, float_format=FLOAT_FORMAT, na_rep="", lineterminator="\n"
        ),
    )


def cell(value: Any) -> str:
    """One value as :func:`write_csv` writes it: ``FLOAT_FORMAT`` floats, "" for NaN/None."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return FLOAT_FORMAT % value
    return str(value)


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV as written here, every cell as text ("" for empty): callers type what they need."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_pairs(table: PairTable, path: Path) -> Path:
    """``pairs.csv``: the tidy table, one row per (case, tensor, env_a, env_b)."""
    return write_csv(table.frame, path)


def matrix(table: PairTable, metric: str) -> pd.DataFrame:
    """Wide form: rows are env pairs, columns ``case/tensor``, values ``metric``."""
    df = table.frame
    if metric not in df.columns or metric in {"case", "tensor", *MATRIX_INDEX}:
        known = [c for c in pairschema.COLUMNS if c not in MATRIX_INDEX]
        raise ValueError(f"unknown metric {metric!r}; choose from {known}")
    keys = df["case"] + "/" + df["tensor"]
    wide = df.assign(key=keys).pivot(index=list(MATRIX_INDEX), columns="key", values=metric)
    wide = wide.reindex(
        index=pd.MultiIndex.from_tuples(table.pairs(), names=list(MATRIX_INDEX)),
        columns=list(dict.fromkeys(keys)),
    )
    wide.columns.name = None
    return wide.reset_index()


def write_matrix(table: PairTable, metric: str, folder: Path) -> Path:
    """``matrix_<metric>.csv`` (``matrix_cosine.csv`` for the cosine distance)."""
    name = "cosine" if metric == "cosine_distance" else metric
    return write_csv(matrix(table, metric), Path(folder) / f"matrix_{name}.csv")


def env_rows(envs: Iterable[Env], reference: Optional[Env]) -> List[Dict[str, Any]]:
    """One plain row per environment, whatever its status."""
    rows = []
    for env in envs:
        meta = env.meta
        platform = meta.get("platform") or {}
        cases = meta.get("cases") or {}
        rows.append(
            {
                "env": env.label,
                "env_id": env.env_id,
                "role": "truth"
                if env is reference
                else ("reference" if env.is_reference else "env"),
                "status": env.status,
                "stage": env.stage,
                "error": " ".join(env.error.split()),
                "file": env.file,
                "lineage": ";".join(traits.lineage_of(meta)) if meta else None,
                **{
                    k: meta.get(k)
                    for k in (
                        "framework",
                        "framework_version",
                        "backend",
                        "dtype",
                        "python",
                        "numpy",
                    )
                },
                **{
                    k: platform.get(k)
                    for k in ("system", "machine", "cpu", "gpu", "isa", "cpu_isa", "isa_caps")
                },
                "cpu_flags": platform.get("cpu_flags"),
                "platform_id": platform.get("id"),
                "flags": json.dumps(meta["flags"], sort_keys=True)
                if meta.get("flags") is not None
                else None,
                "package_version": meta.get("package_version"),
                "git_commit": meta.get("git_commit"),
                "catalog_hash": str(meta["catalog_hash"])[:12]
                if meta.get("catalog_hash")
                else None,
                "schema_version": meta.get("schema_version"),
                "created_utc": meta.get("created_utc"),
                "wall_s": meta.get("wall_s", meta.get("duration_s")),
                "cases_ok": sum(1 for r in cases.values() if r.get("status") == "ok")
                if cases
                else None,
                "cases_error": sum(1 for r in cases.values() if r.get("status") != "ok")
                if cases
                else None,
            }
        )
    return rows


def env_frame(envs: Iterable[Env], reference: Optional[Env]) -> pd.DataFrame:
    """The envs as ``envs.csv`` holds them, read back as text: what the reports take."""
    df = pd.DataFrame.from_records(env_rows(envs, reference), columns=list(ENV_COLUMNS))
    return df.astype(object).where(df.notna(), "").astype(str)


def write_envs(envs: Iterable[Env], reference: Optional[Env], path: Path) -> Path:
    """``envs.csv``: one row per environment (ok, failed, refused, corrupt) and its provenance."""
    df = pd.DataFrame.from_records(env_rows(envs, reference), columns=list(ENV_COLUMNS))
    for name in ("schema_version", "cases_ok", "cases_error"):
        df[name] = pd.to_numeric(df[name], errors="coerce").astype("Int64")
    df["wall_s"] = pd.to_numeric(df["wall_s"], errors="coerce").astype("float64")
    return write_csv(df, path)
