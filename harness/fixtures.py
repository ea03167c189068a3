"""Golden files: a check's case and the expected outputs, with provenance.

Layout: ``fixtures/<check name>/seed<N>.npz`` (arrays, loaded with ``allow_pickle=False``) and
``fixtures/<check name>/seed<N>.json`` (provenance and structure):

    {"schema": 1, "check": ..., "seed": ..., "source": "jax", "environment": {numpy, jax, jaxlib, torch,
     backend, ...}, "numerics": {...}, "tolerance": {...}, "dtypes": {path: dtype}, "case": <tree>,
     "expected_paths": [...], "input_hash": sha256 of the regenerated case, "sha256": sha256 of the npz}

``verify`` reports each file as ok, stale (provenance or inputs differ from what the checks would write
now), corrupted (hash differs or unreadable), orphaned (no check uses it), or missing.
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
from .convert import flatten, is_leaf_array, to_numpy
from .tolerance import describe

SCHEMA = 1
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
        arrays[path] = np.array(a, order="C", copy=True)
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
            a = _restore_dtype(arrays[node["$array"]], dtypes.get(node["$array"], ""))
            return a[()] if node.get("scalar") else a
    return node


def _restore_dtype(a: np.ndarray, name: str) -> np.ndarray:
    if name == "bfloat16":
        import ml_dtypes

        return a.astype(ml_dtypes.bfloat16)
    return a


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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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
            arrays["expected" + path] = np.array(a, order="C", copy=True)
            dtypes["expected" + path] = d
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        data = buf.getvalue()
        from . import numerics

        record = {
            "schema": SCHEMA, "check": check.name, "seed": seed, "source": source.name,
            "components": list(check.components), "environment": environment(), "numerics": numerics.pinned(),
            "tolerance": describe(check.mode), "dtypes": dtypes, "case": structure,
            "expected_paths": list(expected), "input_hash": _hash_arrays(
                {k: v for k, v in arrays.items() if k.startswith("case")}, dtypes, structure),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        npz, js = self.paths(check.name, seed)
        atomic_write_bytes(npz, data)
        atomic_write_bytes(js, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
        return npz

    # -- read ----------------------------------------------------------------------------------------
    def _read(self, npz: Path, js: Path) -> tuple[dict, dict[str, np.ndarray]]:
        try:
            record = json.loads(js.read_text())
        except (OSError, ValueError) as e:
            raise ParityError(f"fixture {js}: provenance record unreadable: {e}") from e
        try:
            data = npz.read_bytes()
        except OSError as e:
            raise ParityError(f"fixture {npz}: {e}") from e
        if hashlib.sha256(data).hexdigest() != record.get("sha256"):
            raise ParityError(f"fixture {npz}: corrupted (sha256 differs from its provenance record)")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:  # noqa: BLE001
            raise ParityError(f"fixture {npz}: unreadable npz: {type(e).__name__}: {e}") from e
        return record, arrays

    def load(self, check: Check, seed: int) -> tuple[Any, dict[str, np.ndarray]] | tuple[None, None]:
        """(case, {path: expected}) or (None, None) if there is no golden file."""
        npz, js = self.paths(check.name, seed)
        if not npz.exists() and not js.exists():
            return None, None
        record, arrays = self._read(npz, js)
        dtypes = record.get("dtypes", {})
        case = _decode(record["case"], arrays, dtypes)
        expected = {p: _restore_dtype(arrays["expected" + p], dtypes.get("expected" + p, ""))
                    for p in record["expected_paths"]}
        return case, expected

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
                    out.append(FixtureStatus(rel, "corrupted", str(e).split(": ", 1)[-1]))
                    continue
                problems = []
                for k in ("numpy", "jax", "jaxlib", "torch", "backend"):
                    if record.get("environment", {}).get(k) != env_now.get(k):
                        problems.append(f"{k} {record.get('environment', {}).get(k)} -> {env_now.get(k)}")
                if record.get("tolerance") != describe(check.mode):
                    problems.append("tolerance changed")
                try:
                    a2: dict[str, np.ndarray] = {}
                    d2: dict[str, str] = {}
                    s2 = _encode(check.inputs(record["seed"]), "case", a2, d2)
                    if _hash_arrays(a2, d2, s2) != record.get("input_hash"):
                        problems.append("inputs(seed) now generates a different case")
                except Exception as e:  # noqa: BLE001
                    problems.append(f"inputs(seed) raised {type(e).__name__}: {e}")
                out.append(FixtureStatus(rel, "stale" if problems else "ok", "; ".join(problems)))
        for c in checks:
            if not c.fixture or c.kind != "pair":
                continue
            for s in seeds:
                _, js = self.paths(c.name, s)
                if js not in seen:
                    out.append(FixtureStatus(str(js.relative_to(self.root.parent)) if self.root.parent in js.parents
                                             else str(js), "missing", "run `parity fixtures regen`"))
        return out
