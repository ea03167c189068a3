"""Numerics pinned in one place, before any implementation runs.

JAX: float32 matmul precision "highest", PRNG implementation threefry2x32, ``jax_threefry_partitionable``
True (it changes ``split`` and every raw bit; the pinned JAX's default, set explicitly so that an older or
newer default cannot move the stream), x64 off unless a check asks for it. torch: deterministic algorithms,
float32 matmuls in full precision, one intra-op thread (``PARITY_TORCH_THREADS`` overrides). Both are pinned idempotently; ``pinned()`` reports what is in force.
"""

from __future__ import annotations

import importlib.util
import os

_done = False


def pin() -> dict:
    """Pin the numerics of every installed framework; returns the settings in force."""
    global _done
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if not _done:
        if importlib.util.find_spec("jax") is not None:
            import jax

            jax.config.update("jax_default_matmul_precision", "highest")
            jax.config.update("jax_default_prng_impl", "threefry2x32")
            jax.config.update("jax_threefry_partitionable", True)
            jax.config.update("jax_enable_x64", False)
        if importlib.util.find_spec("torch") is not None:
            import torch

            torch.use_deterministic_algorithms(True)
            # One intra-op thread: parity runs are many small ops, which run 8-20x slower with 2 threads on a
            # loaded 2-core machine; results do not depend on it. Override with PARITY_TORCH_THREADS.
            torch.set_num_threads(int(os.environ.get("PARITY_TORCH_THREADS", "1")))
            torch.set_float32_matmul_precision("highest")
            torch.backends.cudnn.benchmark = False
        _done = True
    return pinned()


def pinned() -> dict:
    out: dict = {}
    if importlib.util.find_spec("jax") is not None:
        import jax

        out["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision
        out["jax_default_prng_impl"] = jax.config.jax_default_prng_impl
        out["jax_threefry_partitionable"] = bool(jax.config.jax_threefry_partitionable)
        out["jax_enable_x64"] = bool(jax.config.jax_enable_x64)
    if importlib.util.find_spec("torch") is not None:
        import torch

        out["torch_deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()
        out["torch_float32_matmul_precision"] = torch.get_float32_matmul_precision()
        out["torch_num_threads"] = torch.get_num_threads()
    return out


class x64:
    """Context manager: JAX x64 on for a check that asks for float64 (restored afterwards)."""

    def __enter__(self):
        import jax

        self._old = bool(jax.config.jax_enable_x64)
        jax.config.update("jax_enable_x64", True)
        return self

    def __exit__(self, *exc):
        import jax

        jax.config.update("jax_enable_x64", self._old)
        return False
