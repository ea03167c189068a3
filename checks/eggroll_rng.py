"""Parity of JAX's random stream reproduced outside JAX (spec: shared/spec/rng.md), part of issue 3.

EGGROLL's references draw JAX's own noise in every framework, so a wrong key derivation or a coarse
``erfinv`` shows up as an O(1) error instead of hiding behind "statistically similar". These checks pin
the stream: key derivation (``eggroll.rng.keys``), raw bits and uniforms (``eggroll.rng.bits``), and
float32 / bfloat16 / float16 normals at 0 ulp (``eggroll.rng.normal``) plus the fast path at <= 4 ulp
(``eggroll.rng.normal.fast``). The NumPy "oracle" here is the NumPy port of the stream (float32 by
definition, not float64): comparing it and torch against JAX is the point.

Components (``reference/rng/*_ref.py``): ``rng.key(seed)``, ``rng.key_data(keys)``,
``rng.split(keys, num)``, ``rng.fold_in(keys, data)``, ``rng.bits(keys, shape)``,
``rng.uniform(keys, shape, dtype, minval, maxval)``, ``rng.normal(keys, shape, dtype, exact)``.
Keys: NumPy uint32 (*batch, 2), torch int32 (*batch, 2) bit patterns, JAX typed keys of shape batch.
Bit-exactness was shown against jax/jaxlib 0.10.2 on XLA:CPU (``reference.rng.spec.SHOWN_EXACT_AGAINST``).
"""

from __future__ import annotations

import math

import numpy as np

from checks._common import Owners, control, controls, to_numpy
from harness.base import Check, Exact, Ulp
from harness.bounds import Bound, bounded, jax_semantics, on_gpu

N_PARAMS = 3  # per-parameter base keys: split(key, N_PARAMS)
N_PAIRS = 4  # pair indices folded into every epoch key
N_TAUS = 3
NOISE_SHAPE = (7 + 5, 3)  # EGGROLL's (a + b, r) draw per member
BIG = 70001  # > 2^16 values per key (odd)
LOWP_UNIT = (64, 128)  # 16-bit uniforms on [0, 1)
MANY_KEYS = 4096  # x 17 values: more keys than one chunk of a chunked stream holds (rows split across chunks)
HUGE = 1 << 18  # float32 normals in one draw: where a reproduction may gather from a table of all 2^23 values
# uniform ranges with a shortcut a reproduction may take: [0, hi) (no shift), a unit span (no scaling)
RANGES = {"from_zero": (0.0, 10.0), "tenth": (0.0, 0.1), "unit_span": (1.0, 2.0), "small_shift": (0.001, 1.001)}
ODD = (3, 5, 7)
SMALL = (3, 17)
U32 = 2**32


# ------------------------------------------------------------------------------------------- cases


def _case(rng: np.random.Generator) -> dict:
    lo = float(np.float32(rng.uniform(-10.0, 10.0)))
    return {
        "seed": int(rng.integers(0, U32)),
        "tau": int(rng.integers(0, U32)),
        "pairs": rng.integers(0, U32, size=N_PAIRS, dtype=np.uint64).astype(np.uint32),
        "taus": rng.integers(0, U32, size=N_TAUS, dtype=np.uint64).astype(np.uint32),
        "minval": lo,
        "maxval": float(np.float32(lo + rng.uniform(1e-3, 100.0))),
    }


def _inputs(seed: int) -> dict:
    case = _case(np.random.default_rng(seed))
    if seed == 0:  # the edges of the word range, once; an int word of the sign bit alone (2^31: int32 cannot hold it)
        case["seed"], case["tau"] = U32 - 1, 2**31
        case["pairs"][:2] = (0, U32 - 1)
        case["taus"][:2] = (0, 2**30 + 12345)  # a word of 31 bits, folded in as an int too (rng.fold_in's "int_word")
    return case


def _strategy():
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    words = st.integers(0, U32 - 1)
    arrays = lambda n: hnp.arrays(np.uint32, (n,), elements=words)
    bounds = st.tuples(st.floats(-10.0, 10.0, width=32), st.floats(float(np.float32(1e-3)), 100.0, width=32)).map(
        lambda t: (float(t[0]), float(np.float32(t[0] + t[1]))))
    return st.builds(lambda seed, tau, pairs, taus, b: {"seed": seed, "tau": tau, "pairs": pairs, "taus": taus,
                                                        "minval": b[0], "maxval": b[1]},
                     words, words, arrays(N_PAIRS), arrays(N_TAUS), bounds)


