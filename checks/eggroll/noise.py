"""EGGROLL noise: pairs and signs, the reuse windows of the noise epoch, and the A / B / E layout."""

from __future__ import annotations

import math

import numpy as np

from checks._common import Owners, control, controls, es_key, i64, keys_u32, like, pairs, rand_keys, signs, to_numpy
from harness.base import Check, Exact, Tolerance

# =================================================================================== pairs


def _sign_inputs(seed):
    n = (4, 8, 16)[seed % 3]
    return {"population": n, "num_params": 3, "tau": 0, "es_key": es_key(seed)}


def _run_sign(c, case):
    out = {}
    if "eggroll.pair_index_sign" in c:
        k, s = c["eggroll.pair_index_sign"](case["population"])
        out.update(pair_index=i64(k), sign=i64(s))
    else:
        k = c.asarray(pairs(int(case["population"])))
    if "eggroll.member_keys" in c:
        keys = keys_u32(c["eggroll.member_keys"](case["es_key"], case["num_params"], case["tau"], k))
        out["keys"] = _key_structure(keys) if c.native_rng else keys
    return out


def _key_structure(keys):
    """A native random stream's keys by structure (``native_rng``): the two members of a pair share their
    key, and keys differ across pairs and parameters. keys (P, N, 2)."""
    flat = keys.reshape(keys.shape[0], keys.shape[1], -1)
    shared = np.all(flat[:, 0::2] == flat[:, 1::2], axis=-1)
    distinct = len({row.tobytes() for row in flat[:, 0::2].reshape(-1, flat.shape[-1])}) == shared.size
    return {"pair_shares_key": shared, "pairs_and_params_distinct": np.bool_(distinct)}


