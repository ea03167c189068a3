"""Whole-output checks attribute their failing leaves (``Check.attribute``, ``checks._common.Owners``): a port that
diverges in one component is named on that component only, not on every component the check exercises."""

from __future__ import annotations

import numpy as np
import pytest

from checks._common import Owners
from checks.builtin import implementation
from checks.eggroll import noise, update
from harness.base import Status
from harness.runner import Runner

OWNERS = Owners((r"\['(?P<r>R\d+)'\]\['tau'\]", "epoch"),
                (r"\['(?P<r>R\d+)'\]\['keys'\]", "keys", [r"\['{r}'\]\['tau'\]"]),
                (r"\['A'\]", "low", (), [r"\['E'\]"]), (r"\['E'\]", "full", (), [r"\['A'\]"]))


@pytest.mark.parametrize("failing, named", [
    (["['R0']['tau']", "['R0']['keys']"], ["epoch"]),  # the keys were computed from a diverging tau
    (["['R1']['keys']", "['R0']['tau']"], ["keys", "epoch"]),  # another configuration's tau explains nothing
    (["['R2']['keys'][0]"], ["keys"]),
    (["['A']"], ["low"]),
    (["['A']", "['E']"], []),  # two components' outputs at once: their common input, not attributable
    (["['R0']['tau']", "['other']"], []),  # a leaf no rule owns: not attributable, as the runner's default
])
def test_owners(failing, named):
    assert OWNERS(failing) == named


def _named(check, component, mutant):
    """failing_components of (the numpy oracle with ``component`` patched) vs the oracle."""
    oracle = implementation("numpy")
    port = oracle.patched("port", {component: mutant})
    pair = ("port", "invariant") if check.kind == "property" else ("port", "numpy")
    (row,) = Runner({"numpy": oracle, "port": port}).run_check(check, 0, pairs=[pair])
    assert row.status == Status.FAIL, row.message
    return row.failing_components


CHECKS = {c.name: c for c in noise.CHECKS + update.CHECKS}


def test_sign_alternation_names_only_the_diverging_component():
    check = CHECKS["eggroll.noise.sign_alternation"]
    # the pair index diverges, and with it every key derived from it: only pair_index_sign is named
    assert _named(check, "eggroll.pair_index_sign", noise.halves) == ["eggroll.pair_index_sign"]
    keys = lambda orig: lambda es_key, num_params, tau, pair_index: orig(es_key, num_params, tau, pair_index + 1)
    assert _named(check, "eggroll.member_keys", keys) == ["eggroll.member_keys"]


def test_reuse_names_only_the_diverging_component():
    check = CHECKS["eggroll.noise.reuse"]
    modulo = lambda orig: lambda epoch, noise_reuse: np.int32(epoch % noise_reuse) if noise_reuse else orig(epoch, 0)
    assert _named(check, "eggroll.noise_epoch", modulo) == ["eggroll.noise_epoch"]
    keys = lambda orig: lambda es_key, num_params, tau, pair_index: orig(es_key, num_params, tau + 1, pair_index)
    assert _named(check, "eggroll.member_keys", keys) == ["eggroll.member_keys"]


def test_layout_names_low_and_full_rank_noise_apart():
    check = CHECKS["eggroll.noise.layout"]
    low = lambda orig: lambda keys, signs, shape, rank, sigma: orig(keys, signs, shape, rank, 2 * sigma)
    assert _named(check, "eggroll.lowrank_noise", low) == ["eggroll.lowrank_noise"]
    full = lambda orig: lambda keys, signs, shape, sigma: orig(keys, signs, shape, 2 * sigma)
    assert _named(check, "eggroll.fullrank_noise", full) == ["eggroll.fullrank_noise"]


def test_invariants_name_the_component_that_breaks_them():
    check = CHECKS["eggroll.update.invariants"]
    same_sign = lambda orig: lambda keys, signs, shape, rank, sigma: orig(keys, signs * 0 + 1, shape, rank, sigma)
    assert _named(check, "eggroll.lowrank_noise", same_sign) == ["eggroll.lowrank_noise"]
    plus_member = lambda orig: lambda f, a, b: orig(f + np.arange(f.shape[0]) * 1e-2, a, b)
    assert _named(check, "eggroll.lowrank_update", plus_member) == ["eggroll.lowrank_update"]
    forward = lambda orig: lambda x, w, a, b: orig(x, w, a, b) * 1.01
    assert _named(check, "eggroll.forward", forward) == ["eggroll.forward"]
    # pairs as halves: A, B and E all lose their antithetic partner -- their common input (the pair index) is
    # not compared by this check, which says "not attributable" rather than blame a noise component
    assert _named(check, "eggroll.pair_index_sign", noise.halves) == []
