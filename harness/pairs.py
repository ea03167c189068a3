"""The sides of a pair that are not implementations: ``Invariant`` (a property check compares an implementation
with itself: its ``(actual, expected)``) and ``Golden`` (the golden file of the check's case).

Each is a ``str`` whose value is its spelling in the report's JSON (``"invariant"``, ``"golden"``), so a pair
stays a tuple of names and reports and regression files stay byte-compatible; what the harness does with such
a side (its label in a report, whether explicit cases can be replayed on it) is said here, once.
"""

from __future__ import annotations

from typing import ClassVar


class Special(str):
    """A pair's second side that is not an implementation; equal to (and serialised as) its spelling."""

    spelling: ClassVar[str] = ""
    replayable: ClassVar[bool] = True  # explicit cases (hypothesis examples, regression replays) run on it

    def __new__(cls, *_):  # (pickle passes the spelling back: --jobs workers send their rows)
        return super().__new__(cls, cls.spelling)

    @property
    def name(self) -> str:
        return str.__str__(self)

    def label(self, first: str) -> str:
        """The pair ``(first, self)`` as a report names it."""
        return f"{first} vs {self.name}"


class Invariant(Special):
    """A property check: the implementation alone, its ``(actual, expected)`` compared."""

    spelling = "invariant"

    def label(self, first: str) -> str:
        return f"{first} (invariant)"


class Golden(Special):
    """The golden file of the check's case (its recorded inputs and outputs): seeded cases only."""

    spelling = "golden"
    replayable = False


INVARIANT = Invariant()
GOLDEN = Golden()
SIDES: dict[str, Special] = {s.name: s for s in (INVARIANT, GOLDEN)}


def side(name: str) -> Special | None:
    """The special side spelt ``name`` (a report's JSON gives plain strings), or None for an implementation."""
    return SIDES.get(name)


def pair_label(pair) -> str:
    """``"jax vs numpy"``, ``"torch (invariant)"``: a pair as every report names it."""
    a, b = pair
    s = side(b)
    return s.label(a) if s is not None else f"{a} vs {b}"


def replayable(pair) -> bool:
    """Whether an explicit case (not a seed) can run on this pair."""
    s = side(pair[1])
    return s is None or s.replayable
