"""Optional C kernels of the torch stream: Threefry-2x32 and XLA:CPU's float32 normal, bit-exact, ~10x faster.

The torch reference (``torch_ref``) computes JAX's stream op by op in torch: every Threefry round is five
tensor ops and every FMA step of the normal a float64 round trip, so 1M exact normals cost ~6x ``torch.randn``
(bench/README.md). ``_native.c`` does the same operations in one vectorised loop per draw. It is compiled once
per machine with the C compiler that is there (``cc`` / ``gcc`` / ``clang``, or ``$CC``) -- by ``./run setup``,
or else on first use -- into a cache directory, and loaded with ctypes (no Python headers, no build step in
the package's install). Without a compiler, or with ``PARITY_RNG_NATIVE=0``, everything runs on the pure-torch
path, which stays exact: the two paths are asserted bit-identical in parity_tests/test_rng_native.py and the
kernels against XLA:CPU on all 2^23 float32 inputs of the normal.

    python -m reference.rng._native          # build (if needed) and print where the kernels are, or why not

Environment: ``PARITY_RNG_NATIVE=0`` disables the kernels; ``PARITY_NATIVE_CACHE`` sets the cache directory
(default ``$XDG_CACHE_HOME/parity-harness`` or ``~/.cache/parity-harness``); ``CC`` the compiler.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from reference.rng import spec as C

SOURCE = Path(__file__).with_name("_native.c")
ENV_DISABLE = "PARITY_RNG_NATIVE"
ENV_CACHE = "PARITY_NATIVE_CACHE"
ABI = 1
BASE_FLAGS = ("-O3", "-std=c99", "-shared", "-fPIC", "-fvisibility=hidden", "-ffp-contract=off",
              "-fno-math-errno")
"""-ffp-contract=off: no FMA where XLA:CPU has none (the explicit fmaf calls are the only ones);
-fno-math-errno: lets sqrtf vectorise (errno only, no value changes); never -ffast-math."""

_lock = threading.Lock()
_state: dict = {}


def _f32_hex(c: float) -> str:
    return float(np.float32(c)).hex() + "f"


def _defines() -> str:
    """The stream's constants (``spec.py``) as C #defines: one source of truth for both paths."""
    d = {"KS_PARITY": f"0x{C.KS_PARITY:08X}u",
         "SQRT_HALF_BITS": f"0x{int(np.array(0.707106781186547524, np.float32).view(np.uint32)):08X}u",
         "SQRT2_M1_F": _f32_hex(C.SQRT2_M1), "LOG_Q1": _f32_hex(C.LOG_Q1), "LOG_Q2": _f32_hex(C.LOG_Q2),
         "NORMAL_LO": _f32_hex(float(np.nextafter(np.float32(-1), np.float32(0)))),
         "SQRT2_F": _f32_hex(2.0 ** 0.5)}
    for g, rots in enumerate(C.ROTATIONS):
        for j, r in enumerate(rots):
            d[f"R{g}{j}"] = str(int(r))
    for name, coefs in (("LOG1P_N", C.LOG1P_NUM), ("LOG1P_D", C.LOG1P_DEN), ("LOG_P", C.LOG_P),
                        ("ERF_S", C.ERFINV_SMALL), ("ERF_L", C.ERFINV_LARGE)):
        for j, c in enumerate(coefs):
            d[f"{name}{j}"] = _f32_hex(c)
    return "".join(f"#define {k} {v}\n" for k, v in d.items())


def _arch_flags() -> list[str]:
    """Vector ISA flags for this CPU (x86-64: AVX2 + FMA when torch sees them; else the compiler default)."""
    try:
        import torch

        cap = torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001 - no torch capability query: the portable build
        cap = "DEFAULT"
    if cap in ("AVX2", "AVX512"):
        return ["-mavx2", "-mfma"] + (["-mavx512f", "-mavx512vl", "-mavx512dq", "-mavx512bw"] if cap == "AVX512" else [])
    return []


def _compiler() -> str | None:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return shutil.which(cc)
    return None


def cache_dir() -> Path:
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "parity-harness"


def _target(cc: str, flags: list[str], src: str) -> Path:
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    h = hashlib.sha256("\0".join([src, cc, version, *flags, sys.platform]).encode()).hexdigest()[:16]
    return cache_dir() / f"rng_native_{h}.so"


def build(quiet: bool = True) -> Path:
    """Compile ``_native.c`` into the cache (atomically: concurrent builders are fine); returns the library.
    Raises RuntimeError saying why not (no compiler, compile error)."""
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (looked for $CC, cc, gcc, clang)")
    src = _defines() + SOURCE.read_text()
    flags = [*BASE_FLAGS, *_arch_flags()]
    target = _target(cc, flags, src)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        c_file, so_file = Path(tmp) / "rng_native.c", Path(tmp) / "rng_native.so"
        c_file.write_text(src)
        proc = subprocess.run([cc, *flags, "-o", str(so_file), str(c_file), "-lm"], capture_output=True, text=True,
                              timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"{cc} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
        os.replace(so_file, target)
    if not quiet:
        print(f"built {target}", file=sys.stderr)
    return target


def _load(path: Path):
    lib = ctypes.CDLL(str(path))
    if lib.pt_abi_version() != ABI:
        raise RuntimeError(f"{path}: ABI {lib.pt_abi_version()}, expected {ABI}")
    p, i64, i = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    sigs = {"pt_threefry": (p, p, p, p, i64, p, p), "pt_bits": (p, i64, i64, p), "pt_normal_f32": (p, i64, i64, p),
            "pt_gather16": (p, i64, i64, i, i, p, p), "pt_erfinv_f32": (p, i64, p)}
    for name, args in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = list(args), None
    return lib


def lib():
    """The loaded kernels, or None (disabled, no compiler, build failed: ``status()`` says which)."""
    if "lib" in _state:
        return _state["lib"]
    with _lock:
        if "lib" not in _state:
            if os.environ.get(ENV_DISABLE, "1").strip().lower() in ("0", "false", "no", "off"):
                _state.update(lib=None, why=f"disabled ({ENV_DISABLE}={os.environ[ENV_DISABLE]})")
            else:
                try:
                    path = build()
                    _state.update(lib=_load(path), why=f"native C kernels ({path})")
                except (RuntimeError, OSError, subprocess.SubprocessError, AttributeError) as e:
                    _state.update(lib=None, why=f"pure torch (native kernels unavailable: {e})")
    return _state["lib"]


def status() -> str:
    """One line: which path the torch stream runs on, and why."""
    lib()
    return _state["why"]


def enabled() -> bool:
    return lib() is not None


def _reset_for_tests() -> None:
    """Forget the loaded state (tests switch the kernels on and off through ``ENV_DISABLE``)."""
    with _lock:
        _state.clear()


if __name__ == "__main__":
    print(status())
    sys.exit(0 if enabled() else 1)