def halves(orig):
    """pair_index_sign mutant: pairs as halves (i, i + N/2) instead of interleaved (2k, 2k+1)."""
    def mutant(population):
        k, s = orig(population)
        n = int(population)
        i = np.arange(n)
        return like(k, i % (n // 2), np.int32), like(s, np.where(i < n // 2, 1.0, -1.0))
    return mutant


def _sign_odd_first(orig):
    def mutant(population):
        k, s = orig(population)
        return k, -s
    return mutant


# =================================================================================== reuse

REUSE = (0, 1, 2, 3)
REUSE_EPOCHS = 7


def _reuse_inputs(seed):
    return {"es_key": es_key(seed), "num_params": 2, "pair_index": pairs(4), "noise_reuse": list(REUSE),
            "epochs": REUSE_EPOCHS}


def _reuse_strategy():
    from hypothesis import strategies as st

    return st.builds(lambda seed, rs, t: {**_reuse_inputs(seed), "noise_reuse": rs, "epochs": t},
                     st.integers(0, 2**31 - 1), st.lists(st.integers(0, 6), min_size=1, max_size=4),
                     st.integers(1, 9))


def _run_reuse(c, case):
    out = {}
    for r in case["noise_reuse"]:
        taus, keys = [], []
        for t in range(case["epochs"]):
            tau = c["eggroll.noise_epoch"](t, r)
            taus.append(int(i64(tau)))
            if "eggroll.member_keys" in c:
                keys.append(keys_u32(c["eggroll.member_keys"](case["es_key"], case["num_params"], tau,
                                                              case["pair_index"])))
        out[f"R{r}"] = {"tau": np.asarray(taus, np.int64)}
        if keys:
            keys = np.stack(keys)
            out[f"R{r}"]["keys"] = _reuse_structure(keys) if c.native_rng else keys
    return out


def _reuse_structure(keys):
    """A native stream's keys by structure: same[t, u] is True iff epochs t and u draw the same noise (the
    reuse windows: R = 0 one set for ever, R = 1 fresh each epoch, R = 2 pairs of epochs...)."""
    flat = keys.reshape(keys.shape[0], -1)
    return {"same_noise": np.all(flat[:, None, :] == flat[None, :, :], axis=-1)}


def _r0_fresh(orig):
    return lambda epoch, noise_reuse: orig(epoch, 1) if int(noise_reuse) == 0 else orig(epoch, noise_reuse)


def _r_modulo(orig):
    return lambda epoch, noise_reuse: orig(epoch, noise_reuse) if int(noise_reuse) == 0 else (
        like(orig(epoch, noise_reuse), int(epoch) % int(noise_reuse), np.int32))


# ================================================================================== layout

LAYOUT_RANK = 4


def _layout_inputs(seed):
    rng = np.random.default_rng(seed)
    n = 6
    return {"keys": rand_keys(rng, n), "signs": signs(n), "shape": (5, 3), "rank": LAYOUT_RANK,
            "sigma": float(rng.uniform(0.02, 0.5)), "bias_shape": (5,), "full_shape": (2, 3),
            "wide_shape": (3, 11)}  # 33 normals per member: more than one 32-long draw


def _run_layout(c, case):
    if c.native_rng:
        return _layout_structure(c, case)
    out = {}
    if "eggroll.lowrank_noise" in c:
        out["A"], out["B"] = c["eggroll.lowrank_noise"](case["keys"], case["signs"], case["shape"], case["rank"],
                                                        case["sigma"])
    if "eggroll.fullrank_noise" in c:
        out["E_bias"] = c["eggroll.fullrank_noise"](case["keys"], case["signs"], case["bias_shape"], case["sigma"])
        out["E_matrix"] = c["eggroll.fullrank_noise"](case["keys"], case["signs"], case["full_shape"], case["sigma"])
        out["E_wide"] = c["eggroll.fullrank_noise"](case["keys"], case["signs"], case["wide_shape"], case["sigma"])
    return out


def _layout_structure(c, case):
    """A native stream's noise by structure (``native_rng``): with the two members of each pair given one
    key, A and E are antithetic (A_{2k+1} = -A_{2k}) and B is shared; the same key gives the same noise;
    shapes as the spec's. Scales and distributions: eggroll.stats.noise."""
    keys = keys_u32(case["keys"])
    paired = c.asarray(np.repeat(keys[0::2], 2, axis=0))
    f = lambda x: to_numpy(x).astype(np.float64)
    out = {}
    if "eggroll.lowrank_noise" in c:
        a, b = (f(x) for x in c["eggroll.lowrank_noise"](paired, case["signs"], case["shape"], case["rank"],
                                                          case["sigma"]))
        a2, b2 = (f(x) for x in c["eggroll.lowrank_noise"](paired, case["signs"], case["shape"], case["rank"],
                                                            case["sigma"]))
        out["lowrank"] = {"A_shape": np.asarray(a.shape), "B_shape": np.asarray(b.shape),
                          "A_antithetic": np.bool_(np.array_equal(a[0::2], -a[1::2])),
                          "B_shared_in_pair": np.bool_(np.array_equal(b[0::2], b[1::2])),
                          "B_differs_across_pairs": np.bool_(not np.array_equal(b[0], b[2])),
                          "same_key_same_noise": np.bool_(np.array_equal(a, a2) and np.array_equal(b, b2))}
    if "eggroll.fullrank_noise" in c:
        for name, shape in (("bias", case["bias_shape"]), ("matrix", case["full_shape"]), ("wide", case["wide_shape"])):
            e = f(c["eggroll.fullrank_noise"](paired, case["signs"], shape, case["sigma"]))
            out[f"E_{name}"] = {"shape": np.asarray(e.shape), "antithetic": np.bool_(np.array_equal(e[0::2], -e[1::2])),
                                "differs_across_pairs": np.bool_(not np.array_equal(e[0], e[2]))}
    return out


def _layout_strategy():
    from hypothesis import strategies as st

    def case(seed, sigma):
        c = _layout_inputs(seed)
        c["sigma"] = sigma
        return c

    return st.builds(case, st.integers(0, 2**31 - 1), st.floats(1e-3, 2.0))


def _ab_swapped(orig):
    """A taken from the FIRST a rows of Z and B from the rest (the spec says B = Z[:b], A = Z[b:])."""
    def mutant(keys, signs, shape, rank, sigma):
        a, b = (int(d) for d in shape)
        a2, b2 = orig(keys, signs, (b, a), rank, sigma)  # a2 = scale * Z[a:], b2 = Z[:a]
        scale = signs * (float(sigma) / math.sqrt(int(rank)))
        return b2 * scale[:, None, None], a2 / scale[:, None, None]
    return mutant


def _sign_on_b(orig):
    """Antithetic sign folded into B instead of A: the same A B^T, a different layout."""
    def mutant(keys, signs, shape, rank, sigma):
        a, b = orig(keys, signs, shape, rank, sigma)
        return a * signs[:, None, None], b * signs[:, None, None]
    return mutant


def _bias_over_sqrt_r(orig):
    return lambda keys, signs, shape, sigma: orig(keys, signs, shape, float(sigma) / math.sqrt(LAYOUT_RANK))


# ================================================================================= catalogue
# Leaf attribution (a divergence names only its own component): the keys are computed from the pair index /
# the noise epoch, so a failing key leaf names member_keys only when its input agrees.

SIGN_OWNERS = Owners((r"\['(pair_index|sign)'\]", "eggroll.pair_index_sign"),
                     (r"\['keys'\]", "eggroll.member_keys", [r"\['pair_index'\]"]))
REUSE_OWNERS = Owners((r"\['(?P<r>R\d+)'\]\['tau'\]", "eggroll.noise_epoch"),
                      (r"\['(?P<r>R\d+)'\]\['keys'\]", "eggroll.member_keys", [r"\['{r}'\]\['tau'\]"]))
LAYOUT_OWNERS = Owners((r"\['(A|B|lowrank)'\]", "eggroll.lowrank_noise"), (r"\['E_", "eggroll.fullrank_noise"))



def _noise_check(name, components, inputs, run, mode, owners, description, controls, **kw):
    """A check of the noise's structure: components optional, the structural form for a native stream
    (``rng="adapts"``), failing leaves attributed by ``owners``."""
    return Check(name=name, components=components, inputs=inputs, run=run, mode=mode, rng="adapts",
                 optional=kw.pop("optional", components), attribute=owners, description=description,
                 controls=controls, **kw)


CHECKS = [
    _noise_check(
        "eggroll.noise.sign_alternation", ("eggroll.pair_index_sign", "eggroll.member_keys"), _sign_inputs, _run_sign,
        Exact(), SIGN_OWNERS,
        "pairs interleaved (2k, 2k+1): k = i // 2, s = +1/-1, both members of a pair share a key", (
            control("halves", "pairs as halves (i, i + N/2) instead of interleaved (2k, 2k+1)",
                    "eggroll.pair_index_sign", halves),
            control("odd_member_positive", "s_i = -1 for even i (sign convention flipped)",
                    "eggroll.pair_index_sign", _sign_odd_first, target="jax"))),
    _noise_check(
        "eggroll.noise.reuse", ("eggroll.noise_epoch", "eggroll.member_keys"), _reuse_inputs, _run_reuse, Exact(),
        REUSE_OWNERS, "tau(t) = 0 if R == 0 else t // R and member keys fold_in(fold_in(key_p, tau), k) for R in "
        "{0, 1, 2, 3}, epochs 0..6 (R = 0: one frozen noise set)", (
            control("r0_fresh", "R = 0 read as fresh noise every epoch", "eggroll.noise_epoch", _r0_fresh),
            control("r_modulo", "tau = t % R instead of t // R", "eggroll.noise_epoch", _r_modulo, target="jax")),
        strategy=_reuse_strategy, optional=("eggroll.member_keys",)),
    _noise_check(
        "eggroll.noise.layout", ("eggroll.lowrank_noise", "eggroll.fullrank_noise"), _layout_inputs, _run_layout,
        Tolerance(), LAYOUT_OWNERS,
        "Z = normal(key, (a + b, r)); B = Z[:b], A = (sigma s / sqrt r) Z[b:]; E = sigma s eps",
        controls("eggroll.lowrank_noise",
                 ("ab_rows_swapped", "A from the first a rows of Z, B from the rest", _ab_swapped, "torch"),
                 ("sign_on_b", "antithetic sign folded into B instead of A (same product, other layout)", _sign_on_b,
                  "jax"))
        + (control("bias_sigma_over_sqrt_r", "sigma / sqrt(r) applied to full-rank (bias) noise",
                   "eggroll.fullrank_noise", _bias_over_sqrt_r, named=True),),
        strategy=_layout_strategy),
]
