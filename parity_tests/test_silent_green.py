"""Issue 8, "nothing silently green": every way a run could pass without having checked, or give a verdict
that names the wrong thing, planted and asserted (exit code, message, report content). Item numbers are
the issue's."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import stat
import subprocess
import sys

import numpy as np
import pytest

from checks import toy
from harness import ports, report
from harness.base import Check, Control, Status, Tolerance
from harness.cli import main
from harness.compare import compare, compare_leaf
from harness.runner import Runner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SP = "parity_tests.silent_ports"
SOFTMAX = next(c for c in toy.CHECKS if c.name == "toy.math.softmax")
ARGMAX = next(c for c in toy.CHECKS if c.name == "toy.math.argmax")


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def impls():
    return ports.builtin()[0]


def run(capsys, *argv):
    rc = main(list(argv))
    return rc, capsys.readouterr()


def _rows(path):
    return {(r["check"], tuple(r["pair"])): r for r in json.loads((path / "report.json").read_text())["results"]}


# -- 1. sys.exit / KeyboardInterrupt inside a port ----------------------------------------------------

def test_1_component_calling_sys_exit_is_an_error_row_naming_it(tmp_path, capsys):
    rc, out = run(capsys, "report", "--out", str(tmp_path), "-k", "toy", "--no-controls", "--port", f"{SP}:EXITING")
    assert rc == 1
    row = _rows(tmp_path)[("toy.math.argmax", ("exitingport", "numpy"))]
    assert row["status"] == "error" and row["failing_components"] == ["toy.argmax"]
    assert "SystemExit(0)" in row["message"] and "component toy.argmax" in row["message"]
    assert _rows(tmp_path)[("toy.math.softmax", ("exitingport", "numpy"))]["status"] == "pass"  # the run went on


def test_1_port_module_exiting_at_import_is_a_usage_error(capsys):
    rc, out = run(capsys, "check", "-k", "toy", "--port", "parity_tests.exit_on_import:PORT")
    assert rc == 2 and "called sys.exit(0) while importing" in out.err


def test_1_keyboard_interrupt_in_a_port_stops_cleanly_naming_the_component(tmp_path, capsys):
    rc, out = run(capsys, "report", "--out", str(tmp_path), "-k", "toy", "--no-controls", "--port",
                  f"{SP}:INTERRUPTING")
    assert rc == 2
    assert "interrupted: KeyboardInterrupt (in interruptport, component toy.argmax, check toy.math.argmax)" in out.err
    rep = json.loads((tmp_path / "report.json").read_text())  # what ran before is kept
    assert rep["results"] and any("partial" in n for n in rep["notes"])


# -- 2. component names no check uses -----------------------------------------------------------------

def test_2_unknown_component_names_are_a_usage_error_with_the_closest(capsys):
    rc, out = run(capsys, "check", "-k", "toy", "--port", f"{SP}:TYPO")
    assert rc == 2
    assert "'toy.sofmax' (did you mean 'toy.softmax'?)" in out.err and len(out.err.strip().splitlines()) == 1


# -- 3. a run that compares nothing -------------------------------------------------------------------

def test_3_numpy_alone_compares_nothing(capsys):
    rc, out = run(capsys, "check", "-k", "toy", "--impl", "numpy")
    assert rc == 2 and "nothing to compare" in out.err and "not_provided" in out.err
    assert "pass" not in out.out


def test_3_a_port_compared_on_nothing(capsys):
    rc, out = run(capsys, "check", "-k", "argmax", "--port", f"{SP}:SOFTMAX_ONLY")
    assert rc == 2 and "port 'softonly' is compared on nothing" in out.err


def test_3_a_port_covering_a_subset_is_fine(capsys):
    rc, out = run(capsys, "check", "-k", "toy", "--no-controls", "--port", f"{SP}:SOFTMAX_ONLY")
    assert rc == 0 and "not_provided  toy.math.argmax  softonly vs numpy" in out.out


_NO_FRAMEWORKS = ("import sys\n"
                  "for m in ('jax', 'jaxlib', 'flax', 'optax', 'mctx', 'chex', 'torch', 'ml_dtypes'):\n"
                  "    sys.modules[m] = None\n"
                  "from harness.cli import main\n"
                  "sys.exit(main(sys.argv[1:]))\n")


def test_3_no_framework_installed_and_impl_not_installed():
    r = subprocess.run([sys.executable, "-c", _NO_FRAMEWORKS, "check", "-k", "toy"], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 2 and "nothing to compare" in r.stderr and "jax: not installed" in r.stderr
    r = subprocess.run([sys.executable, "-c", _NO_FRAMEWORKS, "check", "-k", "toy", "--impl", "numpy,jax"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--impl numpy,jax: jax not installed" in r.stderr


# -- 4. list -k matching nothing ----------------------------------------------------------------------

def test_4_list_matching_nothing_exit_2(capsys):
    rc, out = run(capsys, "list", "-k", "nosuch")
    assert rc == 2 and "no check matches -k 'nosuch'" in out.err and out.out == ""


# -- 5. the tolerance comes from the check's dtype, not the port's --------------------------------------

def test_5_bfloat16_port_is_a_dtype_failure_not_a_bfloat16_pass(tmp_path, capsys):
    rc, out = run(capsys, "report", "--out", str(tmp_path), "-k", "toy.math.softmax", "--no-controls", "--port",
                  f"{SP}:BF16")
    assert rc == 1
    row = _rows(tmp_path)[("toy.math.softmax", ("bf16port", "numpy"))]
    assert row["status"] == "fail" and row["failing_components"] == ["toy.softmax"]
    [leaf] = row["failing_leaves"]
    assert leaf["reason"] == "dtype" and "actual is bfloat16, the check expects float32" in leaf["message"]


def test_5_spec_dtype_decides_the_tolerance():
    e = np.array([1.0, 2.0], np.float64)
    a = (e * 1.005).astype(np.float32)
    # without a spec: the coarser dtype (float32) decides; with a bfloat16 actual the old rule would pass
    spec = {"": "float32"}
    c = compare(a, e, Tolerance(), dtypes=spec, strict=(True, False))
    assert not c.ok and c.leaves[0].reason == "values" and c.leaves[0].allowed_rel == pytest.approx(1.3e-6)
    import ml_dtypes

    c = compare(a.astype(ml_dtypes.bfloat16), e, Tolerance(), dtypes=spec, strict=(True, False))
    assert not c.ok and c.leaves[0].reason == "dtype"
    # a bfloat16 check (the references return bfloat16) keeps bfloat16's tolerance
    b = np.array([1.0, 2.0], np.float32).astype(ml_dtypes.bfloat16)
    c = compare(b, e, Tolerance(), dtypes={"": "bfloat16"}, strict=(True, False))
    assert c.ok and c.leaves[0].allowed_rel == pytest.approx(1.6e-2)


# -- 6. the by-component matrix marks only failing components ------------------------------------------

def test_6_matrix_marks_only_the_failing_component(tmp_path, capsys):
    rc, _ = run(capsys, "report", "--out", str(tmp_path), "-k", "toy.math.softmax", "--no-controls", "--port",
                "parity_tests.example_ports:BROKEN")
    md = (tmp_path / "report.md").read_text()
    matrix = md.split("## Compatibility matrix")[1].split("## Checks")[0]
    ce = next(l for l in matrix.splitlines() if l.startswith("| `toy.cross_entropy`"))
    sm = next(l for l in matrix.splitlines() if l.startswith("| `toy.softmax`"))
    assert "FAIL" not in ce and "FAIL" in sm


def test_6_whole_output_check_says_component_not_attributable(impls):
    def run_(c, case):
        return c["toy.cross_entropy"](c["toy.softmax"](case["logits"]), case["target"])

    whole = Check(name="toy.math.chain", components=("toy.softmax", "toy.cross_entropy"), inputs=SOFTMAX.inputs,
                  run=run_, mode=Tolerance(), controls=(Control("x", "x", {}),))
    flipped = impls["torch"].patched("torch", {"toy.softmax": lambda f: (lambda x, axis=-1: f(-x, axis))})
    r = Runner({**impls, "torch": dataclasses.replace(flipped, role="reference")})
    res = {x.pair: x for x in r.run_check(whole)}
    bad = res[("torch", "numpy")]
    assert bad.status == Status.FAIL and bad.failing_components == [] and bad.to_json()["attributed"] is False
    md = report.to_markdown(list(res.values()))
    assert "check failed, component not attributable" in md
    matrix = md.split("## Compatibility matrix")[1].split("## Checks")[0]
    assert "**FAIL**" not in matrix
    # a control on such a check is still detected: that it fails is what can be asserted
    ctl = Control("flip", "softmax of -x", {"toy.softmax": lambda f: (lambda x, axis=-1: f(-x, axis))})
    assert Runner(impls).run_control(whole, ctl).status == Status.DETECTED


# -- 7. a NaN pattern mismatch does not hide value differences -----------------------------------------

def test_7_nan_pattern_and_values_both_reported():
    e = np.linspace(1, 2, 11).astype(np.float32)
    a = e * 1.1
    a[0] = np.nan
    leaf = compare_leaf(a, e, Tolerance(), "x")
    assert not leaf.ok and leaf.reason == "nan_pattern"
    assert "NaN pattern differs at 1 / 11 elements" in leaf.message
    assert "on the 10 elements finite in both: not close: 10 / 11 mismatched" in leaf.message
    assert leaf.tol_ratio > 1 and leaf.max_abs > 0.1


def test_7_nan_pattern_with_agreeing_values_says_so():
    e = np.ones(4, np.float32)
    a = e.copy()
    a[2] = np.inf
    leaf = compare_leaf(a, e, Tolerance(), "x")
    assert leaf.reason == "nan_pattern" and "the 3 elements finite in both agree" in leaf.message


# -- 8. None or a wrong shape shows the reason, not a ratio ---------------------------------------------

@pytest.mark.parametrize("port,reason", [("NONE", "None"), ("SHAPE", "shape")])
def test_8_none_and_shape_show_the_reason(port, reason, tmp_path, capsys):
    rc, _ = run(capsys, "report", "--out", str(tmp_path), "-k", "toy.math.softmax", "--no-controls", "--port",
                f"{SP}:{port}")
    assert rc == 1
    md = (tmp_path / "report.md").read_text()
    assert f"**FAIL** ({reason})" in md and "**FAIL** (0" not in md
    row = _rows(tmp_path)[("toy.math.softmax", (port.lower() + "port", "numpy"))]
    assert row["failing_leaves"][0]["reason"] == ("none" if port == "NONE" else "shape")


# -- 9. input mutation is blamed on the component that did it -------------------------------------------

def test_9_component_writing_to_its_input_is_named(tmp_path, capsys):
    rc, _ = run(capsys, "report", "--out", str(tmp_path), "-k", "toy.math.softmax", "--no-controls", "--port",
                f"{SP}:MUTATING")
    assert rc == 1
    row = _rows(tmp_path)[("toy.math.softmax", ("mutatingport", "numpy"))]
    assert row["failing_components"] == ["toy.softmax"]  # not toy.cross_entropy, whose output differs
    assert "component toy.softmax modified its input in place (input['logits'])" in row["message"]


# -- 10. the golden files' JSON side is protected ----------------------------------------------------

@pytest.fixture
def golden_dir(tmp_path, impls):
    from harness.fixtures import Store

    store = Store(tmp_path)
    store.write(SOFTMAX, 0, impls["jax"], Runner(impls))
    return store


def _edit(store, fn):
    js = store.root / SOFTMAX.name / "seed0.json"
    rec = json.loads(js.read_text())
    js.write_text(json.dumps(fn(rec)))


@pytest.mark.parametrize("edit,fragment", [
    (lambda r: {**r, "case": {"$dict": {**r["case"]["$dict"], "extra": 0.6}}}, "record_sha256 differs"),
    (lambda r: {k: v for k, v in r.items() if k != "case"}, "field 'case' is missing"),
    (lambda r: [r], "provenance record is a JSON list"),
    (lambda r: {**r, "seed": "0"}, "field 'seed' is a str"),
])
def test_10_edited_json_is_corrupted(golden_dir, edit, fragment, capsys):
    _edit(golden_dir, edit)
    [st] = golden_dir.verify([SOFTMAX])
    assert st.status == "corrupted" and fragment in st.detail and "seed0.json" in st.detail
    rc, out = run(capsys, "fixtures", "verify", "--dir", str(golden_dir.root), "-k", "softmax")
    assert rc == 1 and "corrupted" in out.out
    # a golden run reports the file, it does not blame an implementation
    r = Runner(ports.builtin()[0], golden=golden_dir, golden_all=True)
    rows = [x for x in r.run_check(SOFTMAX) if x.pair[1] == "golden"]
    assert rows and all(x.status == Status.ERROR and "corrupted" in x.message for x in rows)


# -- 11. report --out checked before running; a crash still writes what was computed ---------------------

def test_11_out_onto_a_file_or_unwritable_place_exit_2_before_running(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    rc, out = run(capsys, "report", "--out", str(f), "-k", "toy")
    assert rc == 2 and "exists and is not a directory" in out.err and out.out == ""
    rc, out = run(capsys, "report", "--out", "/proc/parity-report-here", "-k", "toy")  # unwritable, even for root
    assert rc == 2 and "cannot write in '/proc'" in out.err and out.out == ""


def test_11_a_crash_after_results_writes_them_and_says_where(tmp_path, capsys, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("markdown renderer crashed")

    monkeypatch.setattr(report, "to_markdown", boom)
    rc, out = run(capsys, "report", "--out", str(tmp_path), "-k", "toy.math.argmax", "--no-controls")
    assert rc == 3
    assert f"what was computed is written to {tmp_path}" in out.err
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["partial"] is True and len(rep["results"]) == 3


# -- 12. files keep the umask's mode ----------------------------------------------------------------

def test_12_reports_and_golden_files_keep_the_umask_mode(tmp_path, golden_dir):
    from harness.base import Result

    old = os.umask(0o022)
    try:
        report.write(tmp_path / "rep", [Result("toy.math.argmax", "toy.argmax", ("jax", "numpy"), Status.PASS)])
        golden_dir.write(ARGMAX, 0, ports.builtin()[0]["numpy"], Runner(ports.builtin()[0]))
    finally:
        os.umask(old)
    for p in [tmp_path / "rep" / "report.json", tmp_path / "rep" / "report.md",
              golden_dir.root / ARGMAX.name / "seed0.npz", golden_dir.root / ARGMAX.name / "seed0.json"]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p


# -- 13. ./run parity keeps the caller's directory ------------------------------------------------------

def test_13_run_parity_from_the_users_directory(tmp_path):
    (tmp_path / "mymod.py").write_text("from parity_tests.example_ports import GOOD as PORT\n")
    env = {**os.environ, "PYTHONPATH": ROOT}
    r = subprocess.run(["bash", os.path.join(ROOT, "run"), "parity", "report", "--port", "mymod:PORT", "-k",
                        "toy.math.argmax", "--no-controls", "--out", "myrep"], capture_output=True, text=True,
                       cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "myrep" / "report.json").exists()
    assert "goodport vs numpy" in r.stdout


# -- 14. seeds are validated -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", ["-1", str(2 ** 32), str(2 ** 63), "abc"])
def test_14_bad_seeds_are_usage_errors(seed, capsys):
    with pytest.raises(SystemExit) as e:
        main(["check", "-k", "toy", "--seed", seed])
    assert e.value.code == 2 and "0 <= seed < 2**32" in capsys.readouterr().err


def test_14_largest_seed_runs(capsys):
    rc, out = run(capsys, "check", "-k", "toy", "--no-controls", "--seed", str(2 ** 32 - 1))
    assert rc == 0, out.out


# -- 15. golden files without JAX or ml_dtypes -------------------------------------------------------

_TORCH_ONLY = ("import sys\n"
               "for m in ('jax', 'jaxlib', 'flax', 'optax', 'mctx', 'chex', 'ml_dtypes'):\n"
               "    sys.modules[m] = None  # import fails as if not installed\n"
               "from harness.cli import main\n"
               "sys.exit(main(sys.argv[1:]))\n")


def _torch_only(*args):
    return subprocess.run([sys.executable, "-c", _TORCH_ONLY, *args], capture_output=True, text=True, cwd=ROOT)


def test_15_torch_only_golden_with_bfloat16_leaves_without_ml_dtypes():
    # --impl torch: the numpy oracle itself needs ml_dtypes to compute bfloat16 leaves (its rows would be errors)
    r = _torch_only("check", "-k", "eggroll.rng.bits", "--golden", "--no-controls", "--impl", "torch", "--port",
                    f"{SP}:torch_reference_as_port")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "torchport vs golden" in r.stdout and "Traceback" not in r.stderr


def test_15_torch_only_fixtures_verify_says_what_was_not_compared():
    r = _torch_only("fixtures", "verify", "-k", "toy")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "stale" not in r.stdout and "fields not compared (framework not installed here): jax, jaxlib, backend" \
        in r.stdout


def test_15_bfloat16_round_trip_without_ml_dtypes():
    from harness.convert import Bfloat16Values, bfloat16_bits, to_numpy

    v = np.array([1.0, -2.5, 3.140625, np.inf], np.float32)
    bits = bfloat16_bits(v)
    back = (bits.astype(np.uint32) << 16).view(np.float32).view(Bfloat16Values)
    a, name = to_numpy(back)
    assert name == "bfloat16" and np.array_equal(a, v)


# -- 16. progress on a terminal and a per-check time limit -----------------------------------------------

def test_16_a_hanging_component_times_out_and_the_run_goes_on(tmp_path, capsys):
    rc, out = run(capsys, "report", "--out", str(tmp_path), "-k", "toy", "--no-controls", "--timeout", "1",
                  "--port", f"{SP}:HANGING")
    assert rc == 1
    rows = _rows(tmp_path)
    hung = rows[("toy.math.softmax", ("hangingport", "numpy"))]
    assert hung["status"] == "error" and hung["failing_components"] == ["toy.softmax"]
    assert "Timeout: hangingport gave no result for check toy.math.softmax within 1 s" in hung["message"]
    assert rows[("toy.math.argmax", ("hangingport", "numpy"))]["status"] == "pass"


def test_16_progress_line_on_a_terminal(impls):
    import io

    from harness.progress import ProgressLine

    buf = io.StringIO()
    bar = ProgressLine(4, buf, enabled=True)
    r = Runner(impls)
    r.on_start = bar.start
    r.run_check(ARGMAX)
    bar.clear()
    text = buf.getvalue()
    assert "[1/4] toy.math.argmax  jax vs numpy" in text and "[3/4] toy.math.argmax  jax vs torch" in text
    assert text.endswith("\r")
    quiet = io.StringIO()
    ProgressLine(4, quiet).start(ARGMAX, ("jax", "numpy"))  # not a terminal: nothing
    assert quiet.getvalue() == ""


# -- 17. global RNGs seeded per case before a port runs ---------------------------------------------

def test_17_native_rng_port_is_reproducible_at_a_seed(impls):
    from parity_tests import silent_ports

    port = silent_ports.NATIVE_RNG
    chk = dataclasses.replace(ARGMAX, inputs=lambda s: {"values": np.zeros((64, 5), np.float32)})  # all ties
    outs = []
    for _ in range(2):
        np.random.seed(123)
        random.seed(123)
        before = (np.random.get_state()[1].copy(), random.getstate())
        o = Runner({"p": port}).outputs(chk, port, chk.inputs(0), ("seed", 5))
        outs.append(o.value.numpy())
        assert np.array_equal(np.random.get_state()[1], before[0]) and random.getstate() == before[1]  # restored
    assert np.array_equal(outs[0], outs[1])
    other = Runner({"p": port}).outputs(chk, port, chk.inputs(0), ("seed", 6)).value.numpy()
    assert not np.array_equal(outs[0], other)


@pytest.mark.parametrize("seed", ["-1", str(2 ** 32)])
def test_pytest_plugin_refuses_a_seed_out_of_range(seed, tmp_path):
    """``pytest --parity-seed`` is held to the CLI's range: a usage error (exit 4) that names the option, before any
    check runs, instead of a seed that some references would wrap and others refuse."""
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "--parity",
                        f"--parity-seed={seed}", "-q", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "--parity-seed" in r.stderr and "2**32" in r.stderr, r.stderr
