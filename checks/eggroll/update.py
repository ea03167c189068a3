"""EGGROLL updates handed to the optimiser (low rank, full rank) and the spec's invariants of the whole step."""

from __future__ import annotations

import math

import numpy as np

from checks._common import Owners, control, es_key, seeded_dtypes, signs, to_numpy
from checks.eggroll.fitness import fitness_mutant, fitness_vectors, per_group_variance, spread
from checks.eggroll.noise import halves
from harness.base import Check, Tolerance

# ======================================================================================== updates


def _update_inputs(seed):
    rng = np.random.default_rng(seed)
    n, a, b, r = 8, 5, 3, 2
    f = spread(rng, n, 1.0)
    f = (f - f.mean()) / f.std()
    z = rng.normal(size=(n // 2, a + b, r)).astype(np.float32).repeat(2, axis=0)
    scale = (0.1 * signs(n) / np.sqrt(r)).astype(np.float32)
    return {"f": f.astype(np.float32), "a": z[:, b:] * scale[:, None, None], "b": z[:, :b].copy()}


def _full_inputs(seed):
    rng = np.random.default_rng(seed)
    n = 8
    f = spread(rng, n, 1.0)
    f = (f - f.mean()) / f.std()
    s = (0.1 * signs(n)).astype(np.float32)
    e_bias = rng.normal(size=(n // 2, 5)).astype(np.float32).repeat(2, axis=0) * s[:, None]
    e_mat = rng.normal(size=(n // 2, 3, 4)).astype(np.float32).repeat(2, axis=0) * s[:, None, None]
    return {"f": f.astype(np.float32), "e_bias": e_bias, "e_matrix": e_mat}


def _over_sqrt_n(orig):
    """divided by N instead of sqrt(N) (either update: ``f`` is the first argument)."""
    return lambda f, *noise: orig(f, *noise) / math.sqrt(f.shape[0])


def _negated(orig):
    return lambda f, *noise: -orig(f, *noise)


# ===================================================================================== invariants

INV_SHAPES = (((6, 5), 1), ((3, 7), 2))  # (a, b), rank: JAX compiles once per entry


def _inv_case(seed, n, which, sigma, fitness, const):
    (a, b), r = INV_SHAPES[which]
    rng = np.random.default_rng(seed)
    # F on a 2^-10 grid (|F| < 2^13) and c a multiple of 1/4: F + c is exact in float32, so invariant 2
    # compares the update of the same numbers, not of F + c rounded
    fitness = np.round(np.asarray(fitness, np.float64) * 1024) / 1024
    return {"es_key": es_key(seed), "population": n, "shape": (a, b), "rank": r, "sigma": float(sigma),
            "fitness": fitness.astype(np.float32), "const": round(float(const) * 4) / 4,
            "pair_values": spread(rng, n // 2, 1.0), "x": rng.normal(size=(n, 3, b)).astype(np.float32),
            "w": rng.normal(size=(a, b)).astype(np.float32)}


def _inv_inputs(seed):
    rng = np.random.default_rng(seed)
    n = 8
    return _inv_case(seed, n, seed % 2, rng.uniform(0.05, 1.0), spread(rng, n, 1.0), rng.uniform(-5, 5))


def _inv_strategy():
    from hypothesis import strategies as st

    @st.composite
    def cases(draw):
        n = 8  # N is fixed (JAX compiles per N); N in {4, 8, 16} is covered by the noise / fitness checks
        return _inv_case(draw(st.integers(0, 2**31 - 1)), n, draw(st.integers(0, 1)),
                         draw(st.floats(0.01, 1.0)), draw(fitness_vectors(n, (-10, -8))),
                         draw(st.floats(-10, 10)))
    return cases()


def _numerical_rank(g):
    s = np.linalg.svd(np.asarray(g, np.float64), compute_uv=False)
    return int(np.sum(s > max(s.max(), 1e-30) * 1e-4))


def _run_invariants(c, case):
    n, (a, b), r, sigma = case["population"], case["shape"], case["rank"], case["sigma"]
    k, s = c["eggroll.pair_index_sign"](n)
    keys = c["eggroll.member_keys"](case["es_key"], 1, 0, k)[0]
    A, B = c["eggroll.lowrank_noise"](keys, s, (a, b), r, sigma)
    E = c["eggroll.fullrank_noise"](keys, s, (a,), sigma)
    shape, lr_up, fr_up = c["eggroll.shape_fitness"], c["eggroll.lowrank_update"], c["eggroll.fullrank_update"]
    F = case["fitness"]
    f0 = shape(F, 0)
    g0, e0 = lr_up(f0, A, B), fr_up(f0, E)
    act, exp = {}, {}
    # 1. antithetic pairs: E_{2k+1} = -E_{2k}; the update sees only within-pair differences
    act["1_pair_A"], exp["1_pair_A"] = A[1::2], -A[0::2]
    act["1_pair_B"], exp["1_pair_B"] = B[1::2], B[0::2]
    act["1_pair_E"], exp["1_pair_E"] = E[1::2], -E[0::2]
    shift = c.asarray(np.repeat(np.asarray(case["pair_values"], np.float32), 2))
    act["1_pair_shift"], exp["1_pair_shift"] = lr_up(f0 + shift, A, B), g0
    # 2. a constant added to F changes nothing; every even G gives the same update
    Fc = c.asarray((to_numpy(F).astype(np.float64) + case["const"]).astype(to_numpy(F).dtype))
    act["2_const"], exp["2_const"] = lr_up(shape(Fc, 0), A, B), g0
    for g in [g for g in (2, 4, 8) if n % g == 0]:
        fg = shape(F, g)
        act[f"2_group_G{g}"], exp[f"2_group_G{g}"] = {"W": lr_up(fg, A, B), "bias": fr_up(fg, E)}, {"W": g0, "bias": e0}
    # 3. equal fitness within every pair: zero update
    Feq = c.asarray(np.repeat(np.asarray(case["pair_values"], np.float32), 2))
    feq = shape(Feq, 0)
    act["3_equal_pairs"] = {"W": lr_up(feq, A, B), "bias": fr_up(feq, E)}
    exp["3_equal_pairs"] = {"W": c.asarray(np.zeros((a, b), to_numpy(g0).dtype)),
                            "bias": c.asarray(np.zeros((a,), to_numpy(g0).dtype))}
    # 4. rank(update) <= min(N r / 2, a, b)
    rk = _numerical_rank(to_numpy(g0))
    act["4_rank"], exp["4_rank"] = np.int64(rk), np.int64(min(rk, n * r // 2, a, b))
    # 5. efficient forward == materialised forward (x (W + A B^T)^T, formed here in float64)
    y = c["eggroll.forward"](case["x"], case["w"], A, B)
    wm = to_numpy(case["w"]).astype(np.float64)[None] + np.einsum("nir,njr->nij", to_numpy(A).astype(np.float64),
                                                                  to_numpy(B).astype(np.float64))
    ym = np.einsum("nmj,nij->nmi", to_numpy(case["x"]).astype(np.float64), wm)
    act["5_forward"], exp["5_forward"] = y, c.asarray(ym.astype(to_numpy(y).dtype))
    return act, exp


def _no_antithetic_sign(orig):
    return lambda keys, signs, shape, rank, sigma: orig(keys, signs * 0 + 1, shape, rank, sigma)


# Leaf attribution, in data-flow order. The pair leaves (1_pair_A / B / E) compare each noise with itself:
# A or B alone names lowrank_noise, E alone fullrank_noise, both kinds at once their common inputs (pair index
# and sign, member keys), which this check does not compare: not attributable. Every other invariant holds for
# antithetic noise whatever the update's scale, so it names the component it exercises once the noise is
# antithetic: a pair-constant shift of f and equal pairs (the updates), constant and group shifts of F
# (shape_fitness), the rank (lowrank_update), the materialised forward (forward).
_PAIRS = r"\['1_pair_[ABE]'\]"
INVARIANT_OWNERS = Owners(
    (r"\['1_pair_[AB]'\]", "eggroll.lowrank_noise", (), [r"\['1_pair_E'\]"]),
    (r"\['1_pair_E'\]", "eggroll.fullrank_noise", (), [r"\['1_pair_[AB]'\]"]),
    (r"\['1_pair_shift'\]", "eggroll.lowrank_update", [_PAIRS]),
    (r"\['2_const'\]", "eggroll.shape_fitness"),
    (r"\['2_group_G\d+'\]", "eggroll.shape_fitness", [_PAIRS, r"\['1_pair_shift'\]"]),
    (r"\['3_equal_pairs'\]\['W'\]", "eggroll.lowrank_update", [_PAIRS]),
    (r"\['3_equal_pairs'\]\['bias'\]", "eggroll.fullrank_update", [_PAIRS]),
    (r"\['4_rank'\]", "eggroll.lowrank_update", [_PAIRS]),
    (r"\['5_forward'\]", "eggroll.forward"),
)

# ===================================================================================== catalogue

CHECKS = [
    Check(
        name="eggroll.update.lowrank", components=("eggroll.lowrank_update",),
        inputs=_update_inputs, run=lambda c, k: c["eggroll.lowrank_update"](k["f"], k["a"], k["b"]),
        mode=Tolerance(), strategy=seeded_dtypes(_update_inputs),
        description="g_W = -sqrt(N) einsum('nir,njr->ij', f A, B) / N",
        controls=(
            control("missing_sqrt_n", "divided by N instead of sqrt(N)", "eggroll.lowrank_update", _over_sqrt_n),
            control("wrong_sign", "gradient of the maximisation handed to a minimiser",
                    "eggroll.lowrank_update", _negated, target="jax"),
        ),
    ),
    Check(
        name="eggroll.update.full", components=("eggroll.fullrank_update",), inputs=_full_inputs,
        run=lambda c, k: {"bias": c["eggroll.fullrank_update"](k["f"], k["e_bias"]),
                          "matrix": c["eggroll.fullrank_update"](k["f"], k["e_matrix"])},
        mode=Tolerance(), strategy=seeded_dtypes(_full_inputs),
        description="g_P = -(1/sqrt(N)) sum_i f_i E_i (E = sigma s eps)",
        controls=(
            control("missing_sqrt_n", "divided by N instead of sqrt(N)", "eggroll.fullrank_update", _over_sqrt_n),
            control("wrong_sign", "gradient of the maximisation handed to a minimiser",
                    "eggroll.fullrank_update", _negated),
        ),
    ),
    Check(
        name="eggroll.update.invariants",
        components=("eggroll.lowrank_update", "eggroll.pair_index_sign", "eggroll.member_keys",
                    "eggroll.lowrank_noise", "eggroll.fullrank_noise", "eggroll.shape_fitness",
                    "eggroll.fullrank_update", "eggroll.forward"),
        inputs=_inv_inputs, run=_run_invariants, mode=Tolerance(), strategy=_inv_strategy, kind="property",
        fixture=False, attribute=INVARIANT_OWNERS,
        description="spec invariants: antithetic pairs, constant / group-mean invariance, equal pairs -> 0, "
                    "rank <= min(N r / 2, a, b), efficient == materialised forward",
        controls=(
            control("halves", "pairs as halves: the pair (2k, 2k+1) no longer shares noise",
                    "eggroll.pair_index_sign", halves, target="torch", against="invariant"),
            control("no_antithetic_sign", "both members of a pair perturbed with +sigma",
                    "eggroll.lowrank_noise", _no_antithetic_sign, target="jax", against="invariant", named=True),
            control("per_group_variance", "group-normalised with per-group std: G changes the update",
                    "eggroll.shape_fitness", fitness_mutant(per_group_variance), target="numpy",
                    against="invariant", named=True),
        ),
    ),
]