def _member_keys(c, case):
    """EGGROLL's derivation: base = split(key, P); member = fold_in(fold_in(base, tau), pair)."""
    k = c["rng.key"](case["seed"])
    base = c["rng.split"](k, N_PARAMS)  # (P,)
    epoch = c["rng.fold_in"](base, case["tau"])  # (P,), epoch first ...
    member = c["rng.fold_in"](epoch[:, None], case["pairs"][None, :])  # (P, K), ... then the pair index
    return k, base, epoch, member


# ------------------------------------------------------------------------------------------- runs


def _run_keys(c, case):
    kd = c["rng.key_data"]
    k, base, epoch, member = _member_keys(c, case)
    return {
        "rng.key": kd(k),
        # the contract takes raw words too: one key of shape (2,) and a batch of shape (P, K, 2)
        "rng.split": {"base": kd(base), "of_members": kd(c["rng.split"](member, 2)),
                      "of_raw_words": kd(c["rng.split"](kd(member), 2)),
                      "default_num": kd(c["rng.split"](k)), "none": kd(c["rng.split"](base, 0))},  # num = 2; (P, 0)
        "rng.fold_in": {"epoch": kd(epoch), "member": kd(member), "taus": kd(c["rng.fold_in"](k, case["taus"])),
                        "raw_words": kd(c["rng.fold_in"](kd(k), case["taus"])),
                        "int_word": kd(c["rng.fold_in"](k, int(case["taus"][1])))},  # a Python int, not an array
    }


def _many_keys(c, k):
    return c["rng.fold_in"](k, np.arange(MANY_KEYS, dtype=np.uint32))


def _run_bits(c, case):
    k = c["rng.key"](case["seed"])
    one = c["rng.fold_in"](k, 7)
    keys = c["rng.fold_in"](k, case["pairs"])  # (K,)
    lo, hi = case["minval"], case["maxval"]
    u = c["rng.uniform"]
    return {
        "rng.bits": {"odd": c["rng.bits"](k, ODD), "big": c["rng.bits"](one, (BIG,)), "single": c["rng.bits"](k, (1,)),
                     "batched": c["rng.bits"](keys, SMALL),
                     # chunk boundaries of a chunked stream: keys of > 2^16 values each, more keys than a chunk
                     "batched_big": c["rng.bits"](keys[:2], (BIG,)), "many_keys": c["rng.bits"](_many_keys(c, k), (17,))},
        "rng.uniform": {"unit": u(one, ODD), "ranged": u(keys, SMALL, "float32", lo, hi),
                        "bfloat16": u(keys, SMALL, "bfloat16", lo, hi), "float16": u(keys, SMALL, "float16", lo, hi),
                        # 8192 values: the unit value 0 drawn too (1 in 128 / 1024 of them)
                        "bfloat16_unit": u(one, LOWP_UNIT, "bfloat16"), "float16_unit": u(one, LOWP_UNIT, "float16"),
                        **{name: u(keys, SMALL, "float32", a, b) for name, (a, b) in RANGES.items()}},
    }


def _run_normal(c, case):
    k, _, _, member = _member_keys(c, case)
    n = c["rng.normal"]
    return {
        "keys": c["rng.key_data"](member),  # the draws' keys: a failure here is the key derivation's, not normal's
        "member_noise": n(member, NOISE_SHAPE),  # (P, K, a + b, r), EGGROLL's batched draw
        "big": n(c["rng.fold_in"](k, 7), (BIG,)),
        "batched_big": n(member[0, :2], (BIG,)),  # chunk boundaries of a chunked stream, as in eggroll.rng.bits
        "many_keys": n(_many_keys(c, k), (17,)),
        "huge": n(c["rng.fold_in"](k, 8), (HUGE,)),
        "bfloat16": n(member, SMALL, "bfloat16"),
        "float16": n(member, SMALL, "float16"),
    }


def _run_normal_fast(c, case):
    k, _, _, member = _member_keys(c, case)
    n = c["rng.normal"]
    return {"keys": c["rng.key_data"](member), "member_noise": n(member, NOISE_SHAPE, exact=False),
            "big": n(c["rng.fold_in"](k, 7), (BIG,), exact=False)}


