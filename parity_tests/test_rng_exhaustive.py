"""Exhaustive proof of the float32 normal path: all 2^23 inputs, against XLA:CPU itself.

A float32 normal depends on 23 random bits m only: u_m = 2 f + lo = (4 m - 2^24 + 1) 2^-24 exactly, and
z = f32(sqrt 2) * erf_inv(u_m). So comparing every m covers every float32 normal JAX can draw. JAX's side
is ``lax.erf_inv`` on the u grid (tied to ``jax.random.normal`` by a 2^20-draw test below); the NumPy side
is the op-by-op oracle; the torch side both its op-by-op path and its 2^23-entry table.
Shown for: ``reference.rng.spec.SHOWN_EXACT_AGAINST``.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.numerics import pin

pin()

import jax
import jax.numpy as jnp
import torch

from reference.rng import np_ref, torch_ref

N = 1 << 23
SQRT2 = np.float32(np.sqrt(2.0))


@pytest.fixture(scope="module")
def grid():
    m = np.arange(N, dtype=np.int64)
    u = ((4 * m - (1 << 24) + 1).astype(np.float32) * np.float32(2.0**-24)).astype(np.float32)
    erfinv = np.asarray(jax.jit(jax.lax.erf_inv)(u))
    z = np.asarray(jax.jit(lambda x: SQRT2 * jax.lax.erf_inv(x))(u))
    return u, erfinv, z


def test_u_grid_is_what_the_bits_give():
    """(bits >> 9) -> 2 f + lo in float32 is exactly (4 m - 2^24 + 1) 2^-24, for every m."""
    m = np.arange(N, dtype=np.uint32)
    f = ((m | np.uint32(0x3F800000)).view(np.float32) - np.float32(1)).astype(np.float32)
    lo = np.nextafter(np.float32(-1), np.float32(0))
    u = np.maximum(lo, f * np.float32(2) + lo)
    grid_u = ((4 * m.astype(np.int64) - (1 << 24) + 1).astype(np.float32) * np.float32(2.0**-24))
    assert np.array_equal(u.view(np.uint32), grid_u.view(np.uint32))


def test_jax_normal_is_the_grid_lookup(grid):
    _, _, z = grid
    keys = jax.random.split(jax.random.key(2026), 4)
    draw = jax.jit(jax.vmap(lambda k: (jax.random.normal(k, (1 << 18,)), jax.random.bits(k, (1 << 18,)))))
    normals, bits = (np.asarray(a) for a in draw(keys))
    assert np.array_equal(normals.view(np.uint32), z[bits >> np.uint32(9)].view(np.uint32))


def _ulp(a, b):
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))


def test_numpy_erfinv_all_2_23_inputs(grid):
    u, erfinv, z = grid
    got = np_ref._erfinv_f32(u)
    assert np.array_equal(got.view(np.uint32), erfinv.view(np.uint32)), f"{np.sum(got != erfinv)} differ"


def test_torch_fast_path_all_2_23_inputs(grid):
    """exact=False (no FMA; the same algorithm as NumPy's fast path, asserted equal elsewhere). The exact
    op-by-op path is proven on all inputs by the table test: the table is built by it."""
    u, _, z = grid
    fast = torch_ref._erfinv_f32(torch.from_numpy(u), exact=False).numpy()
    ulp = _ulp((fast * SQRT2).astype(np.float32), z)
    assert ulp.max() <= 3 and 0.03 < np.mean(ulp > 0) < 0.06  # measured: 4.2% of values, <= 3 ulp


def test_torch_normal_table_all_2_23_inputs(grid):
    """The table is computed by the torch op-by-op exact path: this covers both, on every input."""
    _, _, z = grid
    table = torch_ref._normal_table().numpy()
    assert np.array_equal(table.view(np.uint32), z.view(np.uint32)), f"{np.sum(table != z)} differ"


def test_torch_native_kernel_all_2_23_inputs(grid):
    """The C kernel of the normal (reference/rng/_native.c; torch_ref.erfinv_f32 runs on it when built):
    erf_inv and sqrt(2) erf_inv on every input, bit for bit."""
    from reference.rng import _native

    if not _native.enabled():
        pytest.skip(f"no native kernels here: {_native.status()}")
    u, erfinv, z = grid
    got = torch_ref._erfinv_f32(torch.from_numpy(u)).numpy()
    assert np.array_equal(got.view(np.uint32), erfinv.view(np.uint32)), f"{np.sum(got != erfinv)} differ"
    got = (got * SQRT2).astype(np.float32)
    assert np.array_equal(got.view(np.uint32), z.view(np.uint32)), f"{np.sum(got != z)} differ"


def test_torch_special_erfinv_is_too_coarse(grid):
    """Why the references carry XLA's polynomial: torch's own erfinv is up to ~91 ulp away."""
    u, _, z = grid
    sample = slice(None, None, 64)
    special = (torch.special.erfinv(torch.from_numpy(u[sample])) * float(SQRT2)).numpy()
    ulp = _ulp(special, z[sample])
    assert ulp.max() > 50 and np.mean(ulp > 0) > 0.3


def test_lowp_tables_all_values():
    """bfloat16 (8 random bits -> 128 values) and float16 (16 bits -> 1024 values), every value."""
    for dt, w, nmant in ((jnp.bfloat16, 8, 7), (jnp.float16, 16, 10)):
        keys = jax.random.split(jax.random.key(1), 8)
        z, b = jax.vmap(lambda k: (jax.random.normal(k, (8192,), dt), jax.random.bits(k, (8192,))))(keys)
        idx = (np.asarray(b) & np.uint32((1 << w) - 1)) >> np.uint32(w - nmant)
        assert np.unique(idx).size == 1 << nmant  # every value was drawn
        table = torch_ref._lowp_table(getattr(torch, dt.dtype.name)).float().numpy()
        assert np.array_equal(table[idx], np.asarray(z).astype(np.float32))
