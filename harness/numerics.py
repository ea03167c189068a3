"""Numerics set in one place, before any implementation runs: mode, device, JAX stream semantics.

Modes (``configure(numerics=...)``, ``--numerics``):
- ``pinned`` (default): JAX float32 matmul precision "highest", PRNG implementation threefry2x32,
  ``jax_threefry_partitionable`` set explicitly to the default of the JAX the stream semantics follow (True from
  jax 0.5, False before; see ``reference.rng.semantics``) so that no other default can move the stream, x64 off
  unless a check asks for it; torch: deterministic algorithms, float32 matmuls in full precision (no TF32), one
  intra-op thread (``PARITY_TORCH_THREADS`` overrides).
- ``deployed``: each framework's own defaults (JAX matmul precision "default": TF32 / bf16 passes on GPUs; torch's
  default matmul precision, cuDNN's TF32 convolutions, no determinism), nothing lifted silently: ``pinned()`` reports
  what is in force and the report says which mode ran. The PRNG stays threefry with the installed JAX's default
  partitionable flag (that is JAX's default anyway).

Device (``configure(device=...)``, ``--device cpu|cuda``): torch references and ports run on it (``torch_device()``);
JAX runs on the CPU for ``cpu`` (``JAX_PLATFORMS=cpu``), on its default backend for ``cuda`` unless ``JAX_PLATFORMS``
names one. ``cuda`` without CUDA is a usage error (``ParityError``).
"""

from __future__ import annotations

import importlib.util
import os

from .base import ParityError

MODES = ("pinned", "deployed")
DEVICES = ("cpu", "cuda")

_done = False
_cfg: dict = {"numerics": "pinned", "device": "cpu", "jax_semantics": "auto"}
_applied: dict = {}


def configure(numerics: str | None = None, device: str | None = None, jax_semantics: str | None = None) -> dict:
    """Choose the mode, the device and the JAX stream semantics (before ``pin()``; validated here).

    Calling it after ``pin()`` re-applies the framework settings (JAX_PLATFORMS cannot change once JAX is up)."""
    global _done
    if numerics is not None:
        if numerics not in MODES:
            raise ParityError(f"--numerics: expected one of {', '.join(MODES)}, got {numerics!r}")
        _cfg["numerics"] = numerics
    if device is not None:
        if device not in DEVICES:
            raise ParityError(f"--device: expected one of {', '.join(DEVICES)}, got {device!r}")
        if device == "cuda":
            _require_cuda()
        _cfg["device"] = device
    if jax_semantics is not None:
        from reference.rng import semantics

        try:
            semantics.use(jax_semantics, source=None if jax_semantics == "auto" else
                          f"stated (--jax-semantics {jax_semantics})")
        except ValueError as e:
            raise ParityError(f"--jax-semantics: {e}") from None
        _cfg["jax_semantics"] = jax_semantics
    if _done:
        _apply()
    return dict(_cfg)


def _require_cuda() -> None:
    if importlib.util.find_spec("torch") is not None:
        import torch

        if not torch.cuda.is_available():
            raise ParityError("--device cuda: torch sees no CUDA device (torch "
                              f"{torch.__version__}, built for CUDA {torch.version.cuda}); use --device cpu")
        return
    if importlib.util.find_spec("jax") is not None:
        import jax

        try:
            jax.devices("gpu")
        except RuntimeError:
            raise ParityError("--device cuda: JAX has no GPU backend here; use --device cpu") from None
        return
    raise ParityError("--device cuda: neither torch nor JAX is installed")


def device() -> str:
    return _cfg["device"]


def mode() -> str:
    return _cfg["numerics"]


def torch_device() -> str:
    """The torch device references and ports run on ("cpu" or "cuda")."""
    return _cfg["device"]


def pin() -> dict:
    """Apply the configured numerics to every installed framework (idempotent); returns the settings in force."""
    global _done
    if _cfg["device"] == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from .parallel import host_devices

    host_devices()  # 4 XLA:CPU host devices for the sharded checks, before JAX's backend starts
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if not _done:
        _done = True
        _apply()
    return pinned()


def _apply() -> None:
    pinned_mode = _cfg["numerics"] == "pinned"
    if importlib.util.find_spec("jax") is not None:
        import jax

        from reference.rng import semantics

        jax.config.update("jax_default_prng_impl", "threefry2x32")
        jax.config.update("jax_enable_x64", False)
        if pinned_mode:
            jax.config.update("jax_default_matmul_precision", "highest")
            jax.config.update("jax_threefry_partitionable", semantics.active().partitionable)
        else:
            jax.config.update("jax_default_matmul_precision", None)
            installed = semantics.installed_jax()
            jax.config.update("jax_threefry_partitionable", semantics.for_version(installed).partitionable)
    if importlib.util.find_spec("torch") is not None:
        import torch

        if "torch_threads" not in _applied:
            _applied["torch_threads"] = torch.get_num_threads()
        if pinned_mode:
            torch.use_deterministic_algorithms(True)
            # One intra-op thread: parity runs are many small ops, which run 8-20x slower with 2 threads on a
            # loaded 2-core machine; results do not depend on it. Override with PARITY_TORCH_THREADS.
            torch.set_num_threads(int(os.environ.get("PARITY_TORCH_THREADS", "1")))
            torch.set_float32_matmul_precision("highest")
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cudnn.benchmark = False
        else:  # torch's own defaults
            torch.use_deterministic_algorithms(False)
            torch.set_num_threads(_applied["torch_threads"])
            torch.set_float32_matmul_precision("highest")
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = False


def pinned() -> dict:
    """The numerics in force: mode, device, backends, framework settings and the JAX stream semantics."""
    out: dict = {"mode": _cfg["numerics"], "device": _cfg["device"]}
    if importlib.util.find_spec("jax") is not None:
        import jax

        out["jax_backend"] = jax.default_backend()
        out["jax_devices"] = sorted({f"{d.platform}:{getattr(d, 'device_kind', '')}" for d in jax.devices()})
        out["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision
        out["jax_default_prng_impl"] = jax.config.jax_default_prng_impl
        out["jax_threefry_partitionable"] = bool(jax.config.jax_threefry_partitionable)
        out["jax_enable_x64"] = bool(jax.config.jax_enable_x64)
    if importlib.util.find_spec("torch") is not None:
        import torch

        out["torch_device"] = (f"cuda:{torch.cuda.get_device_name(0)}" if _cfg["device"] == "cuda"
                               else "cpu")
        out["torch_deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()
        out["torch_float32_matmul_precision"] = torch.get_float32_matmul_precision()
        out["torch_cuda_matmul_allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
        out["torch_cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
        out["torch_num_threads"] = torch.get_num_threads()
    from reference.rng import semantics

    out["jax_semantics"] = semantics.record()
    return out


def on_gpu() -> bool:
    """True when any framework of this run computes on a GPU (backend-specific bounds then apply)."""
    if _cfg["device"] == "cuda":
        return True
    import sys

    if "jax" in sys.modules:
        import jax

        return jax.default_backend() in ("gpu", "cuda", "rocm")
    return False


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
