"""The framework registry: every framework the tool runs is declared here, once.

Standard library only, and importing it does nothing: noxfile.py reads it before any venv
exists, and every stage derives its framework lists from it (the env table's validation, the
built-in backends, env ids and their order in tables, the ISA cap variables, the calibration's
clean set, the nox/tox test extras, the parity tests). Adding a framework means one adapter
module under ``backends/``, one :class:`Framework` entry in :data:`BUILTIN_FRAMEWORKS` and its
rows in ``matrix.toml``; adding a switch of one framework, one :class:`Switch` in its entry and
the line of its adapter's ``configure`` that applies it. Tests add a toy framework for a while
with :func:`registered`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Dict, Iterator, Mapping, Optional, Tuple

# Variables honoured by kernels of a framework the registry does not know (a user port runs a
# built-in framework's kernels): torch's and oneDNN's.
DEFAULT_CAP_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")


class FrameworkError(LookupError):
    """A framework name the registry does not know, or a clashing registration."""


@dataclass(frozen=True)
class Switch:
    """An on/off numeric switch of one framework, applied by its adapter's ``configure``.

    ``key`` is recorded in the dump's ``flags`` (and matched by threshold rules); ``option`` is
    ``wgan-parity dump``'s: a switch off by default is a plain flag (``--channels-last``), one on
    by default takes 0 or 1 (``--onednn 0``), as ``matrix.toml`` rows spell them. Set to anything
    but ``default``, it adds ``token`` to the env's kernel class (:mod:`compare.traits`); ""
    when it leaves the kernels alone. ``leads``: the token goes before the common ones (``tf32``,
    ``nondeterministic``), where ``onednn0`` has always been; the others follow them. The
    switches every framework applies (deterministic, tf32, threads, device, max_isa) are
    :class:`wgan_parity.core.flags.Flags` fields, not entries.
    """

    key: str
    option: str
    help: str
    default: bool = False
    token: str = ""
    leads: bool = False


@dataclass(frozen=True)
class Framework:
    """One framework and everything the stages need to know about it.

    ``name`` is matrix.toml's ``framework``, the adapter's ``FRAMEWORK`` and the dump's
    ``framework``; ``short`` prefixes its env ids (``tf`` -> ``tf-2.21.0``); ``adapter`` is the
    backend module, ``variants`` more built-in backends over it (``reference32``). ``extra`` is
    the pyproject optional-dependency group that installs it and ``distributions`` the packages
    an env pins to choose its release; ``import_module`` is imported to prove an env works.
    ``rank`` orders envs in tables and heatmaps. ``cap_variables`` are the environment variables
    that cap its kernels' instruction set. ``clean``: its built-in errors calibrate the clean
    limit. ``truth``: the float64 reference every other framework is compared with.
    ``switches``: its own numeric switches (:class:`Switch`).
    """

    name: str
    short: str
    adapter: str
    import_module: str
    rank: int
    extra: str = ""
    distributions: Tuple[str, ...] = ()
    cap_variables: Tuple[str, ...] = DEFAULT_CAP_VARIABLES
    clean: bool = False
    truth: bool = False
    variants: Tuple[Tuple[str, str], ...] = ()
    switches: Tuple[Switch, ...] = ()

    @property
    def needs_pins(self) -> bool:
        """An env of it must pin a release (the truth runs the package's own dependencies)."""
        return bool(self.distributions) and not self.truth

    @property
    def label_prefix(self) -> str:
        """How its env ids start: ``tf-`` (``tf-2.21.0``); the truth's id is its short name."""
        return self.short if self.truth else f"{self.short}-"

    def env_id(self, version: str) -> str:
        """The default env id of a release: ``tf-2.21.0``; the truth's is ``reference``."""
        return self.short if self.truth else f"{self.short}-{version}"

    def backends(self) -> Dict[str, str]:
        """Its built-in backends: name -> module (the adapter, then the variants)."""
        return {self.name: self.adapter, **dict(self.variants)}


BUILTIN_FRAMEWORKS: Tuple[Framework, ...] = (
    Framework(
        name="reference",
        short="reference",
        adapter="wgan_parity.backends.reference",
        import_module="autograd",
        rank=0,
        distributions=("numpy", "autograd"),
        cap_variables=("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE"),
        truth=True,
        variants=(("reference32", "wgan_parity.backends.reference32"),),
    ),
    Framework(
        name="tensorflow",
        short="tf",
        adapter="wgan_parity.backends.tensorflow",
        import_module="tensorflow",
        rank=1,
        extra="tensorflow",
        distributions=("tensorflow-cpu", "tensorflow"),
        cap_variables=("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"),
        clean=True,
        switches=(
            Switch(
                "onednn",
                "--onednn",
                "TF_ENABLE_ONEDNN_OPTS for TensorFlow (default 1, TF's x86 default)",
                default=True,
                token="onednn0",
                leads=True,
            ),
            Switch(
                "graph",
                "--tf-graph",
                "TensorFlow: graph mode with tf.gradients in a Session (the seed's own path)",
                token="graph",
            ),
        ),
    ),
    Framework(
        name="torch",
        short="torch",
        adapter="wgan_parity.backends.torch",
        import_module="torch",
        rank=2,
        extra="torch",
        distributions=("torch",),
        cap_variables=("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"),
        clean=True,
        switches=(
            Switch(
                "channels_last",
                "--channels-last",
                "torch: inputs and conv kernels in channels-last memory layout (values unchanged)",
                token="channels_last",
            ),
        ),
    ),
    Framework(
        name="jax",
        short="jax",
        adapter="wgan_parity.backends.jax",
        import_module="jax",
        rank=3,
        extra="jax",
        distributions=("jax", "jaxlib"),
        cap_variables=(),  # XLA:CPU compiles for the host and reads no cap variable
        clean=True,
    ),
)

_REGISTRY: Dict[str, Framework] = {fw.name: fw for fw in BUILTIN_FRAMEWORKS}


def all_frameworks() -> Tuple[Framework, ...]:
    """Every registered framework, by rank (the truth first)."""
    return tuple(sorted(_REGISTRY.values(), key=lambda fw: (fw.rank, fw.name)))


def names() -> Tuple[str, ...]:
    """The registered framework names, by rank."""
    return tuple(fw.name for fw in all_frameworks())


def compared() -> Tuple[Framework, ...]:
    """The frameworks compared with the truth, by rank."""
    return tuple(fw for fw in all_frameworks() if not fw.truth)


def truth() -> Framework:
    """The float64 reference framework."""
    return next(fw for fw in all_frameworks() if fw.truth)


def find(name: str) -> Optional[Framework]:
    """The framework called ``name``, or None."""
    return _REGISTRY.get(name)


def get(name: str) -> Framework:
    """The framework called ``name``; :class:`FrameworkError` says which names exist."""
    found = _REGISTRY.get(name)
    if found is None:
        raise FrameworkError(
            f"unknown framework {name!r}; expected one of {list(names())} "
            "(declared in wgan_parity/frameworks.py)"
        )
    return found


def backend_modules() -> Dict[str, str]:
    """Every built-in backend: name -> module, frameworks by rank."""
    out: Dict[str, str] = {}
    for fw in all_frameworks():
        out.update(fw.backends())
    return out


def extras() -> Tuple[str, ...]:
    """The pyproject extras that install the compared frameworks, by rank."""
    return tuple(fw.extra for fw in all_frameworks() if fw.extra)


def framework_of_label(label: str) -> Optional[Tuple[Framework, str]]:
    """(framework, version) of a default env id (``tf-2.21.0`` -> tensorflow, ``2.21.0``)."""
    for fw in all_frameworks():
        if (fw.truth and label == fw.short) or (not fw.truth and label.startswith(fw.label_prefix)):
            return fw, label[len(fw.label_prefix) :]
    return None


def switches() -> Tuple[Switch, ...]:
    """Every registered framework's switches, frameworks by rank."""
    return tuple(sw for fw in all_frameworks() for sw in fw.switches)


def switches_of(name: str) -> Tuple[Switch, ...]:
    """The switches of framework ``name`` (none when the registry does not know it)."""
    found = _REGISTRY.get(name)
    return found.switches if found else ()


def cap_variables(name: str) -> Tuple[str, ...]:
    """The ISA cap variables ``name``'s kernels honour (torch's and oneDNN's when unknown)."""
    found = _REGISTRY.get(name)
    return found.cap_variables if found else DEFAULT_CAP_VARIABLES


class BackendModules(Mapping[str, str]):
    """A live read-only view of :func:`backend_modules` (sees :func:`registered` entries)."""

    def __getitem__(self, name: str) -> str:
        return backend_modules()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(backend_modules())

    def __len__(self) -> int:
        return len(backend_modules())

    def __repr__(self) -> str:
        return f"BackendModules({backend_modules()!r})"


@contextlib.contextmanager
def registered(framework: Framework) -> Iterator[Framework]:
    """Register ``framework`` for the duration of a ``with`` block (tests, toy frameworks)."""
    taken = set(_REGISTRY) | set(backend_modules())
    clashes = sorted(taken & {framework.name, *framework.backends()})
    keys = {sw.key for sw in switches()} | {sw.option for sw in switches()}
    clashes += sorted(keys & {x for sw in framework.switches for x in (sw.key, sw.option)})
    if clashes:
        raise FrameworkError(
            f"cannot register {framework.name!r}: {clashes} already name a framework, backend "
            "or switch; choose another name"
        )
    _REGISTRY[framework.name] = framework
    try:
        yield framework
    finally:
        del _REGISTRY[framework.name]
