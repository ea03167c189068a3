"""``parity check --jobs N``: the same rows as the serial run; a hung or dying worker becomes error rows."""

from __future__ import annotations

import json
import os

import pytest

from harness import cli


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    import pathlib

    monkeypatch.chdir(pathlib.Path(__file__).resolve().parent.parent)


def _rows(path):
    rows = json.loads((path / "report.json").read_text())["results"]
    for r in rows:
        r.pop("seconds", None)
    return rows


def test_jobs_give_the_serial_results_in_catalogue_order(tmp_path, capsys):
    sel = ["-k", "toy or eggroll.fitness or eggroll.update.full", "--impl", "numpy,torch"]
    assert cli.main(["report", "--out", str(tmp_path / "serial"), *sel]) == 0
    assert cli.main(["report", "--out", str(tmp_path / "jobs"), *sel, "--jobs", "2"]) == 0
    serial, jobs = _rows(tmp_path / "serial"), _rows(tmp_path / "jobs")
    assert [(r["check"], r["pair"], r["control"]) for r in serial] == [(r["check"], r["pair"], r["control"])
                                                                        for r in jobs]
    assert serial == jobs


def test_hung_and_dying_workers_become_error_rows(tmp_path):
    # In a fresh process: spawning and killing --jobs workers from inside a pytest-xdist worker was seen to leave
    # a replacement worker unready, so the CLI runs as a user runs it (and a hang fails here after 300 s).
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "harness", "report", "--out", str(tmp_path), "-k", "toy", "--impl", "numpy",
         "--no-controls", "--port", "parity_tests.parallel_ports:hanging", "--port",
         "parity_tests.parallel_ports:dying", "--jobs", "2", "--job-timeout", "20"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})
    rc = proc.returncode
    assert rc == 1, proc.stderr[-2000:]
    rows = json.loads((tmp_path / "report.json").read_text())["results"]
    by_check = {}
    for r in rows:
        by_check.setdefault(r["check"], []).append(r)
    assert by_check["toy.math.argmax"] and all(r["status"] == "error" and "per-check timeout of 20 s" in r["message"]
                                               for r in by_check["toy.math.argmax"])
    assert by_check["toy.math.softmax"] and all(r["status"] == "error" and "died (exit code 7)" in r["message"]
                                                for r in by_check["toy.math.softmax"])
