"""Bounds that hold only under a named condition (a backend, a JAX release), stated next to their reason.

Where exactness cannot hold -- XLA:GPU's own transcendental functions and FMA contraction, or a JAX release
whose XLA:CPU evaluates a function in a shape-dependent way -- a check states the bound that does hold, for the
leaves it concerns, like a tolerance override: ``Bound(when, leaf, mode)``. ``bounded(*bounds)`` is a
``Check.compare`` function: it compares with the check's mode, then re-judges each failing leaf under the first
bound whose condition holds in this run; the leaf's message says which bound applied and why. Every other leaf
keeps the check's own mode (bit-exact stays bit-exact).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .base import Mode
from .compare import Comparison, compare, compare_leaf
from .convert import flatten


@dataclasses.dataclass(frozen=True)
class Bound:
    """``when()`` returns a short condition text ("XLA:GPU") when the bound applies in this run, else None.
    ``leaf``: the leaf path or a prefix of it (e.g. ``"['rng.uniform']['ranged']"``; "" for every leaf)."""

    when: Callable[[], str | None]
    leaf: str
    mode: Mode
    reason: str

    def __post_init__(self):
        if not self.reason.strip():
            raise ValueError("Bound without a reason: say why exactness cannot hold (one line)")


def on_gpu() -> str | None:
    from . import numerics

    return "GPU backend" if numerics.on_gpu() else None


def jax_semantics(*names: str) -> Callable[[], str | None]:
    def when() -> str | None:
        from reference.rng import semantics

        s = semantics.active()
        return f"JAX semantics {s.name} ({s.releases})" if s.name in names else None
    return when


def bounded(*bounds: Bound):
    """A ``Check.compare`` function applying ``bounds`` to the failing leaves they name."""

    def compare_with_bounds(actual, expected, mode) -> Comparison:
        comp = compare(actual, expected, mode)
        if comp.ok:
            return comp
        active = [(b, cond) for b in bounds if (cond := b.when())]
        if not active:
            return comp
        fa, fe = dict(flatten(actual)), dict(flatten(expected))
        leaves = []
        for leaf in comp.leaves:
            match = next(((b, c) for b, c in active if leaf.path.startswith(b.leaf)), None)
            if leaf.ok or match is None or leaf.path not in fa or leaf.path not in fe:
                leaves.append(leaf)
                continue
            b, cond = match
            again = compare_leaf(fa[leaf.path], fe[leaf.path], b.mode, leaf.path)
            note = f"[bound under {cond}: {b.reason}]"
            again.message = f"{again.message} {note}".strip() if again.message else note
            leaves.append(again)
        return Comparison(leaves)

    compare_with_bounds.bounds = bounds
    return compare_with_bounds
