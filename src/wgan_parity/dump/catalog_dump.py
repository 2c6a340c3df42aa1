"""Run the case catalog on one backend and stream every tensor into one dump file."""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from wgan_parity import frameworks
from wgan_parity.backends import BUILTIN, load_backend
from wgan_parity.backends.module_port import ModulePort
from wgan_parity.core import isa, precision
from wgan_parity.core.allocator import release_freed_memory
from wgan_parity.core.catalog import CATALOG, Case
from wgan_parity.core.fixtures import catalog_hash, make_fixtures
from wgan_parity.core.flags import Flags
from wgan_parity.core.protocol import Ops
from wgan_parity.dump import kinks, noise_table, shadow
from wgan_parity.dump.case_runner import run_case
from wgan_parity.dump.dumpfile import DumpWriter
from wgan_parity.dump.meta import CaseRecord, DumpMeta, catalog_info
from wgan_parity.dump.noise import blas_threads
from wgan_parity.dump.noise import measure as measure_noise
from wgan_parity.dump.noise_source import NoiseSource
from wgan_parity.dump.provenance import base_metadata, platform_info
from wgan_parity.dump.resources import peak_rss_mb, reset_peak_rss

Progress = Callable[[str], None]
#: The float32 reference whose casts round to a reduced precision: what sets its limits.
REDUCED_REFERENCE = "wgan_parity.backends.reference_reduced"


@dataclass(frozen=True)
class DumpRequest:
    """What one dump runs: ``cases`` on ``backend``, written to ``out`` (atomically).

    ``env_id`` labels it (default: :func:`default_env_id`); ``flags`` are the requested
    switches. The float64 reference also gives each case's float32 noise
    (:mod:`dump.noise_source`): ``noise_mode`` ``table`` reads a verified table in
    ``noise_tables`` where one fits, ``measure`` measures; ``write_noise_table`` writes the
    measured figures as a table into that folder.
    """

    backend: str
    out: Path
    cases: Sequence[Case] = CATALOG
    env_id: Optional[str] = None
    flags: Flags = field(default_factory=Flags)
    noise_mode: str = "table"
    noise_tables: Path = noise_table.TABLE_DIR
    write_noise_table: Optional[Path] = None
    noise_precisions: Tuple[str, ...] = ()


def write_catalog_dump(request: DumpRequest, progress: Progress = lambda line: None) -> DumpMeta:
    """Run the request's cases, write its dump atomically and return the dump's metadata.

    A case that raises is recorded with its error and the dump goes on; ``progress`` gets one
    line per finished case. The catalog hash always covers the full catalog, so dumps of
    different case selections remain comparable.
    """
    backend_name, out, flags = request.backend, request.out, request.flags
    noise_mode, write_noise_table = request.noise_mode, request.write_noise_table
    started = time.perf_counter()
    if flags.max_isa:  # before the framework starts: its kernels are chosen then
        isa.apply_cap(flags.max_isa)
    backend = load_backend(backend_name, flags)
    import_s = time.perf_counter() - started
    twin = (
        load_backend("reference32", flags)
        if backend.framework == frameworks.truth().name and backend.DTYPE == "float64"
        else None
    )
    if write_noise_table is not None and (twin is None or noise_mode != "measure"):
        raise ValueError(
            "--write-noise-table: expected a float64 reference dump with --noise measure; found "
            + (f"backend {backend_name}" if twin is None else f"--noise {noise_mode}")
        )
    if request.noise_precisions and twin is None:
        raise ValueError(
            f"--noise-precision: expected the float64 reference, found backend {backend_name}; "
            "the reference dump measures every precision's limits"
        )
    noise_source = (
        NoiseSource(backend, twin, noise_mode, request.noise_tables) if twin is not None else None
    )
    truth_name = frameworks.truth().name
    replayer = (
        shadow.Replayer(backend, lambda: load_backend(truth_name, flags))
        if twin is None and flags.precision == precision.FLOAT32
        else None
    )
    run = _CaseRun(backend, noise_source, replayer)
    run.reduced = {
        p: load_backend(REDUCED_REFERENCE, dataclasses.replace(flags, precision=p))
        for p in request.noise_precisions
    }
    platform = platform_info(list(backend.flags.get("gpus") or []), backend.framework)
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    records: Dict[str, CaseRecord] = {}
    with DumpWriter(out) as writer:
        for case in request.cases:
            record, tensors = _run_one(run, case)
            records[case.name] = record
            for name, array in tensors.items():
                writer.add(f"{case.name}/{name}", array)
            del tensors  # written: the next case's peak must not include them
            release_freed_memory()
            progress(
                f"{case.name}: {record.status} in {record.wall_s:.2f}s, "
                f"peak {record.peak_rss_mb:.0f} MiB"
                + (f" ({record.error})" if record.error else "")
            )
        meta = DumpMeta(
            **base_metadata(),
            env_id=request.env_id or default_env_id(backend),
            backend=backend_name,
            lineage=tuple(backend_lineage(backend)),
            framework=backend.framework,
            framework_version=backend.framework_version(),
            dtype=backend.DTYPE,
            flags={
                **flags.as_dict(),
                **backend.flags,
                "numpy_blas": blas_threads(),
                **({"noise_source": noise_source.record()} if noise_source else {}),
            },
            platform=platform,
            created_utc=created,
            import_s=round(import_s, 3),
            port_deviations=tuple(backend_deviations(backend)) or None,  # after the cases ran
            cases=records,
            noise=run.noise,
            precision_noise=run.precision_noise if run.reduced else None,
            catalog_hash=catalog_hash(CATALOG, run.digests),
            catalog=catalog_info(CATALOG),
            wall_s=round(time.perf_counter() - started, 3),
        )
        writer.close(meta.to_json())
    if write_noise_table is not None and noise_source is not None:  # both checked above
        _write_table(write_noise_table, noise_source, records, run.digests, run.noise)
    return meta


