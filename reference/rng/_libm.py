"""The C library's float32 ``logf``, which XLA:CPU of jax 0.7 calls for log1p's large branch (framework-free).

Called element by element through ctypes: only the semantics of that release need it, and only on the
|x| >= sqrt(2) - 1 lanes. It is the host's libm (glibc on Linux), as it is for XLA.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

_FN: list = []


def logf(y) -> np.ndarray:
    """float32 logf of every element of ``y`` (a float32 array), as the C library computes it."""
    if not _FN:
        name = ctypes.util.find_library("m") or "libm.so.6"
        try:
            fn = ctypes.CDLL(name).logf
        except OSError as e:  # pragma: no cover - every supported platform has a libm
            raise RuntimeError(f"jax 0.7 semantics need the C library's logf: cannot load {name}: {e}") from e
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
        _FN.append(fn)
    fn = _FN[0]
    y = np.asarray(y, np.float32)
    return np.fromiter((fn(v) for v in y.reshape(-1).tolist()), np.float32, y.size).reshape(y.shape)
