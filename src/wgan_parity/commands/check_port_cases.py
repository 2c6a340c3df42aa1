"""What ``check-port`` runs: the cases and their sizes, and which of them run the port's code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence, Set, Tuple

AT_CHECK_BATCH = ("good_discriminator.random", "gradient_penalty.random")  # the slow two
CHECK_BATCH = 16
MODEL_BLOCKS = ("good_generator", "good_discriminator", "gradient_penalty")
OWN_SIZE_BATCH = 4  # the models' batch at a port's own --dim (dim 64 costs 256x per sample)
# The composites each block is built from by the tool's own implementation (core/model.py).
BUILT_FROM = {
    "conv_mean_pool": ("mean_pool",),
    "mean_pool_conv": ("mean_pool",),
    "residual_block": ("conv_mean_pool", "mean_pool_conv", "upsample_conv", "normalize"),
    "good_generator": ("residual_block",),
    "good_discriminator": ("residual_block",),
    "gradient_penalty": ("good_discriminator",),
}


@dataclass(frozen=True)
class ModelSize:
    """The model cases' width and batch: the catalog's (0: unchanged), or the port's own;
    ``full``: the critic and the penalty at the catalog's batch too (the full run's cases)."""

    dim: int = 0
    batch: int = 0
    full: bool = False

    def dims(self, case: Any, batch: int = 0) -> Tuple[Tuple[str, Any], ...]:
        """``case``'s dims with this size (``batch``: the check's own batch, when smaller)."""
        batch = self.batch or (OWN_SIZE_BATCH if self.dim else batch)
        wanted = {"dim": self.dim, "batch": batch}
        return tuple((k, wanted.get(k) or v) for k, v in case.dims)

    def rename(self, name: str) -> str:
        """A case's name at this width: ``good_generator.dim64.random``. The calibration knows
        the catalog's sizes only, so a renamed case is judged by its measured noise; rules
        that match ``good_generator.*`` or ``*.seed`` still apply."""
        if not self.dim:
            return name
        block, rest = name.split(".", 1)
        return f"{block}.dim{self.dim}.{rest}"

    def describe(self) -> str:
        """Which size the model cases ran at, for the check's output."""
        dim = f"dim {self.dim}" if self.dim else "dim 4 (the catalog's)"
        if self.full:
            batch = f"batch {self.batch}" if self.batch else "the catalog's batch"
        else:
            own = self.batch or (OWN_SIZE_BATCH if self.dim else 0)
            batch = f"batch {own}" if own else f"the critic and the penalty at batch {CHECK_BATCH}"
        return f"sizes: layers and blocks at the catalog's sizes; the models at {dim}, {batch}"


def check_cases(patterns: Sequence[str], size: Optional[ModelSize] = None) -> Tuple[Any, ...]:
    """Every catalog case at its size; the critic and the penalty at batch 16 (``*.check``);
    the models at ``size`` when given (``--dim``: a port at the size it was written for)."""
    import fnmatch

    from wgan_parity.core.catalog import CATALOG

    size = size or ModelSize()
    cases = []
    for case in CATALOG:
        if size.full and case.block in MODEL_BLOCKS:
            cases.append(replace(case, name=size.rename(case.name), dims=size.dims(case)))
        elif case.name in AT_CHECK_BATCH:
            dims = size.dims(case, CHECK_BATCH)
            name = size.rename(f"{case.block}.check")
            cases.append(replace(case, name=name, dims=dims, tap_samples=2))
        elif case.block == "good_generator":
            cases.append(replace(case, name=size.rename(case.name), dims=size.dims(case)))
        elif case.block not in ("good_discriminator", "gradient_penalty"):
            cases.append(case)
    if patterns:
        cases = [c for c in cases if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]
    return tuple(cases)


def port_ops(module: str) -> Set[str]:
    """The primitives and composites the port's own modules define (not its BASE built-ins).

    A composite a :class:`~wgan_parity.backends.module_port.ModulePort` returns for a block it
    has no factory for (``runs_port`` False) runs the tool's own code, so it does not count.
    """
    from wgan_parity.backends import BUILTIN, import_backend_module
    from wgan_parity.core.protocol import COMPOSITES, PRIMITIVES

    found: Set[str] = set()
    name: Any = module
    while isinstance(name, str) and name not in BUILTIN:
        layer = import_backend_module(name)
        for attr in (*PRIMITIVES, *COMPOSITES):
            value = getattr(layer, attr, None)
            if value is not None and getattr(value, "runs_port", True):
                found.add(attr)
        name = getattr(layer, "BASE", None)
    return found


def runs_port(block: str, ops: Set[str]) -> bool:
    """Whether a case of ``block`` runs any of the port's ``ops`` (a primitive runs everywhere)."""
    from wgan_parity.core.protocol import PRIMITIVES

    if block == "identity":
        return False
    if ops & set(PRIMITIVES):
        return True
    pending, seen = [block], set()
    while pending:
        op = pending.pop()
        if op in ops:
            return True
        seen.add(op)
        pending += [u for u in BUILT_FROM.get(op, ()) if u not in seen]
    return False
