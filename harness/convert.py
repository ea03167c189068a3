"""Array conversion between NumPy, JAX and torch, and tree flattening with readable paths.

Nothing here imports JAX or torch unless a value of theirs is seen (a torch-only user needs no JAX).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import ParityError


def _module_of(x: Any) -> str:
    return type(x).__module__ or ""


def is_torch(x: Any) -> bool:
    return _module_of(x).startswith("torch") and hasattr(x, "detach")


def is_jax(x: Any) -> bool:
    m = _module_of(x)
    return (m.startswith("jax") or m.startswith("jaxlib")) and hasattr(x, "shape")


class Bfloat16Values(np.ndarray):
    """bfloat16 values held exactly in a float32 array, for a reader without ``ml_dtypes`` (a golden file
    read by a torch-only user): ``to_numpy`` reports the dtype as ``bfloat16``."""


def bfloat16_from_bits(bits: np.ndarray) -> np.ndarray:
    """uint16 bfloat16 bit patterns -> ml_dtypes.bfloat16 array, or ``Bfloat16Values`` without ml_dtypes."""
    values = (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)
    try:
        import ml_dtypes
    except ImportError:
        return values.view(Bfloat16Values)
    return values.astype(ml_dtypes.bfloat16)


def bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """float32 arrays holding bfloat16 values -> their uint16 bit patterns (exact)."""
    return (np.ascontiguousarray(values, np.float32).view(np.uint32) >> 16).astype(np.uint16)


def is_leaf_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, np.generic)) or is_torch(x) or is_jax(x)


def is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def to_numpy(x: Any) -> tuple[np.ndarray, str]:
    """A leaf as (NumPy array, dtype name). bfloat16 becomes float32 values with dtype name 'bfloat16'.

    Python scalars: bool -> bool, int -> int64, float -> float64, complex -> complex128.
    """
    if is_torch(x):
        import torch

        t = x.detach().cpu()
        if t.is_conj():
            t = t.resolve_conj()
        name = str(t.dtype).replace("torch.", "")
        if t.dtype == torch.bfloat16:
            return t.float().numpy(), "bfloat16"
        if t.dtype in (torch.uint16, torch.uint32, torch.uint64):
            # NumPy conversion of torch's unsigned types is partial: go through int64 holding the value.
            if t.dtype == torch.uint64:
                raise ParityError("torch.uint64 leaves are not supported: return int64 or uint32")
            return t.to(torch.int64).numpy().astype(np.dtype(name)), name
        return t.numpy(), name
    if is_jax(x):
        import jax

        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        a = np.asarray(x)
        name = str(a.dtype)
        if name == "bfloat16":
            return a.astype(np.float32), "bfloat16"
        return a, name
    if isinstance(x, Bfloat16Values):
        return np.asarray(x).view(np.ndarray), "bfloat16"
    if isinstance(x, (np.ndarray, np.generic)):
        a = np.asarray(x)
        name = str(a.dtype)
        if name == "bfloat16":  # ml_dtypes
            return a.astype(np.float32), "bfloat16"
        if a.dtype == object:
            raise ParityError(f"object arrays are not comparable leaves (got {a.shape} object array)")
        return a, name
    if isinstance(x, bool):
        return np.asarray(x, dtype=np.bool_), "bool"
    if isinstance(x, int):
        return np.asarray(x, dtype=np.int64), "int64"
    if isinstance(x, float):
        return np.asarray(x, dtype=np.float64), "float64"
    if isinstance(x, complex):
        return np.asarray(x, dtype=np.complex128), "complex128"
    raise ParityError(f"unsupported leaf type {type(x).__module__}.{type(x).__qualname__}")


def to_framework(tree: Any, framework: str) -> Any:
    """Every ``np.ndarray`` leaf of a case converted to the framework's array type (same dtype where the
    framework supports it; JAX with x64 off stores float64 as float32 as it always does)."""
    if framework == "numpy":
        conv = lambda a: a.copy()
    elif framework == "jax":
        import jax.numpy as jnp

        def conv(a):
            if isinstance(a, Bfloat16Values):
                return jnp.asarray(a.view(np.ndarray), dtype=jnp.bfloat16)
            return jnp.asarray(a)
    elif framework == "torch":
        import torch

        def conv(a):
            if isinstance(a, Bfloat16Values):
                return torch.from_numpy(np.array(a.view(np.ndarray), copy=True)).to(torch.bfloat16)
            if a.dtype == np.uint32:
                return torch.from_numpy(a.astype(np.int64)).to(torch.uint32)
            return torch.from_numpy(np.array(a, copy=True))
    else:
        raise ParityError(f"unknown framework {framework!r}")
    return map_tree(lambda x: conv(x) if isinstance(x, np.ndarray) else x, tree)


def map_tree(fn, tree: Any) -> Any:
    """Apply ``fn`` to every leaf of dict / list / tuple / NamedTuple containers."""
    if isinstance(tree, Mapping):
        return type(tree)({k: map_tree(fn, v) for k, v in tree.items()}) if type(tree) is not dict else {
            k: map_tree(fn, v) for k, v in tree.items()}
    if is_namedtuple(tree):
        return type(tree)(*[map_tree(fn, v) for v in tree])
    if isinstance(tree, (list, tuple)):
        return type(tree)(map_tree(fn, v) for v in tree)
    return fn(tree)


def children(x: Any) -> list[tuple[str, Any]] | None:
    """The (path suffix, child) pairs of a container, or None for a leaf."""
    if isinstance(x, Mapping):
        return [(f"[{k!r}]", v) for k, v in x.items()]
    if is_namedtuple(x):
        return [(f".{f}", getattr(x, f)) for f in x._fields]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return [(f".{f.name}", getattr(x, f.name)) for f in dataclasses.fields(x)]
    if isinstance(x, (list, tuple)):
        return [(f"[{i}]", v) for i, v in enumerate(x)]
    return None


def flatten(tree: Any, path: str = "") -> list[tuple[str, Any]]:
    """(path, leaf) pairs in a deterministic order."""
    kids = children(tree)
    if kids is None:
        return [(path, tree)]
    out: list[tuple[str, Any]] = []
    for suffix, v in kids:
        out.extend(flatten(v, path + suffix))
    return out
