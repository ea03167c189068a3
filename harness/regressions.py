"""Regression cases: counterexamples the fuzzer found, kept under ``fixtures/regressions/`` and replayed.

Layout: ``fixtures/regressions/<check>/<id>.npz`` (the case's arrays, ``allow_pickle=False``) and
``<id>.json``::

    {"schema": 2, "kind": "regression", "check", "id", "case": <tree>, "dtypes", "input_hash", "sha256",
     "pairs": [[a, b], ...] (the failing pairs), "blame": [...], "failing_components": [...],
     "message", "ports": ["module:attr", ...], "hypothesis": {"seed", "blob", "version"},
     "found": {"created", "command", "examples"}, "environment": {...}, "numerics": {...},
     "reproduce": "...", "record_sha256": sha256 of every other field (canonical JSON)}

``id`` is the first 12 hex digits of the case's content hash: the same counterexample found twice is one
file. ``replay`` runs the check on the stored case for the built-in implementations, the recorded ports
that still import, and any extra ports: every pair must pass (a fixed port keeps passing; a reintroduced
bug fails again). ``verify`` reports each file as ok, corrupted (hash or unreadable), orphaned (the check is
gone) or stale (the case no longer decodes / has no strategy-compatible structure).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from .base import ParityError, Result, Status
from .fixtures import (
    DEFAULT_DIR,
    FixtureStatus,
    _decode,
    _encode,
    _hash_arrays,
    atomic_write_bytes,
    environment,
    read_npz_checked,
    record_hash,
)
from .pairs import INVARIANT, replayable

SCHEMA = 2  # 2: record_sha256 protects the JSON side as it does for golden files
DEFAULT_ROOT = DEFAULT_DIR / "regressions"


def _encode_case(case: Any) -> tuple[dict, dict[str, np.ndarray], dict[str, str], str]:
    arrays: dict[str, np.ndarray] = {}
    dtypes: dict[str, str] = {}
    structure = _encode(case, "case", arrays, dtypes)
    return structure, arrays, dtypes, _hash_arrays(arrays, dtypes, structure)


def save(root: Path | str, check_name: str, case: Any, results: list[Result], *, ports=(), seed=None, blob=None,
         command: str = "", examples: int | None = None) -> Path:
    """Write one regression case; returns the JSON path (an existing identical case is kept as it is)."""
    from . import numerics

    structure, arrays, dtypes, h = _encode_case(case)
    cid = h[:12]
    d = Path(root) / check_name
    js, npz = d / f"{cid}.json", d / f"{cid}.npz"
    if js.exists() and npz.exists():
        return js
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    try:
        hv = importlib.metadata.version("hypothesis")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        hv = None
    record = {
        "schema": SCHEMA, "kind": "regression", "check": check_name, "id": cid,
        "pairs": [list(r.pair) for r in results], "statuses": [r.status.value for r in results],
        "blame": sorted({r.blame for r in results if r.blame}),
        "failing_components": sorted({c for r in results for c in r.failing_components}),
        "message": "\n".join(r.message for r in results)[:4000],
        "ports": list(ports), "hypothesis": {"seed": seed, "blob": blob, "version": hv},
        "found": {"created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "command": command,
                  "examples": examples},
        "environment": environment(), "numerics": numerics.pinned(),
        "case": structure, "dtypes": dtypes, "input_hash": h, "sha256": hashlib.sha256(data).hexdigest(),
        "reproduce": f"./run test parity_tests/test_regressions.py -k {cid}",
    }
    record["record_sha256"] = record_hash(record)
    atomic_write_bytes(npz, data)
    atomic_write_bytes(js, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return js


def files(root: Path | str = DEFAULT_ROOT) -> list[Path]:
    r = Path(root)
    return sorted(r.glob("*/*.json")) if r.exists() else []


def load(js: Path | str) -> tuple[dict, Any]:
    """(record, case) of one regression case; ParityError if it is unreadable or corrupted."""
    js = Path(js)
    try:
        record = json.loads(js.read_text())
    except (OSError, ValueError) as e:
        raise ParityError(f"regression case {js}: record unreadable ({e})") from e
    if not isinstance(record, dict) or record.get("kind") != "regression" or not isinstance(record.get("schema"), int):
        kind = record.get("kind") if isinstance(record, dict) else type(record).__name__
        raise ParityError(f"regression case {js}: not a regression record (kind {kind!r})")
    if record["schema"] != SCHEMA:
        raise ParityError(f"regression case {js}: schema {record['schema']}, this harness reads schema {SCHEMA}")
    if record.get("record_sha256") != record_hash(record):
        raise ParityError(f"regression case {js}: record_sha256 differs: the JSON was edited")
    for k, t in (("case", (dict, list, str, int, float, bool, type(None))), ("dtypes", dict), ("sha256", str),
                 ("check", str), ("pairs", list)):
        if k not in record or not isinstance(record[k], t):
            raise ParityError(f"regression case {js}: field {k!r} is missing or malformed")
    arrays = read_npz_checked(js.with_suffix(".npz"), record["sha256"], "regression case")
    case = _decode(record["case"], arrays, record.get("dtypes", {}))
    return record, case


def verify(checks, root: Path | str = DEFAULT_ROOT) -> list[FixtureStatus]:
    by_name = {c.name: c for c in checks}
    out = []
    rootp = Path(root)
    for js in files(rootp):
        rel = str(js.relative_to(rootp.parent.parent)) if rootp.parent.parent in js.parents else str(js)
        try:
            record, case = load(js)
        except ParityError as e:
            out.append(FixtureStatus(rel, "corrupted", str(e).split(": ", 2)[-1]))
            continue
        if record.get("check") not in by_name or record["check"] != js.parent.name:
            out.append(FixtureStatus(rel, "orphaned", f"no check named {record.get('check')!r}"))
            continue
        _, _, _, h = _encode_case(case)
        if h != record.get("input_hash"):
            out.append(FixtureStatus(rel, "stale", "the stored case no longer hashes to its record"))
            continue
        out.append(FixtureStatus(rel, "ok", "regression case"))
    return out


def replay(runner, check, record: dict, case: Any) -> list[Result]:
    """Run ``check`` on the stored case: the recorded failing pairs (where both sides are available now) and
    every pair of the built-in implementations and of the available ports."""
    have = set(runner.impls)
    pairs = [p for p in runner.pairs(check) if replayable(p)]
    for a, b in record.get("pairs", []):
        if a in have and (b in have or b == INVARIANT) and (a, b) not in pairs:
            pairs.append((a, b))
    return runner.run_case(check, case, pairs)


def failures(results: list[Result]) -> list[Result]:
    return [r for r in results if r.status in (Status.FAIL, Status.ERROR)]


def load_ports(record: dict) -> tuple[list, list[str]]:
    """The recorded ports that still import (and notes for those that do not)."""
    from .ports import load_port

    got, notes = [], []
    for spec in record.get("ports", []):
        try:
            got.append(load_port(spec))
        except ParityError as e:
            notes.append(f"recorded port {spec} not available: {e}")
    return got, notes


def check_case(path: Path | str, runner, checks) -> tuple[dict, list[Result], list[str]]:
    """Replay one saved case with ``runner``'s implementations plus the recorded ports that still import:
    (record, failing results, notes). What ``parity_tests/test_regressions.py`` runs for every case."""
    from .runner import Runner

    record, case = load(path)
    by_name = {c.name: c for c in checks}
    if record["check"] not in by_name:
        raise ParityError(f"regression case {path}: check {record['check']!r} no longer exists")
    ports, notes = load_ports(record)
    extra = {p.name: p for p in ports if p.name not in runner.impls}
    if extra:
        runner = Runner({**runner.impls, **extra})
    return record, failures(replay(runner, by_name[record["check"]], record, case)), notes
