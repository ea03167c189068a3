"""Argument handling shared by the three flavours of the stream (framework-free): one shape rule, one
dtype-name rule, so every flavour accepts and rejects exactly the same arguments."""

from __future__ import annotations

import numpy as np

_ALIASES = {"float": "float32", "half": "float16"}
DTYPE_NAMES = ("float32", "bfloat16", "float16")


def dtype_name(dtype) -> str:
    """'float32', 'bfloat16' or 'float16' from a name, a NumPy / JAX / torch dtype or a scalar type."""
    if isinstance(dtype, str):
        name = dtype
    else:
        name = getattr(dtype, "name", None) or getattr(dtype, "__name__", "")
        if not name:
            try:
                name = np.dtype(dtype).name
            except TypeError:
                name = str(dtype)
    name = str(name).replace("torch.", "").replace("jnp.", "")
    name = _ALIASES.get(name, name)
    if name not in DTYPE_NAMES:
        raise ValueError(f"dtype: expected float32, bfloat16 or float16, got {dtype!r}")
    return name


def shape(shape) -> tuple[int, ...]:
    """A shape as a tuple of non-negative ints (an int is a 1-d shape)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise ValueError(f"shape: expected a tuple of non-negative ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"shape: expected a tuple of non-negative ints, got {shape!r}")
    return shape
