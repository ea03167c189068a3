"""The golden-file store: round trip, stale, corrupted, orphaned and missing files; no pickle on load;
and the project's own fixtures/ are current."""

from __future__ import annotations

import json

import numpy as np
import pytest

from checks import toy
from harness import catalogue, ports
from harness.base import Check, Control, Exact, ParityError
from harness.fixtures import Store, flatten_outputs, record_hash
from harness.runner import GOLDEN, Runner


@pytest.fixture(scope="module")
def runner():
    impls, _ = ports.builtin()
    return Runner(impls)


def _toy(name="toy.math.softmax"):
    return next(c for c in toy.CHECKS if c.name == name)


def test_round_trip_and_golden_pair(tmp_path, runner):
    store = Store(tmp_path)
    check = _toy()
    store.write(check, 0, runner.impls["jax"], runner)
    record = json.loads((tmp_path / check.name / "seed0.json").read_text())
    for k in ("numpy", "jax", "jaxlib", "torch", "backend"):
        assert k in record["environment"]
    assert record["source"] == "jax" and record["seed"] == 0 and record["tolerance"]["mode"] == "tolerance"
    case, expected = store.load(check, 0)
    np.testing.assert_array_equal(case["logits"], check.inputs(0)["logits"])
    assert set(expected) == {"['toy.softmax']", "['toy.cross_entropy']"}
    assert [s.status for s in store.verify([check])] == ["ok"]
    golden_runner = Runner(runner.impls, golden=store, golden_all=True)
    rows = [r for r in golden_runner.run_check(check, 0) if r.pair[1] == GOLDEN]
    assert rows and all(r.status.value == "pass" for r in rows), [r.message for r in rows]


def test_corrupted_stale_orphaned_missing(tmp_path, runner):
    store = Store(tmp_path)
    a, b = _toy(), _toy("toy.math.argmax")
    store.write(a, 0, runner.impls["jax"], runner)
    store.write(b, 0, runner.impls["jax"], runner)
    # corrupt one byte of a's arrays
    npz = tmp_path / a.name / "seed0.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    # make b stale: its recorded numpy version differs
    js = tmp_path / b.name / "seed0.json"
    rec = json.loads(js.read_text())
    rec["environment"]["numpy"] = "0.0.1"
    rec["record_sha256"] = record_hash(rec)  # a consistent record from another environment: stale, not corrupted
    js.write_text(json.dumps(rec))
    # an orphan
    (tmp_path / "old.check.gone").mkdir()
    (tmp_path / "old.check.gone" / "seed0.json").write_text("{}")
    other = Check(name="toy.math.other", components=("toy.argmax",), inputs=b.inputs, run=b.run, mode=Exact(),
                  controls=(Control("x", "x", {}),))
    status = {s.path.split("/")[-2]: s for s in store.verify([a, b, other])}
    assert status[a.name].status == "corrupted"
    assert status[b.name].status == "stale" and "numpy 0.0.1" in status[b.name].detail
    assert status["old.check.gone"].status == "orphaned"
    assert status["toy.math.other"].status == "missing"
    with pytest.raises(ParityError, match="corrupted"):
        store.load(a, 0)


def test_inputs_changed_is_stale(tmp_path, runner):
    store = Store(tmp_path)
    check = _toy("toy.math.argmax")
    store.write(check, 0, runner.impls["jax"], runner)
    changed = Check(name=check.name, components=check.components, inputs=lambda s: check.inputs(s + 1),
                    run=check.run, mode=check.mode, controls=check.controls)
    [s] = store.verify([changed])
    assert s.status == "stale" and "different case" in s.detail


def test_pickled_npz_is_refused(tmp_path, runner):
    store = Store(tmp_path)
    check = _toy("toy.math.argmax")
    store.write(check, 0, runner.impls["jax"], runner)
    npz = tmp_path / check.name / "seed0.npz"
    import hashlib
    import io

    buf = io.BytesIO()
    np.savez(buf, **{"case['values']": np.array([{"evil": 1}], dtype=object)})
    npz.write_bytes(buf.getvalue())
    js = tmp_path / check.name / "seed0.json"
    rec = json.loads(js.read_text())
    rec["sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()  # even with matching hashes
    rec["record_sha256"] = record_hash(rec)
    js.write_text(json.dumps(rec))
    with pytest.raises(ParityError, match="unreadable npz"):
        store.load(check, 0)


def test_flatten_outputs_paths():
    assert list(flatten_outputs({"a": [1, (2, 3)], "b": 4})) == ["['a'][0]", "['a'][1][0]", "['a'][1][1]", "['b']"]


def test_project_fixtures_are_current():
    """fixtures/ matches the catalogue: nothing stale, corrupted, orphaned or missing.

    On failure: `./run parity fixtures verify` shows the files; `./run parity fixtures regen` rewrites them
    (review the diff: a changed golden file is a changed expectation)."""
    checks, _ = catalogue.load()
    bad = [s for s in Store().verify(checks) if s.status != "ok"]
    assert not bad, "PARITY: golden files out of date:\n" + "\n".join(f"  {s.status}: {s.path} {s.detail}" for s in bad)
