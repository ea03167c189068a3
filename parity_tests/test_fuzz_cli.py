"""`parity fuzz`: a planted, input-dependent divergence is found within the default budget, shrunk, saved as
a regression case, known to `parity fixtures verify`, and replayed the way ./run test replays every case."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from harness import regressions
from harness.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    root = tmp_path_factory.mktemp("fx") / "regressions"
    os.chdir(ROOT)
    rc = main(["fuzz", "-k", "losses.policy", "--port", "parity_tests.fuzz_ports:SEEDY", "--regressions", str(root)])
    return rc, root


def test_planted_divergence_is_found_and_saved(found):
    rc, root = found
    assert rc == 1
    files = regressions.files(root)
    assert len(files) == 1 and files[0].parent.name == "losses.policy"
    rec = json.loads(files[0].read_text())
    assert rec["kind"] == "regression" and rec["check"] == "losses.policy"
    assert ["seedyport", "numpy"] in rec["pairs"] and rec["blame"] == ["seedyport"]
    assert rec["failing_components"] == ["losses.policy"]
    assert rec["ports"] == ["parity_tests.fuzz_ports:SEEDY"]
    assert rec["hypothesis"]["seed"] is not None and rec["hypothesis"]["blob"].startswith("@reproduce_failure(")
    assert files[0].with_suffix(".npz").exists()
    assert b"pickle" not in files[0].with_suffix(".npz").read_bytes()[:64]


def test_saved_case_is_replayed_by_the_suite(found, parity_runner, parity_checks):
    _, root = found
    path = regressions.files(root)[0]
    record, bad, notes = regressions.check_case(path, parity_runner, parity_checks)  # test_regressions' body
    assert not notes
    assert {r.pair for r in bad} == {("seedyport", "numpy"), ("seedyport", "torch")}
    assert all(r.blame == "seedyport" for r in bad)
    # the references agree on the shrunk case: the divergence is the port's alone
    record["ports"] = []
    _, case = regressions.load(path)
    check = next(c for c in parity_checks if c.name == "losses.policy")
    assert not regressions.failures(regressions.replay(parity_runner, check, record, case))


def test_fixtures_verify_knows_regression_cases(found, tmp_path, capsys):
    _, root = found
    fx = tmp_path / "fixtures"
    shutil.copytree(root, fx / "regressions")
    main(["fixtures", "verify", "--dir", str(fx), "-k", "losses.policy"])
    out = capsys.readouterr().out
    assert "ok  fixtures/regressions/losses.policy/" in out and "regression case" in out
    npz = next((fx / "regressions").glob("*/*.npz"))
    npz.write_bytes(npz.read_bytes()[:-8] + b"xxxxxxxx")
    main(["fixtures", "verify", "--dir", str(fx), "-k", "losses.policy"])
    assert "corrupted  fixtures/regressions/losses.policy/" in capsys.readouterr().out


def test_fuzzing_the_references_finds_nothing(tmp_path, capsys):
    rc = main(["fuzz", "-k", "toy", "--examples", "12", "--regressions", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "fuzzed 1 check(s): 12 examples" in out and not list(tmp_path.iterdir())


def test_fuzz_without_a_strategy_is_a_usage_error(capsys):
    assert main(["fuzz", "-k", "mcts.config_defaults", "--examples", "1"]) == 2
    assert "has a hypothesis strategy" in capsys.readouterr().err
