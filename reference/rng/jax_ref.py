"""JAX's random stream itself: thin batched wrappers over ``jax.random`` with the API of ``spec.py``.

Keys are typed threefry keys (``jax.random.key``) of shape ``batch``; raw uint32 key data of shape
``(*batch, 2)`` is accepted too (wrapped with ``jax.random.wrap_key_data``). Every function maps
``jax.random`` over the batch with ``vmap``; the jitted kernels are cached per (shape, dtype), so JAX
compiles once per shape. The stream depends on ``jax_threefry_partitionable`` (True here, the default of
jax 0.10.2, pinned by ``harness.numerics.pin``) and on x64 being off (32-bit seeds and bits).

``exact`` in ``normal`` is accepted for API symmetry: JAX's own normal is the definition of exact.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from reference.rng import _args

_MASK32 = 0xFFFFFFFF
_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def _dtype(dtype):
    return _DTYPES[_args.dtype_name(dtype)]


_shape = _args.shape


def _keys(keys):
    """Typed keys of shape batch (raw uint32 words of shape (*batch, 2) are wrapped)."""
    if isinstance(keys, jax.Array) and jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        return keys
    k = jnp.asarray(keys)
    if k.ndim < 1 or k.shape[-1] != 2:
        raise ValueError(f"keys: expected typed keys or raw keys of shape (*batch, 2), got shape {k.shape}")
    if not jnp.issubdtype(k.dtype, jnp.integer):
        raise ValueError(f"keys: expected integer key words, got dtype {k.dtype}")
    return jax.random.wrap_key_data(k.astype(jnp.uint32), impl="threefry2x32")


def _over_batch(f, keys, *args):
    """Apply f(key, *args) to every key of a batch of any rank (one vmap over the flattened batch)."""
    batch = keys.shape
    flat = keys.reshape(-1)
    out = jax.vmap(lambda k: f(k, *args))(flat)
    return out.reshape(batch + out.shape[1:])


def key(seed: int):
    """key(seed) = [0, seed mod 2^32]: ``jax.random.key`` (a typed key of shape ())."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed: expected an int, got {seed!r}")
    return jax.random.key(np.uint32(int(seed) & _MASK32), impl="threefry2x32")


def key_data(keys):
    """The raw key words: uint32 of shape (*batch, 2)."""
    return jax.random.key_data(_keys(keys))


@functools.partial(jax.jit, static_argnums=(1,))
def _split(keys, num):
    return _over_batch(lambda k: jax.random.split(k, num), keys)


def split(keys, num=2):
    """split(k, num)[i] = threefry2x32(k, hi(i), lo(i)) == fold_in(k, i): typed keys of shape (*batch, num)."""
    num = int(num)
    if num < 0:
        raise ValueError(f"num: expected a non-negative int, got {num}")
    return _split(_keys(keys), num)


@jax.jit
def _fold_in(keys, data):  # keys and data of the same shape
    return jax.vmap(jax.random.fold_in)(keys.reshape(-1), data.reshape(-1)).reshape(keys.shape)


def fold_in(keys, data):
    """fold_in(k, d) = threefry2x32(k, 0, uint32(d)); ``data`` broadcasts against the batch shape."""
    k = _keys(keys)
    if isinstance(data, (bool, np.bool_)):
        data = int(data)
    if isinstance(data, int):
        if not 0 <= data <= _MASK32:
            raise ValueError(f"data: fold_in data must be in [0, 2^32) like JAX's uint32, got {data}")
        d = jnp.asarray(np.uint32(data))
    else:
        d = jnp.asarray(data)
        if not jnp.issubdtype(d.dtype, jnp.integer):
            raise ValueError(f"data: fold_in data must be integers, got dtype {d.dtype}")
        d = d.astype(jnp.uint32)  # integer arrays wrap modulo 2^32
    shape = jnp.broadcast_shapes(k.shape, d.shape)
    return _fold_in(jnp.broadcast_to(k, shape), jnp.broadcast_to(d, shape))


@functools.partial(jax.jit, static_argnums=(1,))
def _bits(keys, shape):
    return _over_batch(lambda k: jax.random.bits(k, shape, jnp.uint32), keys)


def bits(keys, shape):
    """uint32 of shape (*batch, *shape): bits(k)[i] = y0 ^ y1 of threefry2x32(k, hi(i), lo(i))."""
    return _bits(_keys(keys), _shape(shape))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _uniform(keys, shape, dtype, minval, maxval):
    return _over_batch(lambda k: jax.random.uniform(k, shape, dtype, minval.astype(dtype),
                                                    maxval.astype(dtype)), keys)


def uniform(keys, shape, dtype="float32", minval=0.0, maxval=1.0):
    """U[minval, maxval) of shape (*batch, *shape): max(lo, f * (hi - lo) + lo), f the unit floats.

    ``jax.random.uniform`` per key; ``minval`` / ``maxval`` are scalars (Python floats reach JAX as float32).
    """
    dt = _dtype(dtype)
    return _uniform(_keys(keys), _shape(shape), dt, jnp.asarray(minval, jnp.float32),
                    jnp.asarray(maxval, jnp.float32))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _normal(keys, shape, dtype):
    return _over_batch(lambda k: jax.random.normal(k, shape, dtype), keys)


def normal(keys, shape, dtype="float32", exact=True):
    """N(0, 1) of shape (*batch, *shape): lowp(sqrt 2) * erfinv(u), u = uniform(lo=nextafter(-1, 0), hi=1).

    ``jax.random.normal`` per key: the definition of exact (``exact`` is accepted and ignored).
    """
    del exact
    return _normal(_keys(keys), _shape(shape), _dtype(dtype))