# ------------------------------------------------------------------------------------------- mutants
# Each plants one divergence that a port of JAX's stream really makes.


def _dtype_name(dtype) -> str:
    """'float32' from "float32", torch.float32 or np.float32 (the dtypes these checks pass)."""
    return dtype if isinstance(dtype, str) else str(getattr(dtype, "__name__", dtype)).replace("torch.", "")


def _not_partitionable(orig):
    """jax_threefry_partitionable=False (jax < 0.5): split(k, n) = threefry(k, iota(2n)) split in halves and
    bits(k, shape) = the words of threefry(k, iota(n)) split in halves (x0 = iota[:n/2], x1 = iota[n/2:], an odd
    count padded with a zero word), concatenated -- not y0 ^ y1 of the flat index. Planted through the stream's
    declared setting (``reference.rng.semantics``, the JAX release's semantics) for the patched component only."""
    def mutant(*args, **kwargs):
        import dataclasses

        from reference.rng import semantics

        with semantics.using(dataclasses.replace(semantics.active(), partitionable=False)):
            return orig(*args, **kwargs)
    return mutant


def _fold_in_plus_one(orig):
    """Off-by-one key derivation: fold_in(k, d + 1) (e.g. a 1-based pair index)."""
    def fold_in(keys, data):
        if isinstance(data, int):
            return orig(keys, (data + 1) % U32)
        return orig(keys, ((to_numpy(data).astype(np.int64) + 1) % U32).astype(np.uint32))  # + wraps like uint32
    return fold_in


def _fold_in_words_swapped(orig):
    """fold_in(k, d) = threefry(k, d, 0) instead of threefry(k, 0, d) (NumPy oracle mutant). The one control
    that needs the block cipher itself: the stream's contract (key, key_data, split, fold_in, bits, uniform,
    normal) never exposes threefry with a chosen counter pair, so it calls the NumPy stream's cipher."""
    def fold_in(keys, data):
        from reference.rng import np_ref

        k = np.asarray(keys).astype(np.uint32)
        d = np.asarray(data).astype(np.uint32)
        y0, y1 = np_ref._threefry2x32(k[..., 0], k[..., 1], d, np.zeros_like(d))
        return np.stack([y0, y1], axis=-1)
    return fold_in


def _key_words_swapped(orig):
    """key(seed) = [seed, 0] instead of [0, seed]."""
    def key(seed):
        return orig(seed).flip(-1)
    return key


def _fold_in_pair_first(orig):
    """The member key folded in the wrong order: pair index first, then the epoch. The mutant defers an
    epoch fold (a Python int over a batch of keys) and applies it after the next (array) fold."""
    pending: list = []

    def fold_in(keys, data):
        batched = getattr(keys, "dim", lambda: 1)() > 1
        if isinstance(data, int) and batched:
            pending.append(data)
            return keys
        if pending and not isinstance(data, int):
            return orig(orig(keys, data), pending.pop())
        return orig(keys, data)
    return fold_in


def _uniform_no_fma(orig):
    """f * (hi - lo) + lo rounded twice (float32 multiply, then add): XLA:CPU contracts it to one FMA."""
    def uniform(keys, shape, dtype="float32", minval=0.0, maxval=1.0):
        import torch

        if _dtype_name(dtype) != "float32":
            return orig(keys, shape, dtype, minval, maxval)
        f = orig(keys, shape, dtype, 0.0, 1.0)  # the unit floats: U[0, 1) is f itself
        lo, hi = float(np.float32(minval)), float(np.float32(maxval))
        return torch.clamp_min(f * float(np.float32(hi - lo)) + lo, lo)
    return uniform


def _uniform_lowp_16_bits(orig):
    """bfloat16 uniforms from 16 random bits (the dtype's width) -- JAX draws 8 for bfloat16."""
    def uniform(keys, shape, dtype="float32", minval=0.0, maxval=1.0):
        import torch

        from reference.rng import torch_ref

        if _dtype_name(dtype) != "bfloat16":
            return orig(keys, shape, dtype, minval, maxval)
        dt = torch.bfloat16
        b = torch_ref.bits(keys, shape).view(torch.int32).bitwise_and_(0xFFFF).bitwise_right_shift_(9)
        f = b.to(torch.float32) / 128.0
        lo = float(torch.tensor(float(minval)).to(dt))
        hi = float(torch.tensor(float(maxval)).to(dt))
        return torch.clamp_min((f * (hi - lo)).to(dt).float().add_(lo).to(dt), lo)
    return uniform


