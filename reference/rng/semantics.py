"""Which JAX the reproduced stream follows: one ``Semantics`` per family of JAX releases.

JAX's stream is not one function across releases. What differs, as measured on XLA:CPU (x86-64) by running
every release below against the NumPy reproduction over all 2^23 float32 uniforms of a normal draw:

=======  ===================  ==============  ====================================  =================
mode     JAX releases         partitionable   log1p in erfinv (float32 normals)     float16 uniform
=======  ===================  ==============  ====================================  =================
``0.4``  0.4.x (0.4.38)       False           x^3 r fused with -x^2/2; XLA logf      mul, add
``0.5``  0.5 - 0.6 (0.5.0,    True            as 0.4                                mul, add
         0.5.3, 0.6.2)
``0.7``  0.7 (0.7.2)          True            -x^2/2 fused; C library logf(1 + x)    mul, add
``0.8``  0.8 - 0.10 (0.8.3,   True            -x^2/2 fused; XLA logf                mul, add
         0.9.2, 0.10.2)
``0.11`` 0.11 and later       True            as 0.8                                one FMA
=======  ===================  ==============  ====================================  =================

- partitionable: ``jax_threefry_partitionable``'s default (True from 0.5). False changes ``split`` (threefry over
  iota(2n), halves) and the raw bits (threefry over iota(n) split in halves; 8 / 16-bit values unpacked from
  32-bit words, low half first), not ``fold_in``.
- log1p, |x| < sqrt(2) - 1 (the Cephes rational): ``fma(-0.5, x^2, x^3 r) + x`` (0.7 on) or
  ``fma(x^3, r, -0.5 x^2) + x`` (0.4 - 0.6); else log(1 + x) by XLA's own logf, or (0.7) by the C library's
  ``logf`` (XLA:CPU calls it; reproduced through ctypes, so it is the host's libm: glibc here).
- float16 uniform ``f * (hi - lo) + lo``: two float16 roundings, or (``0.11``) one fused multiply-add. Issue 10
  measured jax 0.11.2 on a host with native float16 arithmetic: 66 / 204 values 1 ulp off the two-rounding
  form, exactly the values where the FMA form differs. On a CPU without native float16 (the AMD EPYC here)
  jax 0.11.2 still rounds twice, so auto-detection picks ``0.8`` there.

The mode is chosen from the installed JAX (``detect``), or stated (``use("0.11")``, ``--jax-semantics``) for a
run without JAX; a full version ("0.9.2") is accepted and mapped to its mode. Framework-free module.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import re


@dataclasses.dataclass(frozen=True)
class Semantics:
    name: str
    releases: str
    partitionable: bool
    log1p_small: str  # "fma_half" (-x^2/2 fused) or "fma_r" (x^3 r fused)
    log1p_large: str  # "xla" (XLA's logf) or "libm" (the C library's logf)
    f16_uniform_fma: bool
    measured: str

    def describe(self) -> dict:
        return {"jax_semantics": self.name, "releases": self.releases, "partitionable": self.partitionable,
                "log1p_small": self.log1p_small, "log1p_large": self.log1p_large,
                "float16_uniform_fma": self.f16_uniform_fma, "measured_against": self.measured}


MODES: dict[str, Semantics] = {s.name: s for s in (
    Semantics("0.4", "jax 0.4.x", False, "fma_r", "xla", False, "jax/jaxlib 0.4.38, XLA:CPU"),
    Semantics("0.5", "jax 0.5 - 0.6", True, "fma_r", "xla", False, "jax/jaxlib 0.5.0, 0.5.3, 0.6.2, XLA:CPU"),
    Semantics("0.7", "jax 0.7", True, "fma_half", "libm", False, "jax/jaxlib 0.7.2, XLA:CPU, glibc logf"),
    Semantics("0.8", "jax 0.8 - 0.10", True, "fma_half", "xla", False,
              "jax/jaxlib 0.8.3, 0.9.2, 0.10.2 (exhaustively), 0.11.2 without native float16, XLA:CPU"),
    Semantics("0.11", "jax >= 0.11", True, "fma_half", "xla", True,
              "jax 0.11.2 on a host with native float16 arithmetic (issue 10's figures, reproduced)"),
)}
DEFAULT = "0.8"  # what the golden files were generated with (jax 0.10.2)
_FIRST = (((0, 4), "0.4"), ((0, 5), "0.5"), ((0, 7), "0.7"), ((0, 8), "0.8"), ((0, 11), "0.11"))

_state: dict = {}


def _version_tuple(v: str) -> tuple[int, int]:
    m = re.match(r"^\s*(\d+)\.(\d+)", str(v))
    if not m:
        raise ValueError(f"jax semantics: expected a JAX version like 0.4, 0.9.2 or 0.11, got {v!r}")
    return int(m.group(1)), int(m.group(2))


def host_native_float16() -> bool:
    """True where the CPU computes float16 natively (x86-64 AVX512-FP16): XLA:CPU then fuses f16 mul + add."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "avx512fp16" in line.split()
    except OSError:
        return False
    return False