def _write_table(
    directory: Path,
    source: NoiseSource,
    records: Dict[str, CaseRecord],
    digests: Dict[str, str],
    noise: Dict[str, Dict[str, float]],
) -> None:
    """Write the cases whose noise this dump measured (every one: ``--noise measure``)."""
    by_case: Dict[str, Dict[str, Dict[str, float]]] = {}
    for key, figures in noise.items():
        case, tensor = key.split("/", 1)
        by_case.setdefault(case, {})[tensor] = figures
    measured = {case: by_case.get(case, {}) for case, rec in records.items() if rec.ok}
    noise_table.write(directory, source.key, digests, measured)


def backend_lineage(backend: Ops) -> list:
    """The backend's modules, base first, as backend names (``["torch", "mypkg.port"]``)."""
    builtin_of = {module: name for name, module in BUILTIN.items()}
    return [builtin_of.get(m.__name__, m.__name__) for m in backend.modules]


def backend_deviations(backend: Ops) -> List[str]:
    """What the backend's modules declare they do differently from tflib, once each, in order.

    A module's ``deviations()`` if it defines one (``deviations = PORT.deviations``), else the
    ``deviations()`` of each :class:`ModulePort` among its globals. Read after the cases ran: a
    port knows its blocks once it built them. A hook that fails is recorded, not raised.
    """
    found: List[str] = []
    for module in backend.modules:
        hook = getattr(module, "deviations", None)
        hooks = [hook] if callable(hook) else [
            v.deviations for v in vars(module).values() if isinstance(v, ModulePort)
        ]  # fmt: skip
        for source in hooks:
            try:
                lines = [str(line) for line in source()]
            except Exception as exc:  # a user's hook; the dump's tensors are worth more
                lines = [f"{module.__name__}.deviations() failed: {type(exc).__name__}: {exc}"]
            found += [line for line in lines if line not in found]
    return found


def default_env_id(backend: Ops) -> str:
    """``tf-<version>`` / ``torch-<version>`` as in matrix.toml; user backends prefix their name."""
    framework = frameworks.find(backend.framework)
    if framework is None or framework.truth:
        return backend.name
    release = framework.env_id(backend.framework_version())
    return release if backend.name in BUILTIN else f"{backend.name}@{release}"


@dataclass
class _CaseRun:
    """What running each case needs, and what it collects: fixture digests and noise figures."""

    backend: Ops
    noise_source: Optional[NoiseSource]
    replayer: Optional[shadow.Replayer]
    digests: Dict[str, str] = field(default_factory=dict)
    noise: Dict[str, Dict[str, float]] = field(default_factory=dict)
    reduced: Dict[str, Ops] = field(default_factory=dict)  # precision -> float32 reference under it
    precision_noise: Dict[str, Dict[str, Dict[str, float]]] = field(default_factory=dict)


def _run_one(run: _CaseRun, case: Case) -> tuple:
    """One case's record and tensors (its shadow replay's ``own/<name>`` among them)."""
    reset_peak_rss()
    started = time.perf_counter()
    tensors: Dict[str, np.ndarray] = {}
    own: Dict[str, np.ndarray] = {}
    dtypes: Dict[str, str] = {}
    error = own_error = None
    try:
        fixtures = make_fixtures(case)
        run.digests[case.name] = fixtures.digest()
        probe = kinks.KinkProbe() if run.noise_source is not None else None
        with probe.running(run.backend, "record") if probe else contextlib.nullcontext():
            tensors = run_case(run.backend, case, fixtures, dtypes)
        if run.noise_source is not None:
            digest = run.digests[case.name]
            figures = run.noise_source.figures(case, fixtures, digest, tensors, probe)
            run.noise.update({f"{case.name}/{k}": v for k, v in figures.items()})
        for name, reduced in run.reduced.items():
            figures = measure_noise(reduced, case, fixtures, tensors)
            table = run.precision_noise.setdefault(name, {})
            table.update({f"{case.name}/{k}": v for k, v in figures.items()})
        if run.replayer is not None:
            own, own_error = run.replayer.own(case, fixtures, tensors)
    except Exception as exc:  # a case a framework cannot run is recorded, not raised
        error = f"{type(exc).__name__}: {exc}".strip()
        tensors, own = {}, {}
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        if last:
            error += f" [at {Path(last[0].filename).name}:{last[0].lineno}]"
    record = CaseRecord(
        status="error" if error else "ok",
        error=error,
        wall_s=round(time.perf_counter() - started, 3),
        peak_rss_mb=round(peak_rss_mb(), 1),
        tensors=tuple(tensors),
        own=tuple(name[len(shadow.OWN_PREFIX) :] for name in own),
        own_error=own_error,
        dtypes=dtypes,
    )
    return record, {**tensors, **own}
