"""Every compared framework vs the float64 NumPy truth: one test per (case, tensor, framework).

The tolerance is the one the aggregator applies: ``min(noise limit, clean limit)``, where the
noise limit is ``max(noise_factor x float32 noise, floor)`` from ``data/thresholds.toml`` (the
float32 noise of each tensor is measured by the reference dump, NumPy float32 against float64)
and the clean limit is ``clean_factor x`` the largest error of the committed clean releases with
the same kernels (``data/calibration.csv.gz``; none on kernels it does not cover). Tensors whose
truth is degenerate are skipped with the reason; known divergences (``known = true`` rules) are
xfails only within the rule's measured bound, and a fix shows up.

The ids are listed without running anything (``tests/_parity.py``); the dumps are made once per
session by the ``catalog_dumps`` fixture, so a model bug fails tests instead of the collection.
The frameworks come from the registry: a new framework's entry adds its ids here.
"""

from __future__ import annotations

from typing import Dict

import pytest

from _parity import TENSORS_FILE, check_against_truth, parity_params
from wgan_parity import frameworks
from wgan_parity.compare import thresholds, traits
from wgan_parity.compare.metrics import norm_ratio, rel_err
from wgan_parity.compare.verdict import norm_is_off
from wgan_parity.dump import tensor_names


@pytest.mark.parametrize(("case", "tensor", "backend"), parity_params())
def test_matches_float64_truth(catalog_dumps: Dict, case: str, tensor: str, backend: str) -> None:
    truth = catalog_dumps[frameworks.truth().name]
    check_against_truth(truth, catalog_dumps[backend], case, tensor, backend)


@pytest.mark.slow
def test_parity_tensors_file_is_current() -> None:
    """The recorded tensors are what each case produces (run small on NumPy float32); the
    message names the command that rewrites the file (`wgan-parity regen parity-tensors`)."""
    why = tensor_names.drift(TENSORS_FILE)
    assert why is None, why


def test_every_known_divergence_still_diverges_somewhere(catalog_dumps: Dict) -> None:
    """A known rule that these envs match but no tensor needs any more is stale: a fix should be
    noticed (rules for other kernels, e.g. oneDNN off or TF32, are checked where those run; a
    `lottery` rule's rows diverge on some machines only, so it must match, not be needed)."""
    reference = catalog_dumps[frameworks.truth().name]
    limits = thresholds.load()
    needed: Dict[str, bool] = {}
    lottery = {rule.name for rule in limits.rules if rule.lottery}
    for framework in frameworks.compared():
        dump = catalog_dumps[framework.name]
        env = traits.from_meta(dump.meta["env_id"], dump.meta)
        compared = [  # the compared tensors: not a shadow replay's own/<tap>
            (case, tensor)
            for case, record in dump.meta["cases"].items()
            for tensor in record.get("tensors") or ()
        ]
        for case, tensor in compared:
            key = f"{case}/{tensor}"
            side = limits.side(case, tensor, env)
            noise = reference.meta["noise"][key]["rel_l2"]
            if side.known_rule is None or noise >= limits.degenerate_noise_rel_l2:
                continue
            needed.setdefault(side.known_rule.name, False)
            value, truth = dump.get(key), reference.get(key)
            wrong_size = norm_is_off(norm_ratio(value, truth), limits.norm_ratio_max)
            if wrong_size or rel_err(value, truth) > side.limit(noise):
                needed[side.known_rule.name] = True
    stale = [name for name, used in needed.items() if not used and name not in lottery]
    assert needed, "no known rule matched the built-in envs: the rules' traits are wrong"
    assert not stale, f"known divergences that no longer diverge (remove or narrow them): {stale}"
