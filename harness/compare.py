"""The comparison engine: a chain of small comparers over nested containers.

``compare(actual, expected, mode)`` walks both trees together (dict, list, tuple, NamedTuple, dataclass;
leaves NumPy / JAX / torch arrays or Python scalars, in any mixture) and returns a ``Comparison`` value:
one ``LeafResult`` per leaf path, each with status, mismatch count / total, worst index, greatest absolute
and relative difference with the allowed ones and the max ulp distance. Every failing leaf is listed, not
only the first. ``assert_parity`` raises an ``AssertionError`` whose message starts with ``PARITY:``.

Per leaf the mode decides (``harness/modes.py``, one class per mode): shape, dtype kind, NaN / +Inf / -Inf
pattern, then values:
- Tolerance: |a - e| <= atol + rtol |e| on the finite elements (e = expected); integers / bools exact.
- Ulp: ulp distance in the less precise float dtype <= max_ulp (+0.0 and -0.0 are 0 ulp apart).
- Exact: bitwise for floats (-0.0 != 0.0; NaN positions must match, payloads ignored); equal integers.
- Statistical: two-sample KS per float leaf, p-value >= alpha / number of leaves (Bonferroni).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .base import PREFIX, LeafResult, Mode, ParityError, Tolerance
from .convert import children, is_leaf_array, to_numpy
from .modes import NO_SPEC, Spec, ulp_distance

__all__ = ["Comparison", "assert_parity", "compare", "compare_flat", "compare_leaf", "ulp_distance"]


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

    max_abs = property(lambda self: self._max("max_abs"))
    max_rel = property(lambda self: self._max("max_rel"))
    max_ulp = property(lambda self: self._max("max_ulp"))
    tol_ratio = property(lambda self: self._max("tol_ratio"))
    slack = property(lambda self: self._max("slack"))

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


def compare(actual: Any, expected: Any, mode: Mode = Tolerance(), *, path: str = "", dtypes: Mapping[str, str] | None = None,
            strict: tuple[bool, bool] = (False, False)) -> Comparison:
    """Compare two nested containers leaf by leaf (``expected`` is the reference side).

    ``dtypes`` maps leaf paths to the float dtype the check's spec expects (the references' output dtype; a
    tuple where the references differ, the coarsest deciding): that dtype decides the tolerance, whatever the
    sides return, and a side flagged in ``strict`` (actual, expected) that returns a less precise float dtype
    is a ``dtype`` leaf failure (a more precise one is judged at the expected dtype's tolerance). Without an entry the
    less precise dtype of the pair decides (torch.testing's rule).
    """
    leaves: list[LeafResult] = []
    _walk(actual, expected, mode, path, leaves, Spec(dtypes or {}, strict))
    mode.finish(leaves)
    return Comparison(leaves)


def compare_flat(actual: Mapping[str, Any], expected: Mapping[str, Any], mode: Mode = Tolerance(), *,
                 dtypes: Mapping[str, str] | None = None, strict: tuple[bool, bool] = (False, False)) -> Comparison:
    """Compare two {leaf path: leaf} mappings (golden files); each leaf keeps its path as given."""
    leaves: list[LeafResult] = []
    spec = Spec(dtypes or {}, strict)
    for k in expected:
        if k not in actual:
            leaves.append(LeafResult(k, False, "missing", "missing in actual"))
    for k in actual:
        if k not in expected:
            leaves.append(LeafResult(k, False, "missing", "missing in expected (unexpected output)"))
    for k in expected:
        if k in actual:
            leaves.append(compare_leaf(actual[k], expected[k], mode, k, spec=spec))
    mode.finish(leaves)
    return Comparison(leaves)


def assert_parity(actual: Any, expected: Any, mode: Mode = Tolerance(), *, label: str = "", reproduce: str = "") -> None:
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


def _walk(a: Any, e: Any, mode, path: str, out: list[LeafResult], spec: Spec = NO_SPEC) -> None:
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


def _none_leaf(a: Any, e: Any, path: str) -> LeafResult:
    """One side is None: the reason is ``none``, never a ratio borrowed from another leaf."""
    if a is None and e is None:
        return LeafResult(path, True, total=1)
    side, other = ("actual", e) if a is None else ("expected", a)
    what = (f"{_tname(other)} of shape {tuple(getattr(other, 'shape', ()))}" if is_leaf_array(other)
            else _tname(other))
    return LeafResult(path, False, "none", f"{side} is None, the other side is a {what}", 1, 1)


def compare_leaf(actual: Any, expected: Any, mode, path: str = "", *, spec: Spec = NO_SPEC) -> LeafResult:
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
    return mode.compare(a, e, da, de, path, spec)
