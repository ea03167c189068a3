"""Compact summaries of a failing leaf, computed by the comparison engine (never the full arrays).

``summarise`` turns the elementwise error of one leaf into a few hundred numbers that a report can plot:
a histogram of the error as a multiple of the allowed one (log10 bins), a histogram of ulp distances
(powers of two), quantiles of the absolute error and of the allowed error, the few worst elements, and a
coarse location map (the leaf reshaped to (first axis, rest) and cut into at most 16 x 16 blocks; each
block holds its worst ratio and its mismatch count).

``trajectories`` reads leaf paths that index steps (``[...]['epoch'][3]...``, ``['step_07']``,
``['sim_12']``) and returns, per group of steps, the worst ratio at each step: the divergence-over-time
curve of a trajectory check.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

RATIO_EDGES = [round(x, 2) for x in np.arange(-4.0, 4.01, 0.5)]  # log10(|err| / allowed)
GRID = 16
WORST = 5


def _q(x: np.ndarray) -> list[float]:
    if x.size == 0:
        return []
    return [float(v) for v in np.quantile(x, [0.5, 0.9, 0.99, 1.0])]


def _ratio_hist(r: np.ndarray) -> dict:
    pos = r[r > 0]
    lg = np.log10(pos)
    counts, _ = np.histogram(np.clip(lg, RATIO_EDGES[0], RATIO_EDGES[-1]), bins=RATIO_EDGES)
    return {"edges_log10": RATIO_EDGES, "counts": [int(c) for c in counts], "zero": int(r.size - pos.size)}


def _ulp_hist(u: np.ndarray) -> dict:
    """counts[0] = 0 ulp, counts[k] = ulp in [2^(k-1), 2^k), the last bin open-ended (>= 2^30)."""
    u = np.asarray(u, np.float64)
    k = np.where(u <= 0, 0, np.floor(np.log2(np.maximum(u, 1))) + 1).astype(np.int64)
    k = np.minimum(k, 31)
    counts = np.bincount(k, minlength=32)
    last = int(np.max(np.flatnonzero(counts))) if counts.any() else 0
    return {"counts": [int(c) for c in counts[:last + 1]],
            "labels": ["0"] + [f"{2 ** (i - 1)}" for i in range(1, last + 1)]}


def _blocks(n: int, g: int) -> np.ndarray:
    return np.linspace(0, n, min(g, n) + 1).astype(np.int64) if n else np.array([0, 0])


def _grid(score: np.ndarray, bad: np.ndarray, shape: tuple[int, ...]) -> dict:
    if len(shape) == 0:
        s2, b2 = score.reshape(1, 1), bad.reshape(1, 1)
    else:
        s2 = score.reshape(shape[0], -1)
        b2 = bad.reshape(shape[0], -1)
    ri, ci = _blocks(s2.shape[0], GRID), _blocks(s2.shape[1], GRID)
    if s2.size == 0:
        worst = np.zeros((len(ri) - 1, len(ci) - 1))
        count = np.zeros(worst.shape, np.int64)
    else:  # every block is non-empty: at most min(GRID, n) cuts of n
        worst = np.maximum.reduceat(np.maximum.reduceat(s2, ri[:-1], axis=0), ci[:-1], axis=1)
        count = np.add.reduceat(np.add.reduceat(b2.astype(np.int64), ri[:-1], axis=0), ci[:-1], axis=1)
    return {"shape": [int(s) for s in shape], "rows": [int(x) for x in ri], "cols": [int(x) for x in ci],
            "worst": [[_num(v) for v in row] for row in worst], "mismatches": count.tolist()}


def _num(v: float) -> float | str | None:
    v = float(v)
    if math.isnan(v):
        return None
    return float(f"{v:.4g}") if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def summarise(a: np.ndarray, e: np.ndarray, bad: np.ndarray, *, ratio: np.ndarray | None = None,
              abs_err: np.ndarray | None = None, allowed: np.ndarray | None = None,
              ulps: np.ndarray | None = None) -> dict:
    """The compact summary of one failing leaf (``bad``: the elementwise mismatch mask)."""
    shape = tuple(e.shape)
    bad = np.asarray(bad, bool).reshape(shape)
    score = np.asarray(ratio, np.float64) if ratio is not None else bad.astype(np.float64)
    score = np.where(np.isnan(score), np.inf, score).reshape(shape)
    out: dict[str, Any] = {"where": _grid(score, bad, shape)}
    if ratio is not None:
        out["ratio_hist"] = _ratio_hist(np.asarray(ratio, np.float64).ravel())
    if ulps is not None:
        out["ulp_hist"] = _ulp_hist(np.asarray(ulps).ravel())
    if abs_err is not None:
        out["abs_err_q"] = [_num(v) for v in _q(np.asarray(abs_err, np.float64).ravel())]
    if allowed is not None:
        out["allowed_q"] = [_num(v) for v in _q(np.broadcast_to(allowed, shape).astype(np.float64).ravel())]
    flat = score.ravel()
    order = np.argsort(-flat, kind="stable")[:WORST]
    out["worst"] = [{"index": [int(i) for i in np.unravel_index(int(k), shape)] if shape else [],
                     "actual": _num(np.asarray(a).ravel()[k]), "expected": _num(np.asarray(e).ravel()[k]),
                     "ratio": _num(flat[k]) if ratio is not None else None}
                    for k in order if bad.ravel()[k]]
    return out


# --------------------------------------------------------------------------------------------------
# trajectories
# --------------------------------------------------------------------------------------------------

_SEG = re.compile(r"\[('(?:[^'\\]|\\.)*'|\"[^\"]*\"|-?\d+)\]")
_STEP_KEY = re.compile(r"^(?:step|steps|epoch|epochs|sim|sims|simulation|simulations|iter|iteration|round|t|read)"
                       r"[_-]?(\d+)$", re.IGNORECASE)
_STEP_CONTAINER = re.compile(r"^(?:step|steps|epoch|epochs|sim|sims|simulation|simulations|iter|iterations|"
                             r"rounds?|trajectory|trace|history|t|reads?)$", re.IGNORECASE)


_TAP = re.compile(r"^([A-Za-z_][\w.\-]*)#(\d+)(.*)$")


def segments(path: str) -> list[str | int]:
    out: list[str | int] = []
    for m in _SEG.finditer(path):
        s = m.group(1)
        out.append(int(s) if s.lstrip("-").isdigit() else s[1:-1])
    return out


def step_of(path: str) -> tuple[str, int, str] | None:
    """(group, step, rest) for a path that indexes a step, else None.

    A step is a key like ``step_07`` / ``epoch3`` / ``sim_12``, or an integer index that follows a key naming
    a sequence of steps (``['epoch'][3]``, ``['steps'][3]``, ``['trace'][3]``); the last such segment wins.
    In a trace comparison (``tap.name#3['w']``) the group is the tap and the step its call index.
    """
    m = _TAP.match(path)
    if m:  # a trace leaf (harness.trace): <tap name>#<call index><leaf path>, the call index is the step
        return m.group(1), int(m.group(2)), m.group(3)
    segs = segments(path)
    best = None
    for i, s in enumerate(segs):
        if isinstance(s, str) and _STEP_KEY.match(s):
            best = (i, int(_STEP_KEY.match(s).group(1)))
        elif isinstance(s, int) and i > 0 and isinstance(segs[i - 1], str) and _STEP_CONTAINER.match(segs[i - 1]):
            best = (i, s)
    if best is None:
        return None
    i, step = best
    fmt = lambda ss: "".join(f"[{x}]" if isinstance(x, int) else f"[{x!r}]" for x in ss)
    return fmt(segs[:i]) or "<root>", step, fmt(segs[i + 1:])


def trajectories(leaves, min_steps: int = 3) -> dict[str, list[list]]:
    """{group: [[step, worst ratio, ok], ...]} for groups of at least ``min_steps`` steps.

    The ratio of a leaf is its ``tol_ratio`` (|err| / allowed, or ulp / max_ulp); a leaf compared exactly
    counts 0 when equal and ``inf`` when not. The worst over the leaves of a step is kept.
    """
    groups: dict[str, dict[int, list]] = {}
    for l in leaves:
        s = step_of(l.path)
        if s is None:
            continue
        g, step, _ = s
        r = l.tol_ratio if l.tol_ratio is not None else (0.0 if l.ok else math.inf)
        if r is not None and isinstance(r, float) and math.isnan(r):
            r = math.inf
        cur = groups.setdefault(g, {}).setdefault(step, [0.0, True])
        cur[0] = max(cur[0], float(r))
        cur[1] = cur[1] and l.ok
    return {g: [[k, _num(v[0]), v[1]] for k, v in sorted(steps.items())]
            for g, steps in groups.items() if len(steps) >= min_steps}
