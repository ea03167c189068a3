"""``parity fuzz``: hypothesis on every check that declares a strategy, keeping what it finds.

Each selected check is fuzzed in rounds (round-robin over the checks, ``batch`` examples per round, a fresh
hypothesis seed per round derived from ``--seed``), until the budget (``--minutes`` or ``--examples``) is
spent or every check has a counterexample. Every example goes through every pair of the check (with
``--port``: only the pairs that involve a port). A failing example is shrunk by hypothesis and saved as a
*regression case* (``harness.regressions``): the case (npz + JSON, no pickle), the check, the pair, the blame,
the message, the hypothesis seed and ``@reproduce_failure`` blob. ``./run test`` replays every saved case
forever after (``parity_tests/test_regressions.py``) and ``parity fixtures verify`` checks them.

A progress line (stderr) shows the elapsed time, the current check, the examples run and examples per
second, and the counterexamples found.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from .base import Check, Result, Status
from .pairs import replayable

DEFAULT_MINUTES = 1.0
BATCH = 50


class Divergence(Exception):
    """Raised inside the hypothesis test when an example makes a pair fail."""


@dataclasses.dataclass
class Found:
    check: str
    case: Any
    results: list[Result]
    seed: int
    blob: str | None
    examples: int
    path: str | None = None


@dataclasses.dataclass
class FuzzSummary:
    examples: int = 0
    seconds: float = 0.0
    per_check: dict = dataclasses.field(default_factory=dict)  # name -> {"examples", "seconds"}
    found: list[Found] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0


def fuzzable(checks: list[Check]) -> tuple[list[Check], list[str]]:
    """Checks with a strategy; statistical checks are left out (a KS verdict on a fuzzed case has no budget)."""
    ok, skipped = [], []
    for c in checks:
        if c.strategy is None:
            skipped.append(f"{c.name}: no strategy")
        elif not c.mode.fuzzable:
            skipped.append(f"{c.name}: {c.mode.kind}")
        else:
            ok.append(c)
    return ok, skipped


_BLOB = re.compile(r"@reproduce_failure\((.*?)\)")


def _blob(e: BaseException) -> str | None:
    text = "\n".join([str(e), *getattr(e, "__notes__", [])])
    m = _BLOB.search(text)
    return f"@reproduce_failure({m.group(1)})" if m else None


class Progress:
    """One line, rewritten in place on a terminal (a new line every few seconds otherwise)."""

    def __init__(self, stream: TextIO | None, every: float = 0.25):
        self.stream = stream
        self.every = every
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.last = 0.0
        self.width = 0

    def show(self, text: str, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.perf_counter()
        if not force and now - self.last < (self.every if self.tty else 5.0):
            return
        self.last = now
        if self.tty:
            pad = max(0, self.width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.stream is not None and self.tty:
            self.stream.write("\n")
            self.stream.flush()


class Fuzzer:
    def __init__(self, runner, checks: list[Check], *, ports: list[str] = (), seed: int = 0,
                 batch: int = BATCH, stream: TextIO | None = sys.stderr,
                 on_found: Callable[[Found], str | None] | None = None):
        self.runner = runner
        self.checks, self.skipped = fuzzable(checks)
        self.ports = list(ports)
        self.seed = seed
        self.batch = batch
        self.progress = Progress(stream)
        self.on_found = on_found
        self._strategies: dict[str, Any] = {}

    def pairs(self, check: Check) -> list[tuple[str, str]]:
        pairs = [p for p in self.runner.pairs(check) if replayable(p)]
        if self.ports:
            pairs = [p for p in pairs if p[0] in self.ports or p[1] in self.ports]
        return pairs

    def _round(self, check: Check, n: int, round_seed: int, summary: FuzzSummary, t_start: float,
               deadline: float | None) -> Found | None:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as hseed

        if check.name not in self._strategies:
            self._strategies[check.name] = check.strategy()
        pairs = self.pairs(check)
        state: dict = {"case": None, "bad": None}
        stats = summary.per_check.setdefault(check.name, {"examples": 0, "seconds": 0.0})

        def run(case):
            if deadline is not None and time.perf_counter() > deadline and state["bad"] is None:
                return  # out of time: let hypothesis finish the round quickly
            t0 = time.perf_counter()
            results = self.runner.run_case(check, case, pairs)
            summary.examples += 1
            stats["examples"] += 1
            stats["seconds"] += time.perf_counter() - t0
            el = time.perf_counter() - t_start
            self.progress.show(f"[fuzz] {el:6.1f}s  {check.name:<28} {summary.examples:>6} examples  "
                               f"{summary.examples / max(el, 1e-9):6.1f}/s  {len(summary.found)} counterexample(s)")
            bad = [r for r in results if r.status in (Status.FAIL, Status.ERROR)]
            if bad:
                state["case"], state["bad"] = case, bad
                raise Divergence("; ".join(f"{r.check} [{r.pair[0]} vs {r.pair[1]}] {r.status.value}" for r in bad))

        test = given(case=self._strategies[check.name])(run)
        test = settings(max_examples=n, deadline=None, database=None, derandomize=False, print_blob=True,
                        report_multiple_bugs=False, phases=(Phase.generate, Phase.shrink),
                        suppress_health_check=list(HealthCheck))(test)
        test = hseed(round_seed)(test)
        try:
            test()
        except Divergence as e:
            return Found(check.name, state["case"], state["bad"], round_seed, _blob(e), stats["examples"])
        return None

    def _round_size(self, check: Check, summary: FuzzSummary, deadline: float | None, examples: int | None) -> int:
        n = self.batch
        if examples is not None:
            n = min(n, examples - summary.examples)
        if deadline is not None:
            st = summary.per_check.get(check.name)
            if not st or not st["examples"]:
                n = min(n, 5)  # first round: measure the cost of an example
            else:
                per = st["seconds"] / st["examples"]
                n = min(n, int((deadline - time.perf_counter()) / max(per, 1e-6)) + 1)
        return max(1, n)

    def run(self, *, minutes: float | None = None, examples: int | None = None) -> FuzzSummary:
        if minutes is None and examples is None:
            minutes = DEFAULT_MINUTES
        summary = FuzzSummary(skipped=list(self.skipped))
        t_start = time.perf_counter()
        deadline = t_start + 60 * minutes if minutes is not None else None
        todo = [c for c in self.checks if self.pairs(c)]
        summary.skipped += [f"{c.name}: no pair to compare" for c in self.checks if not self.pairs(c)]
        r = 0
        while todo:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            if examples is not None and summary.examples >= examples:
                break
            for check in list(todo):
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                if examples is not None and summary.examples >= examples:
                    break
                n = self._round_size(check, summary, deadline, examples)
                found = self._round(check, n, self.seed * 1_000_003 + r, summary, t_start, deadline)
                if found is not None:
                    if self.on_found is not None:
                        found.path = self.on_found(found)
                    summary.found.append(found)
                    todo.remove(check)
                    self.progress.show(f"[fuzz] counterexample for {check.name}: "
                                       f"{'; '.join(f'{x.pair[0]} vs {x.pair[1]}' for x in found.results)}"
                                       + (f" -> {found.path}" if found.path else ""), force=True)
                    self.progress.done()
            r += 1
        summary.seconds = time.perf_counter() - t_start
        self.progress.show(f"[fuzz] {summary.seconds:6.1f}s  {summary.examples} examples  {summary.rate:.1f}/s  "
                           f"{len(summary.found)} counterexample(s)", force=True)
        self.progress.done()
        return summary
