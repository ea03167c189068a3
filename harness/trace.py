"""Comparing two traces of taps: the first divergent tap, then the rest.

``compare_traces(actual, expected, mode)`` walks the EXPECTED side's records in program order and compares
each ``(name, call index)`` with the actual side's record of the same name and index (values leaf by leaf
with ``harness.compare``, so every leaf message has the mismatch count, worst index, greatest absolute /
relative difference and the allowed ones). The result is a ``Comparison`` whose leaves are in that order:
the first failing leaf is the first divergent tap. Its paths read ``<tap name>#<call index><leaf path>``,
e.g. ``eggroll.noise.A#3['w1'][0]``.

- A tap name the actual side never emits is *untapped*: not compared, listed (a port taps what it has).
- Fewer calls of a tapped name than expected, or more, is a divergence (``missing call`` / ``extra call``).
- A trace that shares no tap with the expected one has compared nothing: that is a failure, never a pass.

``TraceComparison.components`` names the component of each divergent tap (``harness.tap.component_of``:
``eggroll.noise.A`` -> ``eggroll.noise``), first divergent first; the runner reports those.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .base import LeafResult, Tolerance
from .compare import Comparison, compare
from .tap import Trace, component_of

MAX_LISTED = 12


@dataclasses.dataclass
class TraceComparison(Comparison):
    untapped: list[str] = dataclasses.field(default_factory=list)
    compared_taps: int = 0
    first: tuple[str, int] | None = None

    @property
    def components(self) -> list[str]:
        names: list[str] = []
        for leaf in self.failing:
            c = component_of(leaf.path.split("#", 1)[0])
            if c not in names:
                names.append(c)
        return names

    def summary(self, limit: int = MAX_LISTED) -> str:
        bad = self.failing
        tail = f" (untapped, not compared: {', '.join(self.untapped)})" if self.untapped else ""
        if not bad:
            return f"{self.compared_taps} tap calls agree ({len(self.leaves)} leaves){tail}"
        first = bad[0]
        taps = list(dict.fromkeys(l.path.split("[", 1)[0] for l in bad))
        lines = [f"first divergent tap: {first.path}: {first.message}",
                 f"  component {component_of(first.path.split('#', 1)[0])}; {len(taps)} of {self.compared_taps} "
                 f"tap calls diverge ({len(bad)} leaves){tail}; then:"]
        for l in bad[1:limit]:
            lines.append(f"  {l.path}: {l.message}")
        if len(bad) > limit:
            lines.append(f"  ... and {len(bad) - limit} more")
        return "\n".join(lines)


def compare_traces(actual: Trace, expected: Trace, mode=Tolerance(), *, modes: dict[str, Any] | None = None,
                   ) -> TraceComparison:
    """Compare ``actual``'s taps with ``expected``'s (the reference side), in ``expected``'s order.

    ``modes`` optionally maps a tap name (or a prefix ending in ``.``) to its own comparison mode.
    """
    for t, side in ((actual, "actual"), (expected, "expected")):
        if not isinstance(t, Trace):
            raise TypeError(f"compare_traces: {side} is {type(t).__name__}, not a harness.tap.Trace")
    got = {(r.name, r.index): r for r in actual.records}
    tapped = set(actual.names())
    leaves: list[LeafResult] = []
    untapped: list[str] = []
    compared = 0
    for r in expected.records:
        if r.name not in tapped:
            if r.name not in untapped:
                untapped.append(r.name)
            continue
        path = f"{r.name}#{r.index}"
        a = got.get((r.name, r.index))
        if a is None:
            leaves.append(LeafResult(path, False, "missing",
                                     f"missing call: actual tapped {r.name} {actual.count(r.name)} times, "
                                     f"expected {expected.count(r.name)}"))
            continue
        compared += 1
        leaves += compare(a.value, r.value, _mode_for(r.name, mode, modes), path=path).leaves
    for r in actual.records:
        if r.name in expected._counts and r.index >= expected.count(r.name):
            leaves.append(LeafResult(f"{r.name}#{r.index}", False, "missing",
                                     f"extra call: actual tapped {r.name} {actual.count(r.name)} times, "
                                     f"expected {expected.count(r.name)}"))
    if compared == 0:
        shared = ", ".join(expected.names()) or "none"
        leaves.append(LeafResult("<trace>", False, "missing",
                                 f"compared nothing: the actual side emitted none of the expected taps "
                                 f"({shared}); it emitted {', '.join(actual.names()) or 'no taps at all'}"))
    out = TraceComparison(leaves, untapped=untapped, compared_taps=compared)
    bad = out.failing
    if bad and "#" in bad[0].path:
        name, rest = bad[0].path.split("#", 1)
        out.first = (name, int("".join(ch for ch in rest.split("[", 1)[0] if ch.isdigit()) or 0))
    return out


def _mode_for(name: str, default: Any, modes: dict[str, Any] | None) -> Any:
    if not modes:
        return default
    if name in modes:
        return modes[name]
    best = max((p for p in modes if p.endswith(".") and name.startswith(p)), key=len, default=None)
    return modes[best] if best is not None else default
