"""JAX's random stream in NumPy and torch: what the check catalogue cannot express.

Bit-exactness against ``jax.random`` itself on many shapes, seeds and batch layouts (sizes above 2^16,
odd shapes, empty shapes), the flat-index counter layout (prefix property), argument errors, the
chunking and table paths of the torch reference, and the recorded jax / jaxlib version.

JAX compiles once per shape, so the JAX side is drawn once per (dtype, batch) at the largest size and
sliced: with the partitionable counter, ``draw(k, shape)`` is the row-major prefix of ``draw(k, (n,))``
(asserted below on JAX itself).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.numerics import pin

pin()

import jax
import jax.numpy as jnp
import ml_dtypes
import torch

from reference.rng import jax_ref, np_ref, torch_ref

SEEDS = (0, 1, 42, 2**31 - 1, 2**31, 2**32 - 1, 123456789)
MAX_N = 3 * 70001  # > 2^16 values per key, and several torch chunks per key
SHAPES = [(), (0,), (1,), (2, 3), (3, 5, 7), (4, 0, 3), (1023,), (32768,), (32769,), (70001,),
          (3, 70001)]
BF16 = np.dtype(ml_dtypes.bfloat16)


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bfloat16:
            return x.float().numpy().astype(BF16)
        if x.dtype == torch.int32:  # torch keys: int32 tensors holding the uint32 words
            return x.numpy().view(np.uint32)
        return x.numpy()
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    return np.asarray(x)


def _bits_of(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.view({4: np.uint32, 2: np.uint16, 1: np.uint8}[a.dtype.itemsize])


def _same(a, b):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    bad = np.flatnonzero(_bits_of(a).ravel() != _bits_of(b).ravel())
    assert bad.size == 0, f"{bad.size} of {a.size} differ, first at flat {bad[0]}: {a.ravel()[bad[0]]} vs {b.ravel()[bad[0]]}"


# ------------------------------------------------------------------------------------------- keys


@pytest.mark.parametrize("seed", SEEDS + (-1, -(2**31) - 1, 2**32, 2**40 + 5))
def test_key_is_seed_mod_2_32(seed):
    expect = np.array([0, seed % 2**32], np.uint32)
    _same(np_ref.key(seed), expect)
    _same(torch_ref.key_data(torch_ref.key(seed)), expect)
    _same(jax_ref.key_data(jax_ref.key(seed)), expect)
    if 0 <= seed < 2**32:
        _same(jax.random.key_data(jax.random.key(seed)), expect)  # JAX's own, where it accepts the int


def test_torch_key_layout_and_key_data_dtype():
    k = torch_ref.key(2**32 - 1)
    assert k.dtype == torch.int32 and k.shape == (2,) and int(k[1]) == -1  # the uint32 bit pattern
    kd = torch_ref.key_data(k)
    assert kd.dtype == torch.uint32 and kd.numpy().tolist() == [0, 2**32 - 1]


@pytest.mark.parametrize("seed", SEEDS)
def test_split_and_fold_in_chains_match_jax(seed):
    kj, kn, kt = jax.random.key(seed), np_ref.key(seed), torch_ref.key(seed)
    for num in (1, 2, 5):
        ref = jax.random.key_data(jax.random.split(kj, num))
        _same(np_ref.split(kn, num), ref)
        _same(torch_ref.split(kt, num), ref)
    for d in (0, 1, 7, 2**31, 2**32 - 1):
        ref = jax.random.key_data(jax.random.fold_in(kj, d))
        _same(np_ref.fold_in(kn, d), ref)
        _same(torch_ref.fold_in(kt, d), ref)
    # EGGROLL: per-parameter keys, epoch first, then the pair index
    taus, pairs = (0, 3, 2**32 - 1), np.array([0, 1, 5, 2**32 - 1], np.uint32)
    base_j = jax.random.split(kj, 3)
    ref = np.stack([np.stack([jax.random.key_data(jax.random.fold_in(jax.random.fold_in(base_j[p], tau), int(i)))
                              for i in pairs]) for p, tau in enumerate(taus)])
    base_n = np_ref.split(kn, 3)
    epoch_n = np.stack([np_ref.fold_in(base_n[p], tau) for p, tau in enumerate(taus)])
    _same(np_ref.fold_in(epoch_n[:, None], pairs[None, :]), ref)
    epoch_t = torch_ref.fold_in(torch_ref.split(kt, 3), torch.tensor(taus, dtype=torch.int64))
    _same(torch_ref.fold_in(epoch_t[:, None], torch.from_numpy(pairs.astype(np.int64))[None, :]), ref)
    epoch_j = jax_ref.fold_in(jax_ref.split(kj, 3), np.array(taus, np.uint32))
    _same(jax_ref.fold_in(epoch_j[:, None], pairs[None, :]), ref)


def test_partitionable_split_is_fold_in():
    k = np_ref.key(99)
    _same(np_ref.split(k, 6), np.stack([np_ref.fold_in(k, i) for i in range(6)]))
    kt = torch_ref.key(99)
    _same(torch_ref.split(kt, 6), torch.stack([torch_ref.fold_in(kt, i) for i in range(6)]))


def test_batched_split_shapes():
    keys = np_ref.fold_in(np_ref.key(5), np.arange(6, dtype=np.uint32).reshape(2, 3))  # a (2, 3) batch
    assert keys.shape == (2, 3, 2)
    ref = jax.random.key_data(jax_ref.split(jax.random.wrap_key_data(jnp.asarray(keys)), 4))
    assert ref.shape == (2, 3, 4, 2)
    _same(np_ref.split(keys, 4), ref)
    _same(torch_ref.split(torch.from_numpy(keys.view(np.int32)), 4), ref)


def test_fold_in_integer_arrays_wrap_like_jax():
    k = jax.random.key(3)
    ref = jax.random.key_data(jax.random.fold_in(k, jnp.array(-1, jnp.int32)))
    _same(ref, jax.random.key_data(jax.random.fold_in(k, 2**32 - 1)))
    _same(np_ref.fold_in(np_ref.key(3), np.array(-1, np.int32)), ref)
    _same(torch_ref.fold_in(torch_ref.key(3), torch.tensor(-1, dtype=torch.int32)), ref)
    _same(torch_ref.fold_in(torch_ref.key(3), torch.tensor(2**32 - 1, dtype=torch.int64)), ref)


@pytest.mark.parametrize("mod", [np_ref, torch_ref, jax_ref], ids=["numpy", "torch", "jax"])
@pytest.mark.parametrize("bad", [-1, -(2**31), 2**32])
def test_fold_in_rejects_python_ints_outside_uint32(mod, bad):
    with pytest.raises(ValueError, match=rf"data: .*got {bad}$"):
        mod.fold_in(mod.key(0), bad)
    with pytest.raises(OverflowError):  # what JAX itself does
        jax.random.fold_in(jax.random.key(0), bad)


@pytest.mark.parametrize("mod", [np_ref, torch_ref, jax_ref], ids=["numpy", "torch", "jax"])
def test_argument_errors_are_one_line_value_errors(mod):
    k = mod.key(0)
    cases = [
        (lambda: mod.normal(k, (3,), dtype="float64"), r"^dtype: expected float32, bfloat16 or float16, got 'float64'$"),
        (lambda: mod.uniform(k, (-1, 2)), r"^shape: expected a tuple of non-negative ints, got \(-1, 2\)$"),
        (lambda: mod.split(k, -2), r"^num: expected a non-negative int, got -2$"),
        (lambda: mod.split(k, -1), r"^num: expected a non-negative int, got -1$"),
        (lambda: mod.key(1.5), r"^seed: expected an int, got 1.5$"),
        (lambda: mod.bits(np.zeros((4, 3), np.uint32), (2,)), r"^keys: expected .*shape \(4, 3\)$"),
    ]
    for call, msg in cases:
        with pytest.raises(ValueError, match=msg):
            call()


def test_torch_accepts_key_words_in_any_integer_container():
    kn = np_ref.fold_in(np_ref.key(11), np.arange(3, dtype=np.uint32))
    ref = np_ref.bits(kn, (5,))
    for keys in (kn, torch.from_numpy(kn.astype(np.int64)), torch.from_numpy(kn.view(np.int32)),
                 torch.from_numpy(kn.astype(np.int64)).to(torch.uint32)):
        _same(torch_ref.bits(keys, (5,)), ref)
    _same(jax_ref.bits(kn, (5,)), ref)  # raw words for JAX are wrapped as threefry keys


# ------------------------------------------------------------------------------------------- draws

_BATCH = 4  # keys per draw: fold_in(key(seed), [0, 1, 2, 2^32 - 1])


def _batch_keys(seed):
    data = np.array([0, 1, 2, 2**32 - 1], np.uint32)
    return (jax_ref.fold_in(jax_ref.key(seed), data), np_ref.fold_in(np_ref.key(seed), data),
            torch_ref.fold_in(torch_ref.key(seed), torch.from_numpy(data)))


_JAX_FLAT = {
    "bits": jax.jit(jax.vmap(lambda k: jax.random.bits(k, (MAX_N,), jnp.uint32))),
    "float32": jax.jit(jax.vmap(lambda k: jax.random.normal(k, (MAX_N,), jnp.float32))),
    "bfloat16": jax.jit(jax.vmap(lambda k: jax.random.normal(k, (MAX_N,), jnp.bfloat16))),
    "float16": jax.jit(jax.vmap(lambda k: jax.random.normal(k, (MAX_N,), jnp.float16))),
    "uniform": jax.jit(jax.vmap(lambda k, lo, hi: jax.random.uniform(k, (MAX_N,), jnp.float32, lo, hi),
                                in_axes=(0, None, None))),
}


def _prefix(flat: np.ndarray, shape) -> np.ndarray:
    n = math.prod(shape)
    return flat[:, :n].reshape((flat.shape[0],) + tuple(shape))


def test_counter_is_the_row_major_flat_index_in_jax():
    """draw(k, shape) is the row-major prefix of draw(k, (n,)) in JAX itself (through the jax_ref
    wrappers, which this also checks against jax.random)."""
    kj, _, _ = _batch_keys(0)
    _same(jax_ref.normal(kj, (12, 3)), _prefix(np.asarray(_JAX_FLAT["float32"](kj)), (12, 3)))
    _same(jax_ref.bits(kj, (3, 5, 7)), _prefix(np.asarray(_JAX_FLAT["bits"](kj)), (3, 5, 7)))


@pytest.mark.parametrize("seed", (0, 2**32 - 1, 20261124))
def test_bits_and_uniforms_bit_exact_on_many_shapes(seed):
    kj, kn, kt = _batch_keys(seed)
    flat = np.asarray(_JAX_FLAT["bits"](kj))
    for shape in SHAPES:
        ref = _prefix(flat, shape)
        _same(np_ref.bits(kn, shape), ref)
        _same(torch_ref.bits(kt, shape), ref)
    for lo, hi in ((0.0, 1.0), (-2.5, 3.75), (1e-3, 1e4)):
        flat = np.asarray(_JAX_FLAT["uniform"](kj, np.float32(lo), np.float32(hi)))
        for shape in ((3, 5, 7), (70001,), (3, 70001)):
            ref = _prefix(flat, shape)
            _same(np_ref.uniform(kn, shape, "float32", lo, hi), ref)
            _same(torch_ref.uniform(kt, shape, torch.float32, lo, hi), ref)


@pytest.mark.parametrize("seed", (0, 2**32 - 1))
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_normals_bit_exact_on_many_shapes(seed, dtype):
    kj, kn, kt = _batch_keys(seed)
    flat = np.asarray(_JAX_FLAT[dtype](kj))
    for shape in SHAPES:
        ref = _prefix(flat, shape)
        _same(np_ref.normal(kn, shape, dtype), ref)
        _same(torch_ref.normal(kt, shape, dtype), ref)


def test_lowp_uniforms_bit_exact():
    kj, kn, kt = _batch_keys(3)
    for dt in (jnp.bfloat16, jnp.float16):
        draw = jax.jit(jax.vmap(lambda k, lo, hi: jax.random.uniform(k, (3, 701), dt, lo, hi), in_axes=(0, None, None)))
        for lo, hi in ((0.0, 1.0), (-5.1, 3.3), (-1e-3, 1e4)):
            ref = draw(kj, np.float32(lo), np.float32(hi))  # JAX rounds Python bounds to float32 first
            _same(np_ref.uniform(kn, (3, 701), dt.dtype.name, lo, hi), ref)
            _same(torch_ref.uniform(kt, (3, 701), getattr(torch, dt.dtype.name), lo, hi), ref)


def test_torch_chunking_layouts_agree(monkeypatch):
    """Many keys with small draws (several keys per chunk) and few keys with large draws (several
    chunks per key) give the same values as one key at a time (the pure-torch path: the C kernels have no
    chunks; test_rng_native.py holds the two paths equal)."""
    monkeypatch.setattr(torch_ref, "_kernels", lambda: None)
    keys = torch_ref.fold_in(torch_ref.key(1), torch.arange(3000, dtype=torch.int32))  # (3000,) keys
    many = torch_ref.normal(keys, (12, 3))
    for i in (0, 909, 910, 2999):  # around a chunk boundary of 32768 // 36 = 910 keys
        _same(many[i], torch_ref.normal(keys[i], (12, 3)))
    _same(many, np_ref.normal(_np(keys).view(np.uint32), (12, 3)))
    big = torch_ref.bits(keys[:2], (100003,))
    _same(big, np_ref.bits(_np(keys[:2]).view(np.uint32), (100003,)))


def test_torch_table_path_equals_op_by_op_path(monkeypatch):
    monkeypatch.setattr(torch_ref, "_kernels", lambda: None)  # the table is a pure-torch path
    kt = torch_ref.fold_in(torch_ref.key(8), torch.arange(2, dtype=torch.int32))
    shape = (torch_ref.TABLE_MIN // 2 + 1,)  # 2 keys: at the threshold -> table
    table = torch_ref.normal(kt, shape)
    monkeypatch.setattr(torch_ref, "TABLE_MIN", 1 << 62)
    monkeypatch.setattr(torch_ref, "_F32_TABLE", [])  # as if never built: op by op
    _same(torch_ref.normal(kt, shape), table)


def test_fast_path_within_4_ulp_and_same_in_numpy_and_torch():
    kj, kn, kt = _batch_keys(5)
    ref = _prefix(np.asarray(_JAX_FLAT["float32"](kj)), (3, 70001))
    fast_n = np_ref.normal(kn, (3, 70001), exact=False)
    _same(torch_ref.normal(kt, (3, 70001), exact=False), fast_n)
    ulp = np.abs(fast_n.view(np.int32).astype(np.int64) - ref.view(np.int32).astype(np.int64))
    assert 0 < ulp.max() <= 4  # the fast path really differs, within the bar
    assert np.mean(ulp > 0) < 0.1


def test_bfloat16_noise_has_128_values():
    _, kn, kt = _batch_keys(1)
    z = torch_ref.normal(kt, (70001,), torch.bfloat16)
    assert z.dtype == torch.bfloat16 and torch.unique(z).numel() == 128
    assert np.unique(np_ref.normal(kn, (70001,), "bfloat16")).size == 128


def test_exactness_record_names_the_installed_jax():
    """Bit-exactness is a property of the pinned jax / jaxlib on XLA:CPU: the record must name it."""
    import jaxlib

    from reference.rng.spec import SHOWN_EXACT_AGAINST

    assert f"jax {jax.__version__}" in SHOWN_EXACT_AGAINST
    assert f"jaxlib {jaxlib.__version__}" in SHOWN_EXACT_AGAINST
    assert "XLA:CPU" in SHOWN_EXACT_AGAINST
    assert jax.default_backend() == "cpu"
    assert bool(jax.config.jax_threefry_partitionable) and not bool(jax.config.jax_enable_x64)

