"""Comparison modes: one class per kind of comparison (torch.testing style), each owning its leaf comparison.

A mode is a frozen dataclass deriving from ``Mode`` with a ``kind`` (its name in the report's JSON):

- ``compare(a, e, da, de, path, spec)``: one leaf pair (NumPy arrays and their dtype names) -> ``LeafResult``.
  ``Mode.compare`` runs the checks every mode shares (shape, dtype kind, integers and bools exact, complex as
  pairs of floats, the check's spec dtype, the NaN / +Inf / -Inf pattern) and asks ``compare_floats`` for the
  values of a float leaf; a mode that judges leaves otherwise (``Statistical``) overrides ``compare``.
- ``finish(leaves)``: after the walk, a judgement over all leaves of one comparison (Bonferroni).
- ``describe()``: the dict the report and the golden files record as ``tolerance``;
  ``Mode.from_description(d)`` rebuilds the mode from it (reports are re-rendered from JSON).
- ``display(leaves)``: the short text of the report's tolerance column; ``measure(leaves, ...)``: the
  measured distance a report cell shows; ``scaled`` / ``badge``: whether a cell shows the tolerance ratio
  (and a heat-map colour), else which word.

Adding a mode is one subclass: the comparison, the report and the HTML report find it by its ``kind``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from . import tolerance as tol
from .base import LeafResult, ParityError
from .leafstats import summarise


@dataclasses.dataclass(frozen=True)
class Spec:
    """What the check expects of a comparison's leaves: ``dtypes`` {leaf path: float dtype (a tuple where the
    references differ)}; ``strict`` (actual, expected): a side flagged returning a less precise float dtype
    is a ``dtype`` leaf failure."""

    dtypes: Mapping[str, Any]
    strict: tuple[bool, bool] = (False, False)


NO_SPEC = Spec({})


def _idx(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat_index, shape)) if shape else ()


class Mode:
    """Base of the comparison modes. Subclasses are frozen dataclasses with a class attribute ``kind``."""

    kind: ClassVar[str] = ""
    scaled: ClassVar[bool] = False  # its measure is the tolerance ratio: heat-map colour and "R x" cells
    badge: ClassVar[str] = "pass"  # the word of a passing cell that shows no ratio
    fuzzable: ClassVar[bool] = True  # False: a verdict on one fuzzed case has no meaning (no budget)
    _registry: ClassVar[dict[str, type[Mode]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            Mode._registry[cls.kind] = cls

    # -- the report's record ------------------------------------------------------------------------
    def describe(self) -> dict:
        """The mode as recorded in the report and in golden files (``{"mode": kind, ...}``)."""
        return {"mode": self.kind}

    @classmethod
    def from_description(cls, described: Mapping | None, kind: str = "") -> Mode:
        """The mode a report row recorded (its ``tolerance`` dict, else its ``mode`` name); an unknown or
        missing one gives ``Unknown`` (a report of another version: shown without mode-specific text)."""
        d = dict(described or {})
        found = Mode._registry.get(d.get("mode") or kind)
        return found.rebuild(d) if found is not None else Unknown()

    @classmethod
    def rebuild(cls, described: dict) -> Mode:
        """The instance ``describe()`` came from (default: the mode without parameters)."""
        return cls()

    # -- the report's text ----------------------------------------------------------------------------
    def display(self, leaves: Iterable[LeafResult] = ()) -> str:
        """The tolerance a report row was judged at (the report's tolerance column)."""
        for l in leaves:
            if l.allowed_abs is not None:
                return f"rtol {l.allowed_rel:.2g} atol {l.allowed_abs:.2g}"
        return "dtype policy"

    def measure(self, leaves: Iterable[LeafResult], *, passed: bool = True, max_ulp: int | None = None) -> str:
        """The measured distance of some leaves, in the mode's unit (a report cell)."""
        ratios = [l.tol_ratio for l in leaves if l.tol_ratio is not None]
        return f"{max(ratios):.2g}x tol" if ratios else ""

    def fail_measure(self, valued: list[LeafResult]) -> str:
        """How far the failing value leaves are (a failing report cell)."""
        return self.measure(valued, passed=False)

    # -- the comparison ------------------------------------------------------------------------------
    def finish(self, leaves: list[LeafResult]) -> None:
        """A judgement over every leaf of one comparison, after the walk (default: none)."""

    def compare(self, a: np.ndarray, e: np.ndarray, da: str, de: str, path: str, spec: Spec = NO_SPEC) -> LeafResult:
        """One leaf pair: shape, dtype kind, integers / bools exact, then the float values by the mode."""
        if a.shape != e.shape:
            return LeafResult(path, False, "shape", f"shape differs: actual {a.shape}, expected {e.shape}",
                              total=int(e.size))
        k_a, k_e = tol.kind(da), tol.kind(de)
        if k_a != k_e:
            return LeafResult(path, False, "dtype", f"dtype kind differs: actual {da}, expected {de}",
                              total=int(e.size))
        n = int(e.size)
        if k_a in ("int", "bool"):
            return exact_values(a, e, path, n)
        if k_a == "complex":
            a_r = np.stack([a.real, a.imag], -1)
            e_r = np.stack([e.real, e.imag], -1)
            da = de = "float64" if da == "complex128" and de == "complex128" else "float32"
            return self._float_leaf(a_r, e_r, da, de, path, n)
        want = spec.dtypes.get(path)
        if want is None:
            return self._float_leaf(a, e, da, de, path, n)
        accepted = (want,) if isinstance(want, str) else tuple(want)  # references that disagree: any of theirs
        floor = tol.PRECISION.get(tol.coarsest(accepted), 53)
        for side, d, flagged in (("actual", da, spec.strict[0]), ("expected", de, spec.strict[1])):
            # a less precise dtype would bring its own, looser tolerance: a failure; a more precise one (a NumPy
            # port in float64) is judged at the expected dtype's tolerance
            if flagged and d not in accepted and tol.PRECISION.get(d, 53) <= floor:
                return LeafResult(path, False, "dtype", f"dtype differs: {side} is {d}, the check expects "
                                  f"{' or '.join(accepted)} (the references' dtype; the tolerance is that dtype's)",
                                  total=n)
        return self._float_leaf(a, e, da, de, path, n, tol.coarsest(accepted))

    def _float_leaf(self, a, e, da, de, path, n, want: str | None = None) -> LeafResult:
        res = self.compare_floats(a, e, da, de, path, n, want)
        pat = _nan_pattern(a, e, path, n)
        if pat is None:
            return res
        # the pattern differs: say so, AND what the values do on the elements finite in both
        fin = int(np.count_nonzero(np.isfinite(a) & np.isfinite(e)))
        values = (f"on the {fin} elements finite in both: {res.message}" if not res.ok
                  else f"the {fin} elements finite in both agree")
        pat.message = f"{pat.message}; {values}"
        pat.mismatches += res.mismatches
        pat.max_abs, pat.max_rel, pat.max_ulp = res.max_abs, res.max_rel, res.max_ulp
        pat.allowed_abs, pat.allowed_rel, pat.allowed_ulp, pat.tol_ratio, pat.slack = (
            res.allowed_abs, res.allowed_rel, res.allowed_ulp, res.tol_ratio, res.slack)
        return pat

    def compare_floats(self, a, e, da: str, de: str, path: str, n: int, want: str | None = None) -> LeafResult:
        """The values of a float leaf pair on the elements finite in both (the NaN / Inf pattern is judged
        apart). ``want``: the dtype the check's spec expects (decides the tolerance), else the coarser one."""
        raise NotImplementedError(f"{type(self).__name__}.compare_floats")


@dataclasses.dataclass
class _Distances:
    """Distances of a float leaf pair on the elements finite in both."""

    fin: np.ndarray
    e64: np.ndarray
    diff: np.ndarray
    rel: np.ndarray
    ulps: np.ndarray
    coarse: str


def _distances(a, e, da, de, n, want) -> _Distances:
    fin = np.isfinite(a) & np.isfinite(e)
    a64 = np.where(fin, a.astype(np.float64), 0.0)
    e64 = np.where(fin, e.astype(np.float64), 0.0)
    diff = np.abs(a64 - e64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(e64))
    coarse = want or tol.coarser(da, de)
    ulps = ulp_distance(np.where(fin, a, 0), np.where(fin, e, 0), coarse)
    return _Distances(fin, e64, diff, rel, ulps, coarse)


def _passing(path: str, n: int, d: _Distances) -> LeafResult:
    return LeafResult(path, True, total=n, max_abs=float(d.diff.max()) if n else 0.0,
                      max_rel=float(d.rel.max()) if n else 0.0, max_ulp=int(d.ulps.max()) if n else 0)


@dataclasses.dataclass(frozen=True)
class Tolerance(Mode):
    """|actual - expected| <= atol + rtol * |expected|, elementwise.

    ``rtol`` / ``atol`` left ``None`` come from the dtype policy (torch.testing's table) for the less
    precise of the two dtypes. An override must carry a one-line numerical ``reason``.
    """

    kind: ClassVar[str] = "tolerance"
    scaled: ClassVar[bool] = True

    rtol: float | None = None
    atol: float | None = None
    reason: str = ""

    def __post_init__(self):
        if (self.rtol is not None or self.atol is not None) and not self.reason.strip():
            raise ParityError("Tolerance override without a reason: say why these numbers (one line)")

    def describe(self) -> dict:
        return {"mode": "tolerance", "rtol": self.rtol, "atol": self.atol,
                "source": "override: " + self.reason if self.reason else "dtype policy (torch.testing table)"}

    @classmethod
    def rebuild(cls, described: dict) -> Mode:
        src = str(described.get("source") or "")
        reason = src[len("override: "):] if src.startswith("override: ") else ""
        overridden = described.get("rtol") is not None or described.get("atol") is not None
        return cls(described.get("rtol"), described.get("atol"), reason or ("as recorded" if overridden else ""))

    def resolve(self, dtype_a: str, dtype_b: str) -> tuple[float, float]:
        """(rtol, atol) for two float leaves: the override, else the less precise dtype's defaults."""
        rtol, atol = tol.DEFAULTS.get(tol.coarser(dtype_a, dtype_b), tol.DEFAULTS["float64"])
        return (self.rtol if self.rtol is not None else rtol), (self.atol if self.atol is not None else atol)

    def compare_floats(self, a, e, da, de, path, n, want=None) -> LeafResult:
        d = _distances(a, e, da, de, n, want)
        res = _passing(path, n, d)
        rtol, atol = self.resolve(want or da, want or de)
        res.allowed_abs, res.allowed_rel = atol, rtol
        allowed = atol + rtol * np.abs(d.e64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(d.diff == 0, 0.0, d.diff / allowed)
        res.tol_ratio = float(ratio.max()) if n else 0.0
        scale = float(np.abs(d.e64).max()) if n else 0.0
        res.slack = (atol + rtol * scale) / scale if scale > 0 else None
        bad = d.diff > allowed
        m = int(np.count_nonzero(bad))
        if m:
            wa = int(np.argmax(d.diff))
            wr = int(np.argmax(d.rel))
            res.ok, res.reason, res.mismatches, res.worst_index = False, "values", m, _idx(wa, e.shape)
            res.message = (f"not close: {m} / {n} mismatched ({100 * m / n:.1f}%); greatest absolute difference "
                           f"{res.max_abs:.6g} at index {_idx(wa, e.shape)} (up to {atol:g} allowed); greatest "
                           f"relative difference {res.max_rel:.6g} at index {_idx(wr, e.shape)} (up to {rtol:g} "
                           f"allowed); max ulp {res.max_ulp} ({d.coarse})")
            res.summary = summarise(a, e, bad, ratio=ratio, abs_err=d.diff, allowed=allowed, ulps=d.ulps)
        return res


@dataclasses.dataclass(frozen=True)
class Ulp(Mode):
    """Floats agree to within ``max_ulp`` units in the last place of the less precise dtype."""

    kind: ClassVar[str] = "ulp"
    scaled: ClassVar[bool] = True

    max_ulp: int = 0
    reason: str = ""

    def describe(self) -> dict:
        return {"mode": "ulp", "max_ulp": self.max_ulp, "source": self.reason or "declared"}

    @classmethod
    def rebuild(cls, described: dict) -> Mode:
        src = described.get("source")
        return cls(described.get("max_ulp") or 0, "" if src in (None, "declared") else str(src))

    def display(self, leaves=()) -> str:
        return f"<= {self.max_ulp} ulp"

    def measure(self, leaves, *, passed=True, max_ulp=None) -> str:
        ulps = [l.max_ulp for l in leaves if l.max_ulp is not None]
        return f"{max(ulps)} ulp" if ulps else ""

    def compare_floats(self, a, e, da, de, path, n, want=None) -> LeafResult:
        d = _distances(a, e, da, de, n, want)
        res = _passing(path, n, d)
        res.allowed_ulp = self.max_ulp
        worst_ulp = res.max_ulp
        res.tol_ratio = worst_ulp / self.max_ulp if self.max_ulp else (0.0 if worst_ulp == 0 else float("inf"))
        res.slack = self.max_ulp * 2.0 ** (1 - tol.PRECISION.get(d.coarse, 53)) if n else None
        bad = d.ulps > self.max_ulp
        m = int(np.count_nonzero(bad))
        if m:
            worst = int(np.argmax(d.ulps))
            w = _idx(worst, e.shape)
            res.ok, res.reason, res.mismatches, res.worst_index = False, "values", m, w
            res.message = (f"ulp distance exceeds {self.max_ulp}: {m} / {n} mismatched ({100 * m / n:.1f}%); "
                           f"greatest {worst_ulp} ulp ({d.coarse}) at index {w}: actual {a.ravel()[worst]!r}, "
                           f"expected {e.ravel()[worst]!r}; greatest absolute difference {res.max_abs:.6g}")
            res.summary = summarise(a, e, bad, ratio=d.ulps / max(self.max_ulp, 1), abs_err=d.diff, ulps=d.ulps)
        return res


@dataclasses.dataclass(frozen=True)
class Exact(Mode):
    """Bitwise for floats (-0.0 != 0.0; NaN positions must match, payloads are ignored),
    equal values for integers and bools."""

    kind: ClassVar[str] = "exact"
    badge: ClassVar[str] = "exact"

    def describe(self) -> dict:
        return {"mode": "exact", "source": "bitwise floats, equal integers"}

    def display(self, leaves=()) -> str:
        return "exact"

    def measure(self, leaves, *, passed=True, max_ulp=None) -> str:
        return "bit-exact" if passed else (f"{max_ulp} ulp" if max_ulp else "")

    def fail_measure(self, valued) -> str:
        return f"{sum(l.mismatches for l in valued)}/{sum(l.total for l in valued)} differ"

    def _float_leaf(self, a, e, da, de, path, n, want=None) -> LeafResult:
        if da != de:
            return LeafResult(path, False, "dtype", f"exact mode needs identical dtypes: actual {da}, expected {de}",
                              total=n)
        return super()._float_leaf(a, e, da, de, path, n, want)

    def compare_floats(self, a, e, da, de, path, n, want=None) -> LeafResult:
        d = _distances(a, e, da, de, n, want)
        res = _passing(path, n, d)
        bits = lambda x: np.ascontiguousarray(x).view({8: np.uint64, 4: np.uint32, 2: np.uint16}[x.dtype.itemsize])
        same = (bits(a) == bits(e)) | (np.isnan(a) & np.isnan(e))
        bad = ~same & d.fin  # the NaN / Inf pattern is judged on its own
        m = int(np.count_nonzero(bad))
        if m:
            first = int(np.flatnonzero(bad.ravel())[0])
            w = _idx(first, e.shape)
            res.ok, res.reason, res.mismatches, res.worst_index = False, "values", m, w
            res.message = (f"bits differ (exact): {m} / {n} mismatched ({100 * m / n:.1f}%); first at index {w}: "
                           f"actual {a.ravel()[first]!r}, expected {e.ravel()[first]!r}; greatest absolute "
                           f"difference {res.max_abs:.6g}; max ulp {res.max_ulp}")
            res.summary = summarise(a, e, bad, abs_err=d.diff, ulps=d.ulps)
        return res


@dataclasses.dataclass(frozen=True)
class Statistical(Mode):
    """Only distributions can match: every float leaf is a sample; two-sample KS per leaf.

    ``alpha`` is the whole check's false-failure budget, split over leaves by Bonferroni. With the
    fixed seeds of CI the outcome is deterministic; ``alpha`` bounds the rate over fresh seeds.
    """

    kind: ClassVar[str] = "statistical"
    badge: ClassVar[str] = "KS"
    fuzzable: ClassVar[bool] = False

    alpha: float = 1e-3
    test: str = "ks"

    def describe(self) -> dict:
        return {"mode": "statistical", "test": self.test, "alpha": self.alpha,
                "source": "false-failure budget alpha per check, Bonferroni over leaves"}

    @classmethod
    def rebuild(cls, described: dict) -> Mode:
        return cls(described.get("alpha", 1e-3), described.get("test", "ks"))

    def display(self, leaves=()) -> str:
        return f"KS alpha {self.alpha}"

    def measure(self, leaves, *, passed=True, max_ulp=None) -> str:
        ps = [l.p_value for l in leaves if l.p_value is not None]
        return f"min p {min(ps):.2g}" if ps else ""

    def compare(self, a, e, da, de, path, spec=NO_SPEC) -> LeafResult:
        from scipy import stats

        a1 = a.astype(np.float64).ravel()
        e1 = e.astype(np.float64).ravel()
        n = int(a1.size)
        if a1.size < 2 or e1.size < 2:
            return LeafResult(path, False, "statistic", f"too few samples for a KS test: {a1.size} vs {e1.size}")
        if not (np.all(np.isfinite(a1)) and np.all(np.isfinite(e1))):
            return LeafResult(path, False, "nan_pattern", "non-finite samples", total=n)
        r = stats.ks_2samp(a1, e1)
        return LeafResult(path, True, total=n, p_value=float(r.pvalue), max_abs=float(r.statistic))

    def finish(self, leaves: list[LeafResult]) -> None:
        """Bonferroni: each tested leaf at ``alpha / number of tested leaves``."""
        tested = [l for l in leaves if l.p_value is not None]
        if not tested:
            return
        threshold = self.alpha / len(tested)
        for l in tested:
            if l.p_value < threshold:
                l.ok, l.reason = False, "statistic"
                l.message = (f"distributions differ: two-sample KS statistic {l.max_abs:.4g}, p = {l.p_value:.3g} < "
                             f"{threshold:.3g} (alpha {self.alpha:g} / {len(tested)} leaves), n = {l.total}")


@dataclasses.dataclass(frozen=True)
class Unknown(Mode):
    """A report row whose mode this version does not know (or none: an error row): its cells show the
    tolerance ratio as a number only, no mode-specific text."""

    def compare_floats(self, a, e, da, de, path, n, want=None) -> LeafResult:
        raise ParityError("a report's unknown comparison mode cannot compare leaves")


# --------------------------------------------------------------------------------------------------
# leaf helpers shared by the modes
# --------------------------------------------------------------------------------------------------


def exact_values(a: np.ndarray, e: np.ndarray, path: str, n: int) -> LeafResult:
    """Integers and bools: equal values, whatever the mode."""
    ai, ei = a.astype(np.int64) if a.dtype != np.bool_ else a, e.astype(np.int64) if e.dtype != np.bool_ else e
    if a.dtype == np.uint64 or e.dtype == np.uint64:
        ai, ei = a.astype(object), e.astype(object)
    bad = ai != ei
    m = int(np.count_nonzero(bad))
    if m == 0:
        return LeafResult(path, True, total=n, mismatches=0, max_abs=0.0)
    first = int(np.flatnonzero(bad.ravel())[0])
    w = _idx(first, e.shape)
    diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
    msg = (f"values differ (exact): {m} / {n} mismatched ({100 * m / max(n, 1):.1f}%); first at index {w}: "
           f"actual {a.ravel()[first]!r}, expected {e.ravel()[first]!r}; greatest absolute difference "
           f"{float(diff.max()):.6g}")
    return LeafResult(path, False, "values", msg, m, n, w, float(diff.max()), None,
                      summary=summarise(a, e, bad, abs_err=diff))


def _nan_pattern(a: np.ndarray, e: np.ndarray, path: str, n: int) -> LeafResult | None:
    for label, fa, fe in (("NaN", np.isnan(a), np.isnan(e)),
                          ("+Inf", np.isposinf(a), np.isposinf(e)),
                          ("-Inf", np.isneginf(a), np.isneginf(e))):
        bad = fa != fe
        m = int(np.count_nonzero(bad))
        if m:
            first = int(np.flatnonzero(bad.ravel())[0])
            w = _idx(first, e.shape)
            msg = (f"{label} pattern differs at {m} / {n} elements; first at index {w}: "
                   f"actual {a.ravel()[first]!r}, expected {e.ravel()[first]!r}")
            return LeafResult(path, False, "nan_pattern", msg, m, n, w, summary=summarise(a, e, bad))
    return None


def ulp_distance(a: np.ndarray, e: np.ndarray, dtype_name: str) -> np.ndarray:
    """|ordered(a) - ordered(e)| in units of the last place of ``dtype_name`` (finite values)."""
    if dtype_name == "float64":
        ia = np.asarray(a, np.float64).view(np.int64).astype(object)
        ie = np.asarray(e, np.float64).view(np.int64).astype(object)
        mask = 0x7FFFFFFFFFFFFFFF
        oa = np.where(ia < 0, -(ia & mask), ia)
        oe = np.where(ie < 0, -(ie & mask), ie)
        return np.abs(oa - oe).astype(np.float64)
    if dtype_name == "float16":
        ia = np.asarray(a, np.float16).view(np.int16).astype(np.int64)
        ie = np.asarray(e, np.float16).view(np.int16).astype(np.int64)
        mask, scale = 0x7FFF, 1
    else:  # float32 and bfloat16 (bfloat16 values are float32 values with 16 trailing zero bits)
        ia = np.asarray(a, np.float32).view(np.int32).astype(np.int64)
        ie = np.asarray(e, np.float32).view(np.int32).astype(np.int64)
        mask, scale = 0x7FFFFFFF, (1 << 16) if dtype_name == "bfloat16" else 1
    oa = np.where(ia < 0, -(ia & mask), ia)
    oe = np.where(ie < 0, -(ie & mask), ie)
    return np.abs(oa - oe) // scale