def _normal_special_erfinv(orig):
    """float32 normals through torch.special.erfinv (up to 91 ulp off XLA's polynomial)."""
    def normal(keys, shape, dtype="float32", exact=True):
        import torch

        from reference.rng import torch_ref

        if _dtype_name(dtype) != "float32":
            return orig(keys, shape, dtype, exact)
        lo = float(np.nextafter(np.float32(-1), np.float32(0)))
        u = torch_ref.uniform(keys, shape, torch.float32, lo, 1.0)
        return torch.special.erfinv(u) * float(np.float32(math.sqrt(2.0)))
    return normal


def _normal_always_fast(orig):
    """The fast path (no FMA contraction) where the exact one was asked for: <= 3 ulp on ~4% of values."""
    def normal(keys, shape, dtype="float32", exact=True):
        return orig(keys, shape, dtype, exact=False)
    return normal


def _normal_lowp_from_f32(orig):
    """bfloat16 normals as the float32 normal rounded (23 random bits) -- JAX draws 8 bits for bfloat16."""
    def normal(keys, shape, dtype="float32", exact=True):
        import torch

        if _dtype_name(dtype) != "bfloat16":
            return orig(keys, shape, dtype, exact)
        return orig(keys, shape, torch.float32, exact).to(torch.bfloat16)
    return normal


# ------------------------------------------------------------------------------------------- bounds
# Where exactness cannot hold, the bound that does, with its reason (measured; issue 10).

BITS_BOUNDS = bounded(
    Bound(on_gpu, "['rng.uniform']['ranged']", Ulp(1, reason="XLA:GPU contracts f * (hi - lo) + lo on its own "
          "terms (FMA formation differs from XLA:CPU's): 1 ulp measured on CUDA"), reason="XLA:GPU FMA contraction"),
)
NORMAL_BOUNDS = bounded(
    Bound(on_gpu, "", Ulp(3, reason="XLA:GPU's own log / erf_inv lowering: up to 3 ulp measured on CUDA"),
          reason="XLA:GPU transcendental functions"),
    Bound(jax_semantics("0.7"), "", Ulp(3, reason="jax 0.7's XLA:CPU takes log1p(-u^2) from the C library's logf "
          "in vectorised loops and from its own logf elsewhere (shape-dependent): <= 3 ulp after erfinv"),
          reason="jax 0.7 XLA:CPU log1p depends on vectorisation"),
)

# ------------------------------------------------------------------------------------------- checks



def _stream_check(name, components, run, mode, description, controls, **kw):
    """A check of the stream on the shared cases (``_inputs`` / ``_strategy``): draws compared value by value."""
    return Check(name=name, rng="exact", components=components, inputs=_inputs, run=run, mode=mode,
                 strategy=_strategy, description=description, controls=controls, **kw)


_ERFINV = control("torch_special_erfinv", "float32 normals through torch.special.erfinv (up to 91 ulp)",
                  "rng.normal", _normal_special_erfinv, target="torch")
_PAIR_FIRST = control("fold_in_pair_first", "member key folded pair index first, then the epoch", "rng.fold_in",
                      _fold_in_pair_first, target="torch")
_PLUS_ONE = "off-by-one key derivation: fold_in(k, d + 1)"
_NORMAL = ("rng.normal", "rng.fold_in", "rng.split", "rng.key", "rng.key_data")
# a normal leaf names rng.normal when the keys it was drawn from agree; a failing key leaf (derivation: key,
# split or fold_in, which eggroll.rng.keys tells apart) matches no rule and leaves the row unattributed
NORMAL_OWNERS = Owners((r"\['(member_noise|big|batched_big|many_keys|huge|bfloat16|float16)'\]", "rng.normal",
                        [r"\['keys'\]"]))

# eggroll.rng.keys in data-flow order: a leaf whose input key already diverges is left to that input's
# component (a wrong key(seed) fails every split and fold_in leaf too, and names rng.key alone)
_KEY = r"\['rng\.key'\]"
_BASE = r"\['rng\.split'\]\['base'\]"
KEYS_OWNERS = Owners(
    (_KEY, "rng.key"),
    (r"\['rng\.split'\]\['(base|default_num)'\]", "rng.split", [_KEY]),
    (r"\['rng\.split'\]\['none'\]", "rng.split", [_BASE]),
    (r"\['rng\.fold_in'\]", "rng.fold_in", [_KEY, _BASE]),
    (r"\['rng\.split'\]\['(of_members|of_raw_words)'\]", "rng.split", [_KEY, _BASE, r"\['rng\.fold_in'\]"]),
)

