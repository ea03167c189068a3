"""The CLI end to end: exit codes 0 / 1 / 2, reports written atomically, ports, blame, not_provided."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(*argv, capsys=None):
    rc = main(list(argv))
    out = capsys.readouterr() if capsys else None
    return rc, out


def test_check_passes_exit_0(capsys):
    rc, out = run("check", "-k", "toy", capsys=capsys)
    assert rc == 0, out.out
    assert "toy.math.softmax" in out.out and "detected" in out.out


def test_good_port_passes_against_oracle_and_own_framework(capsys):
    rc, out = run("check", "-k", "toy", "--port", "parity_tests.example_ports:GOOD", "--no-controls", capsys=capsys)
    assert rc == 0, out.out
    assert "goodport vs numpy" in out.out and "goodport vs torch" in out.out


def test_factory_port(capsys):
    rc, _ = run("check", "-k", "toy.math.argmax", "--port", "parity_tests.example_ports:make_good", capsys=capsys)
    assert rc == 0


def test_broken_port_exit_1_names_component_and_blames_port(tmp_path, capsys):
    rc, out = run("report", "--out", str(tmp_path), "-k", "toy", "--port", "parity_tests.example_ports:BROKEN",
                  "--no-controls", capsys=capsys)
    assert rc == 1
    assert "PARITY: toy.math.softmax [brokenport vs numpy]" in out.out
    assert "Reproduce: parity check -k toy.math.softmax --seed 0 --port parity_tests.example_ports:BROKEN" in out.out
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["schema"] == 1 and rep["environment"]["torch"] and rep["ok"] is False
    rows = {(r["check"], tuple(r["pair"])): r for r in rep["results"]}
    bad = rows[("toy.math.softmax", ("brokenport", "numpy"))]
    assert bad["status"] == "fail" and bad["blame"] == "brokenport" and bad["max_abs"] > 0.1
    assert bad["failing_components"] == ["toy.softmax"]  # cross_entropy is intact in the broken port
    assert bad["component"] == "toy.softmax"
    assert bad["failing_leaves"][0]["path"] == "['toy.softmax']"
    assert rows[("toy.math.softmax", ("brokenport", "torch"))]["blame"] == "brokenport"
    assert rows[("toy.math.argmax", ("brokenport", "numpy"))]["status"] == "pass"
    md = (tmp_path / "report.md").read_text()
    assert "| `toy.math.softmax` |" in md and "**FAIL**" in md and "brokenport" in md
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_component_that_raises_is_error_and_others_keep_running(capsys):
    rc, out = run("check", "-k", "toy", "--port", "parity_tests.example_ports:RAISING", "--no-controls",
                  capsys=capsys)
    assert rc == 1
    assert "RuntimeError: deliberate failure inside the port (in raisingport, component toy.argmax, check " \
           "toy.math.argmax, at parity_tests/example_ports.py:" in out.out
    assert out.out.count("  pass  ") >= 0 and "raisingport vs numpy" in out.out


def test_partial_port_is_not_provided_never_pass(tmp_path, capsys):
    rc, out = run("report", "--out", str(tmp_path), "-k", "toy", "--port", "parity_tests.example_ports:PARTIAL",
                  "--no-controls", capsys=capsys)
    assert rc == 0
    rows = json.loads((tmp_path / "report.json").read_text())["results"]
    soft = [r for r in rows if r["check"] == "toy.math.softmax" and "partialport" in r["pair"]]
    assert soft and all(r["status"] == "not_provided" for r in soft)
    assert "does not provide toy.softmax" in soft[0]["message"]


@pytest.mark.parametrize("spec,fragment", [
    ("no_such_module_xyz:PORT", "module 'no_such_module_xyz' does not import"),
    ("parity_tests.example_ports:NOPE", "has no attribute 'NOPE'"),
    ("parity_tests.example_ports", "expected 'package.module:attribute'"),
    ("parity_tests.example_ports:NOT_AN_IMPLEMENTATION", "expected harness.base.Implementation"),
    ("parity_tests.example_ports:CLASH", "collides"),
])
def test_bad_port_exit_2_one_line(spec, fragment, capsys):
    rc, out = run("check", "-k", "toy", "--port", spec, capsys=capsys)
    assert rc == 2
    err = out.err.strip()
    assert err.startswith("PARITY:") and fragment in err and len(err.splitlines()) == 1


def test_unknown_check_and_bad_expression_exit_2(capsys):
    rc, out = run("check", "-k", "no_such_check_anywhere", capsys=capsys)
    assert rc == 2 and "no check matches" in out.err
    rc, out = run("check", "-k", "toy and (", capsys=capsys)
    assert rc == 2 and "-k" in out.err


def test_keyword_expressions(capsys):
    rc, out = run("list", "-k", "toy and not argmax", capsys=capsys)
    assert "toy.math.softmax" in out.out and "toy.math.argmax" not in out.out
    rc, out = run("list", "-k", "softmax or argmax", capsys=capsys)
    assert "toy.math.softmax" in out.out and "toy.math.argmax" in out.out


def test_console_script_and_module_entry_points(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "parity")
    r = subprocess.run([exe, "list", "-k", "toy"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "toy.math.argmax" in r.stdout
    r = subprocess.run([sys.executable, "-m", "harness", "check", "-k", "toy", "--port", "nope:X"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.startswith("PARITY:")


def test_pytest_parity_port_option_adds_the_port():
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "parity_tests/test_catalogue.py",
                        "-k", "toy and brokenport", "--parity-port", "parity_tests.example_ports:BROKEN"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1, r.stdout[-2000:]
    assert "test_parity[toy.math.softmax:brokenport-vs-numpy]" in r.stdout
    assert "PARITY: toy.math.softmax [brokenport vs numpy]" in r.stdout and "Blame: brokenport" in r.stdout
    assert "2 failed" in r.stdout  # vs numpy and vs torch; argmax passes


def test_report_write_is_atomic(tmp_path, monkeypatch):
    from harness import report
    from harness.base import Result, Status

    ok = [Result("toy.math.argmax", "toy.argmax", ("jax", "numpy"), Status.PASS)]
    report.write(tmp_path, ok)
    before = (tmp_path / "report.json").read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        report.write(tmp_path, ok + ok)
    assert (tmp_path / "report.json").read_text() == before  # the previous report is intact
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_fixtures_verify_with_a_keyword_shows_only_the_selected_checks(capsys):
    rc, out = run("fixtures", "verify", "-k", "toy", capsys=capsys)
    assert rc == 0, out.out
    assert "toy.math.softmax" in out.out and "orphaned" not in out.out and "eggroll" not in out.out
