"""EGGROLL noise by distribution, for ports that draw from their own random stream (``native_rng``)."""

from __future__ import annotations

import math

import numpy as np

from checks._common import control, es_key, pairs, signs, to_numpy
from harness.base import Check, Statistical

STATS_N, STATS_SHAPE, STATS_RANK = 128, (16, 8), 4
STATS_BIAS = (8,)  # a 1-D parameter: 128 x 8 full-rank noise entries


def _stats_inputs(seed):
    return {"es_key": es_key(seed), "pair_index": pairs(STATS_N), "signs": signs(STATS_N),
            "shape": STATS_SHAPE, "rank": STATS_RANK, "sigma": 0.5}


def _run_stats(c, case):
    keys = c["eggroll.member_keys"](case["es_key"], 1, 0, case["pair_index"])[0]
    s = to_numpy(case["signs"]).astype(np.float64)
    out = {}
    if "eggroll.lowrank_noise" in c:
        A, B = c["eggroll.lowrank_noise"](keys, case["signs"], case["shape"], case["rank"], case["sigma"])
        A, B = to_numpy(A).astype(np.float64), to_numpy(B).astype(np.float64)
        a_std = A / (case["sigma"] * s[:, None, None] / math.sqrt(case["rank"]))
        # KS assumes independent samples: one member per antithetic pair (the other repeats it; duplicated
        # samples made the false-failure rate 44x the budget: bench/results/calibration.json)
        out["eggroll.lowrank_noise"] = {
            "A_entries": a_std[0::2].ravel(), "B_entries": B[0::2].ravel(),
            # antithetic structure: both are exactly 0 for a correct sampler
            "pair_sum_A": (A[0::2] + A[1::2]).ravel(), "pair_diff_B": (B[0::2] - B[1::2]).ravel(),
            # independence across pairs: products of disjoint pairs of pairs (0, 1), (2, 3), ... (mean 0,
            # variance 1; a chain of neighbours would share factors)
            "cross_pair_B": (B[0::4] * B[2::4]).ravel()}
    if "eggroll.fullrank_noise" in c:
        # full-rank (bias) noise standardised by sigma s: N(0, 1), whatever the parameter's size (a port
        # dividing 1-D noise by sqrt(numel) or sqrt(r) fails here even with its own random stream)
        E = to_numpy(c["eggroll.fullrank_noise"](keys, case["signs"], STATS_BIAS, case["sigma"])).astype(np.float64)
        out["eggroll.fullrank_noise"] = {"E_bias_entries": (E / (case["sigma"] * s[:, None]))[0::2].ravel()}
    return out


def _uniform_noise(orig):
    """Unit-variance uniform noise instead of normal (a sampler bug a KS test must see)."""
    def mutant(keys, signs, shape, rank, sigma):
        import torch

        a, b = orig(keys, signs, shape, rank, sigma)
        scale = signs[:, None, None] * (float(sigma) / math.sqrt(int(rank)))
        u = lambda z: math.sqrt(3.0) * (2 * torch.special.ndtr(z) - 1)
        return u(a / scale) * scale, u(b)
    return mutant


def _independent_pairs(orig):
    """Each member draws its own noise (keys rolled by one): no antithetic pairs."""
    def mutant(keys, signs, shape, rank, sigma):
        import torch

        return orig(torch.roll(keys, 1, 0), signs, shape, rank, sigma)
    return mutant


CHECKS = [
    Check(
        name="eggroll.stats.noise",
        components=("eggroll.lowrank_noise", "eggroll.member_keys", "eggroll.fullrank_noise"),
        optional=("eggroll.lowrank_noise", "eggroll.fullrank_noise"),
        inputs=_stats_inputs, run=_run_stats, mode=Statistical(alpha=1e-3), fixture=False, by_component=True,
        description="for ports with native randomness: A, B and 1-D full-rank noise entries N(0, 1) after "
                    "their spec scaling (two-sample KS), antithetic pairs (A_{2k} + A_{2k+1} = 0, B_{2k} = "
                    "B_{2k+1}), independence across pairs; false-failure budget alpha = 1e-3 over the 6 leaves "
                    "(Bonferroni)",
        controls=(
            control("uniform_noise", "unit-variance uniform noise instead of normal",
                    "eggroll.lowrank_noise", _uniform_noise),
            control("independent_pairs", "members of a pair draw independent noise",
                    "eggroll.lowrank_noise", _independent_pairs),
        ),
    ),
]