CHECKS = [
    _stream_check(
        "eggroll.rng.keys", ("rng.fold_in", "rng.split", "rng.key", "rng.key_data"), _run_keys, Exact(),
        "key(seed), split (partitionable) and fold_in chains fold_in(fold_in(split(key, P), tau), pair) give JAX's "
        "key words exactly, for batched keys and array data", (
            control("split_halves", "non-partitionable split (threefry over iota(2n) in halves)", "rng.split",
                    _not_partitionable, target="torch", named=True),
            control("fold_in_plus_one", _PLUS_ONE, "rng.fold_in", _fold_in_plus_one, target="torch", named=True),
            control("fold_in_words_swapped", "fold_in as threefry(k, d, 0) in the NumPy oracle", "rng.fold_in",
                    _fold_in_words_swapped, target="numpy", against="jax", named=True),
            control("key_words_swapped", "key(seed) = [seed, 0]", "rng.key", _key_words_swapped, target="torch",
                    named=True)),
        attribute=KEYS_OWNERS),
    _stream_check(
        "eggroll.rng.bits", ("rng.bits", "rng.uniform", "rng.key", "rng.fold_in"), _run_bits, Exact(),
        controls=(control("bits_halves_layout", "non-partitionable counter layout (iota split in halves)", "rng.bits",
                          _not_partitionable, target="torch", named=True),)
        + controls("rng.uniform",
                   ("uniform_no_fma", "f * (hi - lo) + lo with two float32 roundings instead of XLA's FMA",
                    _uniform_no_fma, "torch"),
                   ("bfloat16_uniform_16_bits", "bfloat16 uniforms from 16 random bits instead of 8",
                    _uniform_lowp_16_bits, "torch"), named=True),
        description="random bits (odd shapes, one value, > 2^16 values, batched keys; two keys of > 2^16 values "
                    "and 4096 keys of 17, across a chunked stream's boundaries) and float32 / bfloat16 / float16 "
                    "uniforms on [0, 1) and [minval, maxval), float32 also on [0, 10), [0, 0.1), [1, 2) and "
                    "[0.001, 1.001) (the ranges where a shift or a scaling may be skipped), are JAX's, bit for bit",
        compare=BITS_BOUNDS, by_component=True),
    _stream_check(
        "eggroll.rng.normal", _NORMAL, _run_normal,
        Ulp(max_ulp=0, reason="exact path: XLA:CPU's log1p and FMA steps reproduced op by op"),
        "normals from EGGROLL's member keys, float32 (batched (P, K, a + b, r), 70001 values, two keys of 70001, "
        "4096 keys of 17, 2^18 values), bfloat16 and float16, bit-identical to jax.random.normal on CPU", (
            _ERFINV,
            control("split_halves", "non-partitionable split of the per-parameter keys", "rng.split", _not_partitionable,
                    target="torch"),
            _PAIR_FIRST,
            control("fold_in_plus_one", _PLUS_ONE, "rng.fold_in", _fold_in_plus_one, target="torch"),
            control("fast_path_as_exact", "the no-FMA fast path where exact=True was asked for", "rng.normal",
                    _normal_always_fast, target="torch"),
            control("bfloat16_from_float32", "bfloat16 normals rounded from float32 normals (23 bits, not 8)",
                    "rng.normal", _normal_lowp_from_f32, target="torch")),
        compare=NORMAL_BOUNDS, attribute=NORMAL_OWNERS),
    _stream_check(
        "eggroll.rng.normal.fast", _NORMAL, _run_normal_fast,
        Ulp(max_ulp=4, reason="exact=False drops XLA's FMA contraction: <= 3 ulp on 4.2% of all 2^23 float32 "
                              "uniforms (max abs 4.8e-7), measured exhaustively"),
        "the fast normal path (exact=False) stays within 4 ulp of jax.random.normal", (_ERFINV, _PAIR_FIRST),
        fixture=False, attribute=NORMAL_OWNERS),  # derived from eggroll.rng.normal's stream; its golden file covers the draw
]