def for_version(version: str, native_float16: bool | None = None) -> Semantics:
    """The mode of a JAX release ("0.4.38", "0.9", "0.11.2"); ``native_float16`` only matters from 0.11."""
    v = _version_tuple(version)
    if v < (0, 4):
        raise ValueError(f"jax semantics: JAX {version} is older than any mode (0.4.x is the oldest known)")
    name = DEFAULT
    for first, mode in _FIRST:
        if v >= first:
            name = mode
    if name == "0.11" and native_float16 is False:
        name = "0.8"
    return MODES[name]


def installed_jax() -> str | None:
    try:
        return importlib.metadata.version("jax")
    except importlib.metadata.PackageNotFoundError:
        return None


def detect() -> tuple[Semantics, str]:
    """The mode of the installed JAX (on this host), or the default when JAX is not installed."""
    env = os.environ.get("PARITY_JAX_SEMANTICS")
    if env:
        return parse(env), f"stated (PARITY_JAX_SEMANTICS={env})"
    v = installed_jax()
    if v is None:
        return MODES[DEFAULT], "default (jax not installed; state it with --jax-semantics)"
    native = host_native_float16()
    s = for_version(v, native)
    why = f"installed JAX {v}"
    if _version_tuple(v) >= (0, 11) and not native:
        why += " on a CPU without native float16 (float16 uniforms rounded twice, as 0.8)"
    return s, why


def parse(spec: str) -> Semantics:
    """A mode name ("0.4", "0.11") or a JAX version ("0.9.2"); 'auto' is ``detect()``."""
    spec = str(spec).strip()
    if spec == "auto":
        return detect()[0]
    if spec in MODES:
        return MODES[spec]
    return for_version(spec, native_float16=True)


def use(spec: str | Semantics | None = "auto", source: str | None = None) -> Semantics:
    """Make a mode the active one (None / 'auto': the installed JAX's); returns it."""
    if spec is None or spec == "auto":
        s, why = detect()
    elif isinstance(spec, Semantics):
        s, why = spec, source or "set"
    else:
        s, why = parse(spec), source or f"stated ({spec})"
    _state["active"], _state["source"] = s, why
    return s


def active() -> Semantics:
    """The mode the NumPy and torch streams follow now (detected on first use)."""
    if "active" not in _state:
        use("auto")
    return _state["active"]


def source() -> str:
    active()
    return _state["source"]


def record() -> dict:
    """What the report and golden provenance record."""
    out = active().describe()
    out["chosen_by"] = source()
    if active().log1p_large == "libm":
        out["libc"] = " ".join(platform.libc_ver())
    return out


def golden_note() -> str | None:
    """A note for runs with golden files under another stream than theirs (they were made with ``DEFAULT``)."""
    s = active()
    if s.name == DEFAULT:
        return None
    return (f"golden files hold the JAX {DEFAULT} stream ({MODES[DEFAULT].releases}); this run follows {s.name} "
            f"({s.releases}): checks that draw JAX's random numbers differ from them by design")


class using:
    """Context manager: a mode for the duration of a block (tests)."""

    def __init__(self, spec):
        self.spec = spec

    def __enter__(self):
        self._old = dict(_state)
        return use(self.spec)

    def __exit__(self, *exc):
        _state.clear()
        _state.update(self._old)
        return False
