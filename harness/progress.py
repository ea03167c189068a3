"""Before and around a run: what it will compare (a run that compares nothing is a usage error), the report
destination checked before anything runs, a fallback write when a run crashes after results exist, and a
progress line on a terminal."""

from __future__ import annotations

import difflib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from .base import Check, Implementation, ParityError
from .runner import INVARIANT, ORACLE, Runner

# -- what a run will compare ------------------------------------------------------------------------

def check_port_components(port: Implementation, checks: list[Check], spec: str,
                          builtin: dict[str, Implementation] | None = None) -> None:
    """A port whose component names neither a check of the catalogue nor a reference implementation uses is
    a usage error: list them with the closest known names (a typo like ``toy.sofmax`` would otherwise give
    `not_provided` everywhere)."""
    known = sorted({c for chk in checks for c in chk.components}
                   | {c for impl in (builtin or {}).values() for c in impl.components})
    unknown = [n for n in port.components if n not in known]
    if not unknown:
        return
    hints = []
    for n in unknown:
        close = difflib.get_close_matches(n, known, n=3, cutoff=0.75)
        hints.append(f"{n!r} (did you mean {' or '.join(repr(c) for c in close)}?)" if close else repr(n))
    raise ParityError(f"--port {spec!r}: {len(unknown)} component name(s) no check uses: {', '.join(hints)}; "
                      "`parity list` shows the catalogue's component names")


def plan(runner: Runner, checks: list[Check], *, parity: bool = True, controls: bool = True,
         seed: int = 0) -> tuple[int, int, dict[str, int]]:
    """(rows the run will produce, rows that will compare something, per port: its comparing rows), without
    running anything. A row compares something when both sides provide the check's components and one side
    is not the oracle alone (an oracle checked against its own invariants is not parity)."""
    rows = comparing = 0
    per_port = {n: 0 for n, i in runner.impls.items() if i.role == "port"}
    for check in checks:
        if parity:
            for pair in runner.pairs(check):
                rows += 1
                if runner.runnable(check, pair, seed) and any(s not in (ORACLE, INVARIANT) for s in pair):
                    comparing += 1
                    for s in pair:
                        if s in per_port:
                            per_port[s] += 1
        if controls:
            for ctl in check.controls:
                rows += 1
                comparing += runner.control_runnable(check, ctl)
    return rows, comparing, per_port


def nothing_compared(runner: Runner, checks: list[Check], notes: list[str], *, parity: bool, controls: bool,
                     seed: int) -> tuple[int, str | None]:
    """(rows planned, the usage error to raise or None)."""
    rows, comparing, per_port = plan(runner, checks, parity=parity, controls=controls, seed=seed)
    have = ", ".join(runner.impls) or "none"
    missing = "; ".join(notes)
    if comparing == 0:
        return rows, (f"nothing to compare: {len(checks)} check(s) selected, implementations available: {have}"
                      + (f" ({missing})" if missing else "")
                      + "; every row would be not_provided. Install jax or torch, add --port, or select other "
                        "checks with -k")
    idle = [n for n, k in per_port.items() if k == 0]
    if idle:
        names = sorted({c for c in runner.impls[idle[0]].components})
        return rows, (f"port {idle[0]!r} is compared on nothing: no selected check has all of its components "
                      f"there (it provides {', '.join(names[:8]) or 'no component'}"
                      f"{', ...' if len(names) > 8 else ''}); select checks it covers with -k")
    return rows, None


# -- report destination -----------------------------------------------------------------------------

def check_out_dir(out: str) -> Path:
    """The report directory, checked before anything runs: a directory (or creatable as one) we can write
    into. ParityError otherwise."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise ParityError(f"--out {out!r}: exists and is not a directory")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ParityError(f"--out {out!r}: {str(probe)!r} is not a directory")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".parity-write-test.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ParityError(f"--out {out!r}: cannot write in {str(probe)!r}: {e.strerror or e}") from None
    return p


def write_fallback(out: str | None, results: list, *, command: str, seed: int | None, notes, error: str) -> str:
    """After a crash: write what was computed (report.json, and report.md if it renders) to ``out``, else to
    a fresh directory under the system's temporary directory; return where."""
    from . import report

    notes = list(notes) + [f"run crashed, results are partial: {error}"]
    for target in ([out] if out else []) + [None]:
        try:
            d = Path(target) if target else Path(tempfile.mkdtemp(prefix=f"parity-report-{time.strftime('%Y%m%d-%H%M%S')}-"))
            try:
                report.write(d, results, command=command, seed=seed, notes=notes)
            except Exception:  # noqa: BLE001 - the markdown (or the environment) may be what crashed
                from .fixtures import atomic_write_bytes

                data = {"schema": report.SCHEMA, "command": command, "seed": seed, "notes": notes, "partial": True,
                        "results": [_safe_json(r) for r in results]}
                atomic_write_bytes(d / "report.json", (json.dumps(data, indent=1, default=str) + "\n").encode())
            return str(d)
        except Exception:  # noqa: BLE001 - a fallback directory that cannot be written: try the next one
            continue
    return "(nowhere: no writable directory)"


def _safe_json(r: Any) -> Any:
    try:
        return r.to_json()
    except Exception:  # noqa: BLE001 - a result that cannot serialise itself still leaves its name and status
        return {"check": getattr(r, "check", "?"), "pair": list(getattr(r, "pair", ())),
                "status": str(getattr(r, "status", "?"))}


# -- progress ---------------------------------------------------------------------------------------

class ProgressLine:
    """``[k/n] check  a vs b`` rewritten in place on a terminal (stderr), nothing elsewhere."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = (hasattr(self.stream, "isatty") and self.stream.isatty()) if enabled is None else enabled
        self.total, self.done, self._width = total, 0, 0

    def start(self, check: Check, pair: tuple[str, str]) -> None:
        if not self.enabled:
            return
        self.done += 1
        text = f"[{self.done}/{self.total}] {check.name}  {pair[0]} vs {pair[1]}"
        self.stream.write("\r" + text.ljust(self._width))
        self._width = len(text)
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
