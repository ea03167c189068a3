"""The three key operations EGGROLL needs, for the NumPy oracle and the torch reference.

EGGROLL draws JAX's own stream in every framework (spec: eggroll.md "Random numbers across
frameworks"). The bit-exact Threefry / erf_inv emulation lives in ``reference.rng`` (numpy and torch
flavours); this module only adapts it to the narrow interface used here:

    split(key, n)            key data (2,) uint32  -> (n, 2)
    fold_in(keys, data)      keys (..., 2), data int array broadcastable to keys[..., 0] -> (..., 2)
    normal(keys, shape)      keys (..., 2) -> (..., *shape) float32, one independent draw per key

NumPy keys are uint32 arrays, torch keys int32 tensors holding the uint32 bits (as in reference.rng).
"""

from __future__ import annotations

import numpy as np


def _np_rng():
    from reference.rng import np_ref

    return np_ref


def _torch_rng():
    from reference.rng import torch_ref

    return torch_ref


# ----------------------------------------------------------------------------------------------- numpy


def np_split(key, n):
    """split(key, n): (2,) uint32 -> (n, 2) uint32 (JAX partitionable split)."""
    rng = _np_rng()
    return np.asarray(rng.split(np.asarray(key, np.uint32), n), np.uint32).reshape(n, 2)


def np_fold_in(keys, data):
    """fold_in per key: keys (..., 2) uint32, data broadcast to keys.shape[:-1] -> (..., 2) uint32."""
    rng = _np_rng()
    keys = np.asarray(keys, np.uint32)
    data = np.asarray(data).astype(np.int64)
    shape = np.broadcast_shapes(keys.shape[:-1], data.shape)
    keys = np.ascontiguousarray(np.broadcast_to(keys, shape + (2,)))
    data = np.ascontiguousarray(np.broadcast_to(data, shape)).astype(np.uint32)
    return np.asarray(rng.fold_in(keys, data), np.uint32)


def np_normal(keys, shape):
    """normal(key, shape) float32 for every key: keys (..., 2) -> (..., *shape)."""
    rng = _np_rng()
    return np.asarray(rng.normal(np.asarray(keys, np.uint32), tuple(shape), dtype=np.float32))


# ----------------------------------------------------------------------------------------------- torch


def torch_split(key, n):
    """split(key, n): (2,) int32 bits -> (n, 2) int32 bits."""
    rng = _torch_rng()
    return rng.split(_as_i32(key), n).reshape(n, 2)


def torch_fold_in(keys, data):
    """fold_in per key: keys (..., 2) int32 bits, data broadcast to keys.shape[:-1] -> (..., 2)."""
    import torch

    rng = _torch_rng()
    keys = _as_i32(keys)
    data = torch.as_tensor(data, dtype=torch.int64)
    shape = torch.broadcast_shapes(keys.shape[:-1], data.shape)
    keys = keys.expand(*shape, 2).contiguous()
    data = data.expand(shape).contiguous()
    return rng.fold_in(keys, data)


def torch_normal(keys, shape):
    """normal(key, shape) float32 for every key: keys (..., 2) -> (..., *shape)."""
    import torch

    rng = _torch_rng()
    return rng.normal(_as_i32(keys), tuple(shape), dtype=torch.float32)


def _as_i32(keys):
    import torch

    keys = torch.as_tensor(keys)
    if keys.dtype == torch.int32:
        return keys
    if keys.dtype == torch.uint32:
        return keys.view(torch.int32)
    w = keys.to(torch.int64).bitwise_and(0xFFFFFFFF)
    return torch.where(w >= 2**31, w - 2**32, w).to(torch.int32)  # uint32 words as int32 bits
