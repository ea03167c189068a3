"""Golden files: a check's case and the expected outputs, with provenance.

Layout: ``fixtures/<check name>/seed<N>.npz`` (arrays, loaded with ``allow_pickle=False``) and
``fixtures/<check name>/seed<N>.json`` (provenance and structure):

    {"schema": 2, "check": ..., "seed": ..., "source": "jax", "environment": {numpy, jax, jaxlib, torch,
     backend, ...}, "numerics": {...}, "tolerance": {...}, "dtypes": {path: dtype}, "case": <tree>,
     "expected_paths": [...], "input_hash": sha256 of the regenerated case, "sha256": sha256 of the npz,
     "record_sha256": sha256 of this record's other fields (canonical JSON)}

The JSON side is protected like the arrays: its structure is validated and ``record_sha256`` covers every
other field (an edited case value or a deleted key is ``corrupted``, never silently used). bfloat16 leaves
are stored as their uint16 bit patterns (the dtype is in ``dtypes``), so reading them needs no ``ml_dtypes``.

``verify`` reports each file as ok, stale (provenance or inputs differ from what the checks would write
now), corrupted (hash differs, structure invalid or unreadable), orphaned (no check uses it), or missing.
Provenance fields of a framework that is not installed (jax / jaxlib / backend for a torch-only user, torch
for a JAX-only one) cannot be compared: they are skipped and the detail says so.
A torch-only user needs neither JAX nor the generator: the case is stored, and the expected outputs are
compared by leaf path (``flatten_outputs``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .base import Check, Implementation, ParityError
from .convert import bfloat16_bits, bfloat16_from_bits, flatten, is_leaf_array, to_numpy

SCHEMA = 2


def _default_dir() -> Path:
    """The checkout's fixtures/ (editable install, PYTHONPATH), else the golden files shipped in the wheel
    (package data ``harness.golden``, see setup.py)."""
    here = Path(__file__).resolve().parent
    tree = here.parent / "fixtures"
    return tree if tree.is_dir() or not (here / "golden").is_dir() else here / "golden"


DEFAULT_DIR = _default_dir()


# -- structure encoding (JSON, no pickle) -----------------------------------------------------------

def _encode(tree: Any, path: str, arrays: dict[str, np.ndarray], dtypes: dict[str, str]) -> Any:
    if isinstance(tree, dict):
        for k in tree:
            if not isinstance(k, str):
                raise ParityError(f"case key {k!r} at {path or '<root>'} is not a string: cases must be JSON-like")
        return {"$dict": {k: _encode(v, f"{path}[{k!r}]", arrays, dtypes) for k, v in tree.items()}}
    if isinstance(tree, (list, tuple)) and not hasattr(type(tree), "_fields"):
        tag = "$list" if isinstance(tree, list) else "$tuple"
        return {tag: [_encode(v, f"{path}[{i}]", arrays, dtypes) for i, v in enumerate(tree)]}
    if isinstance(tree, (np.ndarray, np.generic)) or is_leaf_array(tree):
        a, d = to_numpy(tree)
        arrays[path] = _stored(a, d)
        dtypes[path] = d
        return {"$array": path, "scalar": isinstance(tree, np.generic)}
    if isinstance(tree, bool) or tree is None or isinstance(tree, (int, str)):
        return tree
    if isinstance(tree, float):
        return tree if math.isfinite(tree) else {"$float": repr(tree)}
    raise ParityError(f"case leaf at {path or '<root>'} has type {type(tree).__name__}: cases must be "
                      "dicts / lists / tuples of NumPy arrays and Python scalars")


def _decode(node: Any, arrays: Any, dtypes: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if "$dict" in node:
            return {k: _decode(v, arrays, dtypes) for k, v in node["$dict"].items()}
        if "$list" in node:
            return [_decode(v, arrays, dtypes) for v in node["$list"]]
        if "$tuple" in node:
            return tuple(_decode(v, arrays, dtypes) for v in node["$tuple"])
        if "$float" in node:
            return float(node["$float"])
        if "$array" in node:
            if node["$array"] not in arrays:
                raise ParityError(f"case array {node['$array']!r} is not in the npz")
            a = _restore_dtype(arrays[node["$array"]], dtypes.get(node["$array"], ""))
            return a[()] if node.get("scalar") else a
        raise ParityError(f"case node with keys {sorted(node)} is not a $dict / $list / $tuple / $float / $array")
    return node


def _restore_dtype(a: np.ndarray, name: str) -> np.ndarray:
    if name == "bfloat16":
        if a.dtype != np.uint16:
            raise ParityError(f"bfloat16 leaf stored as {a.dtype}, expected its uint16 bit patterns")
        return bfloat16_from_bits(a)
    return a


def _stored(a: np.ndarray, name: str) -> np.ndarray:
    """The array as the npz holds it: bfloat16 as uint16 bit patterns, everything else as is."""
    return bfloat16_bits(a) if name == "bfloat16" else np.array(a, order="C", copy=True)


def record_hash(record: dict) -> str:
    """sha256 of every field of a provenance record but ``record_sha256`` (canonical JSON)."""
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()


_FIELDS: dict[str, type | tuple] = {
    "schema": int, "check": str, "seed": int, "source": str, "components": list, "environment": dict,
    "numerics": dict, "tolerance": dict, "dtypes": dict, "case": (dict, list, str, int, float, bool, type(None)),
    "expected_paths": list, "input_hash": str, "sha256": str, "record_sha256": str,
}


def read_npz_checked(npz: Path, sha256: str, what: str) -> dict[str, np.ndarray]:
    """The arrays of ``npz`` (``allow_pickle=False``) after its bytes were checked against ``sha256``;
    ParityError ``<what> <file>: corrupted (...)`` otherwise."""
    try:
        data = npz.read_bytes()
    except OSError as e:
        raise ParityError(f"{what} {npz}: corrupted ({e})") from e
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ParityError(f"{what} {npz}: corrupted (sha256 differs from its provenance record)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:
        raise ParityError(f"{what} {npz}: corrupted (unreadable npz: {type(e).__name__}: {e})") from e


def validate_record(record: Any, check_name: str, seed: int) -> dict:
    """The record if its structure is that of a golden file of ``check_name`` / ``seed``, else ParityError
    naming what is wrong (the caller reports the file as corrupted)."""
    if not isinstance(record, dict):
        raise ParityError(f"provenance record is a JSON {type(record).__name__}, expected an object")
    if record.get("schema") != SCHEMA:
        raise ParityError(f"schema {record.get('schema')!r}, this harness reads schema {SCHEMA} "
                          "(`parity fixtures regen` rewrites it)")
    for k, t in _FIELDS.items():
        if k not in record:
            raise ParityError(f"field {k!r} is missing")
        if not isinstance(record[k], t) or (t is int and isinstance(record[k], bool)):
            raise ParityError(f"field {k!r} is a {type(record[k]).__name__}")
    if record["record_sha256"] != record_hash(record):
        raise ParityError("record_sha256 differs: the JSON (case, provenance or paths) was edited")
    if record["check"] != check_name or record["seed"] != seed:
        raise ParityError(f"record is for {record['check']!r} seed {record['seed']}, its file name says "
                          f"{check_name!r} seed {seed}")
    if not all(isinstance(p, str) for p in record["expected_paths"]):
        raise ParityError("expected_paths holds a non-string")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in record["dtypes"].items()):
        raise ParityError("dtypes must map strings to strings")
    return record


def flatten_outputs(outputs: Any) -> dict[str, Any]:
    """Outputs as {leaf path: leaf} -- the form golden expectations are stored and compared in."""
    return {path or "<root>": leaf for path, leaf in flatten(outputs)}


def _hash_arrays(arrays: dict[str, np.ndarray], dtypes: dict[str, str], structure: Any) -> str:
    h = hashlib.sha256(json.dumps(structure, sort_keys=True).encode())
    for k in sorted(arrays):
        a = arrays[k]
        h.update(k.encode())
        h.update(dtypes.get(k, str(a.dtype)).encode())
        h.update(str(a.shape).encode())
        h.update(np.array(a, order="C", copy=True).tobytes())
    return h.hexdigest()


def environment() -> dict:
    from .report import environment as env

    e = env()
    return {k: e[k] for k in ("python", "numpy", "jax", "jaxlib", "torch", "backend") if k in e}


def _umask() -> int:
    try:  # Linux: read it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same directory, then rename), with the
    mode a plain ``open(path, "w")`` would give (0666 less the umask), not the temporary file's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclasses.dataclass
class FixtureStatus:
    path: str
    status: str  # ok, stale, corrupted, orphaned, missing
    detail: str = ""


class Store:
    def __init__(self, root: Path | str = DEFAULT_DIR):
        self.root = Path(root)

    def paths(self, check_name: str, seed: int) -> tuple[Path, Path]:
        d = self.root / check_name
        return d / f"seed{seed}.npz", d / f"seed{seed}.json"

    # -- write ---------------------------------------------------------------------------------------
    def write(self, check: Check, seed: int, source: Implementation, runner) -> Path:
        case = check.inputs(seed)
        out = runner.outputs(check, source, case, ("fixture", seed))
        if out.status != "ok":
            raise ParityError(f"fixture {check.name} seed {seed}: {source.name} gave {out.status}: {out.message}")
        arrays: dict[str, np.ndarray] = {}
        dtypes: dict[str, str] = {}
        structure = _encode(case, "case", arrays, dtypes)
        expected = flatten_outputs(out.value)
        for path, leaf in expected.items():
            a, d = to_numpy(leaf)
            arrays["expected" + path] = _stored(a, d)
            dtypes["expected" + path] = d
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        data = buf.getvalue()
        from . import numerics

        record = {
            "schema": SCHEMA, "check": check.name, "seed": seed, "source": source.name,
            "components": list(check.components), "environment": environment(), "numerics": numerics.pinned(),
            "tolerance": check.mode.describe(), "dtypes": dtypes, "case": structure,
            "expected_paths": list(expected), "input_hash": _hash_arrays(
                {k: v for k, v in arrays.items() if k.startswith("case")}, dtypes, structure),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        record["record_sha256"] = record_hash(record)
        npz, js = self.paths(check.name, seed)
        atomic_write_bytes(npz, data)
        atomic_write_bytes(js, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
        return npz

    # -- read ---------------------------------------------------------------------------------------
    def exists(self, check: Check, seed: int) -> bool:
        npz, js = self.paths(check.name, seed)
        return npz.exists() or js.exists()

    def _read(self, npz: Path, js: Path) -> tuple[dict, dict[str, np.ndarray]]:
        """(record, arrays) of a golden file, its JSON structure and both hashes checked; ParityError
        ``fixture <file>: corrupted (...)`` otherwise."""
        try:
            record = json.loads(js.read_text())
        except (OSError, ValueError) as e:
            raise ParityError(f"fixture {js}: corrupted (provenance record unreadable: {e})") from e
        try:
            seed = int(js.stem.removeprefix("seed"))
        except ValueError:
            seed = -1
        try:
            validate_record(record, js.parent.name, seed)
        except ParityError as e:
            raise ParityError(f"fixture {js}: corrupted ({str(e).split(': ', 1)[-1]})") from None
        arrays = read_npz_checked(npz, record["sha256"], "fixture")
        lost = [p for p in record["expected_paths"] if "expected" + p not in arrays]
        if lost:
            raise ParityError(f"fixture {npz}: corrupted (expected leaf {lost[0]!r} is not in the npz)")
        return record, arrays

    def load(self, check: Check, seed: int) -> tuple[Any, dict[str, np.ndarray]] | tuple[None, None]:
        """(case, {path: expected}) or (None, None) if there is no golden file."""
        npz, js = self.paths(check.name, seed)
        if not npz.exists() and not js.exists():
            return None, None
        record, arrays = self._read(npz, js)
        dtypes = record["dtypes"]
        try:
            case = _decode(record["case"], arrays, dtypes)
            expected = {p: _restore_dtype(arrays["expected" + p], dtypes.get("expected" + p, ""))
                        for p in record["expected_paths"]}
        except ParityError as e:
            raise ParityError(f"fixture {js}: corrupted ({str(e).split(': ', 1)[-1]})") from None
        return case, expected

    def output_dtypes(self, check: Check, seed: int = 0) -> dict[str, str] | None:
        """{output leaf path: dtype} recorded in a golden file (JSON only, no arrays read), or None."""
        _, js = self.paths(check.name, seed)
        try:
            record = json.loads(js.read_text())
            dtypes = record["dtypes"]
            return {p: dtypes["expected" + p] for p in record["expected_paths"] if "expected" + p in dtypes}
        except Exception:  # noqa: BLE001 - no usable record: no recorded dtypes
            return None

    # -- verify --------------------------------------------------------------------------------------
    def verify(self, checks: list[Check], seeds=(0,)) -> list[FixtureStatus]:
        by_name = {c.name: c for c in checks}
        out: list[FixtureStatus] = []
        env_now = environment()
        seen: set[Path] = set()
        if self.root.exists():
            for js in sorted(self.root.glob("*/seed*.json")):
                npz = js.with_suffix(".npz")
                seen.add(js)
                name = js.parent.name
                rel = str(js.relative_to(self.root.parent)) if self.root.parent in js.parents else str(js)
                check = by_name.get(name)
                if check is None or not check.fixture:
                    out.append(FixtureStatus(rel, "orphaned", f"no check named {name!r} keeps golden files"))
                    continue
                try:
                    record, arrays = self._read(npz, js)
                except ParityError as e:
                    detail = str(e).split(": ", 1)[-1]
                    old_format = "this harness reads schema" in detail and "schema" in json.loads(js.read_text())
                    if old_format:
                        detail = detail.split("corrupted (", 1)[-1][:-1]
                    out.append(FixtureStatus(rel, "stale" if old_format else "corrupted", detail))
                    continue
                problems = []
                skipped = []
                for k in ("numpy", "jax", "jaxlib", "torch", "backend"):
                    if env_now.get(k) is None and record["environment"].get(k) is not None:
                        skipped.append(k)  # that framework is not installed here: cannot be compared
                    elif record["environment"].get(k) != env_now.get(k):
                        problems.append(f"{k} {record['environment'].get(k)} -> {env_now.get(k)}")
                if record.get("tolerance") != check.mode.describe():
                    problems.append("tolerance changed")
                try:
                    a2: dict[str, np.ndarray] = {}
                    d2: dict[str, str] = {}
                    s2 = _encode(check.inputs(record["seed"]), "case", a2, d2)
                    if _hash_arrays(a2, d2, s2) != record.get("input_hash"):
                        problems.append("inputs(seed) now generates a different case")
                except Exception as e:  # noqa: BLE001 - any failure of inputs(seed) is one problem line of `fixtures verify`
                    problems.append(f"inputs(seed) raised {type(e).__name__}: {e}")
                if skipped:
                    problems.append(f"fields not compared (framework not installed here): {', '.join(skipped)}")
                stale = len(problems) > (1 if skipped else 0)
                out.append(FixtureStatus(rel, "stale" if stale else "ok", "; ".join(problems)))
        for c in checks:
            if not c.fixture or c.kind != "pair":
                continue
            for s in seeds:
                _, js = self.paths(c.name, s)
                if js not in seen:
                    out.append(FixtureStatus(str(js.relative_to(self.root.parent)) if self.root.parent in js.parents
                                             else str(js), "missing", "run `parity fixtures regen`"))
        return out
