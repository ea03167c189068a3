"""The comparison engine: a chain of small comparers over nested containers.

``compare(actual, expected, mode)`` walks both trees together (dict, list, tuple, NamedTuple, dataclass;
leaves NumPy / JAX / torch arrays or Python scalars, in any mixture) and returns a ``Comparison`` value:
one ``LeafResult`` per leaf path, each with status, mismatch count / total, worst index, greatest absolute
and relative difference with the allowed ones and the max ulp distance. Every failing leaf is listed, not
only the first. ``assert_parity`` raises an ``AssertionError`` whose message starts with ``PARITY:``.

Per leaf, in order: shape, dtype kind, NaN / +Inf / -Inf pattern, then values by the mode:
- Tolerance: |a - e| <= atol + rtol |e| on the finite elements (e = expected); integers / bools exact.
- Ulp: ulp distance in the less precise float dtype <= max_ulp (+0.0 and -0.0 are 0 ulp apart).
- Exact: bitwise for floats (-0.0 != 0.0; NaN positions must match, payloads ignored); equal integers.
- Statistical: two-sample KS per float leaf, p-value >= alpha / number of leaves (Bonferroni).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import tolerance as tol
from .base import PREFIX, Exact, LeafResult, ParityError, Statistical, Tolerance, Ulp
from .convert import children, is_leaf_array, to_numpy
from .leafstats import summarise


@dataclasses.dataclass
class Comparison:
    leaves: list[LeafResult]

    @property
    def ok(self) -> bool:
        return all(l.ok for l in self.leaves)

    @property
    def failing(self) -> list[LeafResult]:
        return [l for l in self.leaves if not l.ok]

    def _max(self, attr):
        vals = [getattr(l, attr) for l in self.leaves if getattr(l, attr) is not None]
        return max(vals) if vals else None

    @property
    def max_abs(self):
        return self._max("max_abs")

    @property
    def max_rel(self):
        return self._max("max_rel")

    @property
    def max_ulp(self):
        return self._max("max_ulp")

    @property
    def tol_ratio(self):
        return self._max("tol_ratio")

    def summary(self, limit: int = 20) -> str:
        bad = self.failing
        if not bad:
            return f"{len(self.leaves)} leaves agree"
        lines = [f"{len(bad)} of {len(self.leaves)} leaves differ:"]
        for l in bad[:limit]:
            lines.append(f"  {l.path or '<root>'}: {l.message}")
        if len(bad) > limit:
            lines.append(f"  ... and {len(bad) - limit} more")
        return "\n".join(lines)


def compare(actual: Any, expected: Any, mode=Tolerance(), *, path: str = "", dtypes: Mapping[str, str] | None = None,
            strict: tuple[bool, bool] = (False, False)) -> Comparison:
    """Compare two nested containers leaf by leaf (``expected`` is the reference side).

    ``dtypes`` maps leaf paths to the float dtype the check's spec expects (the references' output dtype; a
    tuple where the references differ, the coarsest deciding): that dtype decides the tolerance, whatever the
    sides return, and a side flagged in ``strict`` (actual, expected) that returns a less precise float dtype
    is a ``dtype`` leaf failure (a more precise one is judged at the expected dtype's tolerance). Without an entry the
    less precise dtype of the pair decides (torch.testing's rule).
    """
    leaves: list[LeafResult] = []
    _walk(actual, expected, mode, path, leaves, _Spec(dtypes or {}, strict))
    if isinstance(mode, Statistical):
        _bonferroni(leaves, mode)
    return Comparison(leaves)


def compare_flat(actual: Mapping[str, Any], expected: Mapping[str, Any], mode=Tolerance(), *,
                 dtypes: Mapping[str, str] | None = None, strict: tuple[bool, bool] = (False, False)) -> Comparison:
    """Compare two {leaf path: leaf} mappings (golden files); each leaf keeps its path as given."""
    leaves: list[LeafResult] = []
    spec = _Spec(dtypes or {}, strict)
    for k in expected:
        if k not in actual:
            leaves.append(LeafResult(k, False, "missing", "missing in actual"))
    for k in actual:
        if k not in expected:
            leaves.append(LeafResult(k, False, "missing", "missing in expected (unexpected output)"))
    for k in expected:
        if k in actual:
            leaves.append(compare_leaf(actual[k], expected[k], mode, k, spec=spec))
    if isinstance(mode, Statistical):
        _bonferroni(leaves, mode)
    return Comparison(leaves)


@dataclasses.dataclass(frozen=True)
class _Spec:
    dtypes: Mapping[str, str]
    strict: tuple[bool, bool] = (False, False)


_NO_SPEC = _Spec({})


def assert_parity(actual: Any, expected: Any, mode=Tolerance(), *, label: str = "", reproduce: str = "") -> None:
    """Raise ``AssertionError`` listing every failing leaf, prefixed ``PARITY:``."""
    c = compare(actual, expected, mode)
    if not c.ok:
        head = f"{PREFIX} {label + ' ' if label else ''}{c.summary()}"
        raise AssertionError(head + (f"\nReproduce: {reproduce}" if reproduce else ""))


# --------------------------------------------------------------------------------------------------
# containers
# --------------------------------------------------------------------------------------------------


def _container_kind(x: Any) -> str | None:
    if isinstance(x, Mapping):
        return "mapping"
    if children(x) is None:
        return None
    if isinstance(x, (list, tuple)) and not hasattr(type(x), "_fields"):
        return "sequence"
    return "record"  # NamedTuple / dataclass: compared by field name


def _walk(a: Any, e: Any, mode, path: str, out: list[LeafResult], spec: _Spec = _NO_SPEC) -> None:
    ka, ke = _container_kind(a), _container_kind(e)
    if ka is None and ke is None:
        out.append(compare_leaf(a, e, mode, path, spec=spec))
        return
    if a is None or e is None:
        out.append(_none_leaf(a, e, path))
        return
    if ka is None or ke is None or (ka == "sequence") != (ke == "sequence"):
        out.append(LeafResult(path, False, "type", f"structure differs: actual is {_tname(a)}, expected is {_tname(e)}"))
        return
    if ka == "sequence":
        if len(a) != len(e):
            out.append(LeafResult(path, False, "structure", f"length differs: actual {len(a)}, expected {len(e)}"))
            return
        for i, (x, y) in enumerate(zip(a, e)):
            _walk(x, y, mode, f"{path}[{i}]", out, spec)
        return
    da, de = dict(children(a)), dict(children(e))
    for k in de:
        if k not in da:
            out.append(LeafResult(path + k, False, "missing", "missing in actual"))
    for k in da:
        if k not in de:
            out.append(LeafResult(path + k, False, "missing", "missing in expected (unexpected output)"))
    for k in de:
        if k in da:
            _walk(da[k], de[k], mode, path + k, out, spec)


def _tname(x: Any) -> str:
    return type(x).__qualname__


# --------------------------------------------------------------------------------------------------
# leaves
# --------------------------------------------------------------------------------------------------


def _plain_equal(a: Any, e: Any, path: str) -> LeafResult:
    ok = type(a) is type(e) and a == e
    return LeafResult(path, ok, "" if ok else "values", "" if ok else f"{a!r} != {e!r}", int(not ok), 1)


def _idx(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat_index, shape)) if shape else ()


def _none_leaf(a: Any, e: Any, path: str) -> LeafResult:
    """One side is None: the reason is ``none``, never a ratio borrowed from another leaf."""
    if a is None and e is None:
        return LeafResult(path, True, total=1)
    side, other = ("actual", e) if a is None else ("expected", a)
    what = (f"{_tname(other)} of shape {tuple(getattr(other, 'shape', ()))}" if is_leaf_array(other)
            else _tname(other))
    return LeafResult(path, False, "none", f"{side} is None, the other side is a {what}", 1, 1)


def compare_leaf(actual: Any, expected: Any, mode, path: str = "", *, spec: _Spec = _NO_SPEC) -> LeafResult:
    """Compare one leaf pair."""
    scalar_types = (bool, int, float, complex)
    if not (is_leaf_array(actual) or isinstance(actual, scalar_types)) or not (
            is_leaf_array(expected) or isinstance(expected, scalar_types)):
        if (actual is None) != (expected is None):
            return _none_leaf(actual, expected, path)
        if actual is None or expected is None or isinstance(actual, str) or isinstance(expected, str):
            return _plain_equal(actual, expected, path)
    try:
        a, da = to_numpy(actual)
        e, de = to_numpy(expected)
    except ParityError as err:
        return LeafResult(path, False, "type", str(err).replace(PREFIX + " ", ""))
    if isinstance(mode, Statistical):
        return _statistical(a, e, da, de, path)
    if a.shape != e.shape:
        return LeafResult(path, False, "shape", f"shape differs: actual {a.shape}, expected {e.shape}",
                          total=int(e.size))
    k_a, k_e = tol.kind(da), tol.kind(de)
    if k_a != k_e:
        return LeafResult(path, False, "dtype", f"dtype kind differs: actual {da}, expected {de}", total=int(e.size))
    n = int(e.size)
    if k_a in ("int", "bool"):
        return _exact_values(a, e, path, n)
    if k_a == "complex":
        a_r = np.stack([a.real, a.imag], -1)
        e_r = np.stack([e.real, e.imag], -1)
        da = de = "float64" if da == "complex128" and de == "complex128" else "float32"
        a, e = a_r, e_r
        return _float_leaf(a, e, da, de, mode, path, n)
    want = spec.dtypes.get(path)
    if want is None:
        return _float_leaf(a, e, da, de, mode, path, n)
    accepted = (want,) if isinstance(want, str) else tuple(want)  # references that disagree: any of theirs
    floor = tol.PRECISION.get(tol.coarsest(accepted), 53)
    for side, d, flagged in (("actual", da, spec.strict[0]), ("expected", de, spec.strict[1])):
        # a less precise dtype would bring its own, looser tolerance: a failure; a more precise one (a NumPy
        # port in float64) is judged at the expected dtype's tolerance
        if flagged and d not in accepted and tol.PRECISION.get(d, 53) <= floor:
            return LeafResult(path, False, "dtype", f"dtype differs: {side} is {d}, the check expects "
                              f"{' or '.join(accepted)} (the references' dtype; the tolerance is that dtype's)",
                              total=n)
    return _float_leaf(a, e, da, de, mode, path, n, tol.coarsest(accepted))


def _exact_values(a: np.ndarray, e: np.ndarray, path: str, n: int) -> LeafResult:
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


def _float_leaf(a, e, da, de, mode, path, n, want: str | None = None) -> LeafResult:
    if isinstance(mode, Exact) and da != de:
        return LeafResult(path, False, "dtype", f"exact mode needs identical dtypes: actual {da}, expected {de}",
                          total=n)
    res = _float_values(a, e, da, de, mode, path, n, want)
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
    pat.allowed_abs, pat.allowed_rel, pat.allowed_ulp, pat.tol_ratio = (
        res.allowed_abs, res.allowed_rel, res.allowed_ulp, res.tol_ratio)
    return pat


def _float_values(a, e, da, de, mode, path, n, want: str | None = None) -> LeafResult:
    """Values on the elements finite in both (the NaN / Inf pattern is judged separately)."""
    fin = np.isfinite(a) & np.isfinite(e)
    a64 = np.where(fin, a.astype(np.float64), 0.0)
    e64 = np.where(fin, e.astype(np.float64), 0.0)
    diff = np.abs(a64 - e64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(e64))
    coarse = want or tol.coarser(da, de)
    ulps = ulp_distance(np.where(fin, a, 0), np.where(fin, e, 0), coarse)
    max_abs = float(diff.max()) if n else 0.0
    max_rel = float(rel.max()) if n else 0.0
    max_ulp = int(ulps.max()) if n else 0
    res = LeafResult(path, True, total=n, max_abs=max_abs, max_rel=max_rel, max_ulp=max_ulp)

    if isinstance(mode, Exact):
        bits = lambda x, d: np.ascontiguousarray(x).view({8: np.uint64, 4: np.uint32, 2: np.uint16}[x.dtype.itemsize])
        same = (bits(a, da) == bits(e, de)) | (np.isnan(a) & np.isnan(e))
        bad = ~same & fin  # the NaN / Inf pattern is judged on its own
        m = int(np.count_nonzero(bad))
        if m:
            first = int(np.flatnonzero(bad.ravel())[0])
            w = _idx(first, e.shape)
            res.ok, res.reason, res.mismatches, res.worst_index = False, "values", m, w
            res.message = (f"bits differ (exact): {m} / {n} mismatched ({100 * m / n:.1f}%); first at index {w}: "
                           f"actual {a.ravel()[first]!r}, expected {e.ravel()[first]!r}; greatest absolute "
                           f"difference {max_abs:.6g}; max ulp {max_ulp}")
            res.summary = summarise(a, e, bad, abs_err=diff, ulps=ulps)
        return res

    if isinstance(mode, Ulp):
        res.allowed_ulp = mode.max_ulp
        res.tol_ratio = max_ulp / mode.max_ulp if mode.max_ulp else (0.0 if max_ulp == 0 else float("inf"))
        bad = ulps > mode.max_ulp
        m = int(np.count_nonzero(bad))
        if m:
            worst = int(np.argmax(ulps))
            w = _idx(worst, e.shape)
            res.ok, res.reason, res.mismatches, res.worst_index = False, "values", m, w
            res.message = (f"ulp distance exceeds {mode.max_ulp}: {m} / {n} mismatched ({100 * m / n:.1f}%); "
                           f"greatest {max_ulp} ulp ({coarse}) at index {w}: actual {a.ravel()[worst]!r}, "
                           f"expected {e.ravel()[worst]!r}; greatest absolute difference {max_abs:.6g}")
            res.summary = summarise(a, e, bad, ratio=ulps / max(mode.max_ulp, 1), abs_err=diff, ulps=ulps)
        return res

    rtol, atol = tol.resolve(mode, want or da, want or de)
    res.allowed_abs, res.allowed_rel = atol, rtol
    allowed = atol + rtol * np.abs(e64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / allowed)
    res.tol_ratio = float(ratio.max()) if n else 0.0
    bad = diff > allowed
    m = int(np.count_nonzero(bad))
    if m:
        wa = int(np.argmax(diff))
        wr = int(np.argmax(rel))
        res.ok, res.reason, res.mismatches, res.worst_index = False, "values", m, _idx(wa, e.shape)
        res.message = (f"not close: {m} / {n} mismatched ({100 * m / n:.1f}%); greatest absolute difference "
                       f"{max_abs:.6g} at index {_idx(wa, e.shape)} (up to {atol:g} allowed); greatest relative "
                       f"difference {max_rel:.6g} at index {_idx(wr, e.shape)} (up to {rtol:g} allowed); "
                       f"max ulp {max_ulp} ({coarse})")
        res.summary = summarise(a, e, bad, ratio=ratio, abs_err=diff, allowed=allowed, ulps=ulps)
    return res


# --------------------------------------------------------------------------------------------------
# statistical leaves
# --------------------------------------------------------------------------------------------------


def _statistical(a, e, da, de, path) -> LeafResult:
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


def _bonferroni(leaves: list[LeafResult], mode: Statistical) -> None:
    tested = [l for l in leaves if l.p_value is not None]
    if not tested:
        return
    threshold = mode.alpha / len(tested)
    for l in tested:
        if l.p_value < threshold:
            l.ok, l.reason = False, "statistic"
            l.message = (f"distributions differ: two-sample KS statistic {l.max_abs:.4g}, p = {l.p_value:.3g} < "
                         f"{threshold:.3g} (alpha {mode.alpha:g} / {len(tested)} leaves), n = {l.total}")
