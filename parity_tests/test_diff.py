"""`parity diff` and `parity report --baseline`: a planted regression, a planted fix, schemas."""

from __future__ import annotations

import copy
import json
import os

import pytest

from harness import diff
from harness.base import ParityError
from harness.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _r(check, pair, status, ratio=None, control=None, blame=None):
    return {"check": check, "pair": list(pair), "status": status, "tol_ratio": ratio, "control": control,
            "blame": blame, "failing_components": [check] if status == "fail" else [], "reproduce": "x"}


ENV = {"python": "3.11.7", "numpy": "2.4.6", "jax": "0.10.2", "jaxlib": "0.10.2", "torch": "2.13.0",
       "backend": "cpu", "numerics": {"jax_default_matmul_precision": "highest"}}


def _report(results, env=ENV):
    return {"schema": 1, "created": "t", "command": "parity report", "environment": copy.deepcopy(env),
            "results": results}


BASE = _report([
    _r("a.loss", ("torch", "numpy"), "pass", 0.1),
    _r("a.loss", ("myport", "numpy"), "pass", 0.01),
    _r("a.grad", ("myport", "numpy"), "fail", 40.0, blame="myport"),
    _r("a.exact", ("myport", "numpy"), "pass"),
    _r("a.tiny", ("myport", "numpy"), "pass", 1e-6),
    _r("a.gone", ("myport", "numpy"), "pass", 0.2),
    _r("a.loss", ("torch~flip", "numpy"), "detected", 9.0, control="flip"),
])


def _planted_regression():
    new = copy.deepcopy(BASE)
    rows = {(r["check"], tuple(r["pair"]), r["control"]): r for r in new["results"]}
    rows[("a.exact", ("myport", "numpy"), None)].update(status="fail", blame="myport")  # new failure
    rows[("a.loss", ("myport", "numpy"), None)]["tol_ratio"] = 0.5  # 50x growth, still passing
    rows[("a.loss", ("torch", "numpy"), None)]["tol_ratio"] = 0.15  # 1.5x: under the threshold
    rows[("a.tiny", ("myport", "numpy"), None)]["tol_ratio"] = 1e-4  # below the floor: noise
    rows[("a.loss", ("torch~flip", "numpy"), "flip")]["status"] = "missed"  # a control stopped detecting
    new["results"] = [r for r in new["results"] if r["check"] != "a.gone"] + [_r("a.new", ("myport", "numpy"), "pass")]
    new["environment"]["torch"] = "2.14.0"
    new["environment"]["numerics"]["jax_default_matmul_precision"] = "default"
    return new


def test_planted_regression_is_reported():
    d = diff.diff(BASE, _planted_regression())
    assert d["regressed"] and diff.exit_code(d) == 1
    assert {(r["check"], r["control"]) for r in d["new_failures"]} == {("a.exact", None), ("a.loss", "flip")}
    assert [(r["check"], round(r["growth"])) for r in d["ratio_growth"]] == [("a.loss", 50)]
    assert d["removed_checks"] == ["a.gone"] and any(r["why"] == "check removed" for r in d["lost_coverage"])
    assert d["new_checks"] == ["a.new"]
    assert {e["key"]: (e["before"], e["after"]) for e in d["environment"]} == {
        "torch": ("2.13.0", "2.14.0"), "numerics.jax_default_matmul_precision": ("highest", "default")}
    md = diff.to_markdown(d)
    assert md.startswith("## Parity changes since the baseline") and "**REGRESSED" in md
    assert "| `a.exact` | myport vs numpy | pass -> fail |" in md
    assert "50x" in md and "`torch` | 2.13.0 | 2.14.0" in md


def test_planted_fix_only_exits_0():
    new = copy.deepcopy(BASE)
    for r in new["results"]:
        if r["check"] == "a.grad":
            r.update(status="pass", tol_ratio=0.3, blame=None)
    d = diff.diff(BASE, new)
    assert not d["regressed"] and diff.exit_code(d) == 0
    assert [(r["check"], r["before"], r["after"]) for r in d["fixed"]] == [("a.grad", "fail", "pass")]
    assert "NO REGRESSION" in diff.to_markdown(d) and "### Fixed (1)" in diff.to_markdown(d)


def test_threshold_is_a_parameter():
    d = diff.diff(BASE, _planted_regression(), threshold=100)
    assert not d["ratio_growth"]
    d = diff.diff(BASE, _planted_regression(), threshold=1.2)
    assert {r["check"] for r in d["ratio_growth"]} == {"a.loss"} and len(d["ratio_growth"]) == 2


@pytest.mark.parametrize("content, needle", [
    ('{"schema": 99, "results": []}', "newer than this harness reads"),
    ('{"results": []}', "no integer 'schema'"),
    ('[1, 2]', "not a parity report"),
    ("not json", "not JSON"),
    ('{"schema": 1, "results": [{"check": "x"}]}', "results[0] lacks check / pair / status"),
])
def test_unknown_schemas_are_refused_clearly(tmp_path, content, needle, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(BASE))
    with pytest.raises(ParityError, match="PARITY: .*" + needle.replace("[", r"\[").replace("]", r"\]")):
        diff.load(bad)
    assert main(["diff", str(bad), str(good)]) == 2
    assert needle in capsys.readouterr().err


def test_cli_diff_formats(tmp_path, capsys):
    b, n = tmp_path / "b.json", tmp_path / "n.json"
    b.write_text(json.dumps(BASE))
    n.write_text(json.dumps(_planted_regression()))
    assert main(["diff", str(b), str(n)]) == 1
    assert "New failures (2)" in capsys.readouterr().out
    assert main(["diff", str(b), str(n), "--format", "json", "-o", str(tmp_path / "d.json")]) == 1
    assert json.loads((tmp_path / "d.json").read_text())["regressed"] is True
    assert main(["diff", str(b), str(n), "--format", "html", "-o", str(tmp_path / "d.html")]) == 1
    assert "New failures" in (tmp_path / "d.html").read_text()
    assert main(["diff", str(b), str(b)]) == 0
    assert "Nothing changed." in capsys.readouterr().out


def test_report_baseline_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    base, new = tmp_path / "base", tmp_path / "new"
    assert main(["report", "--out", str(base), "-k", "toy", "--no-controls", "-q",
                 "--port", "parity_tests.example_ports:GOOD"]) == 0
    rc = main(["report", "--out", str(new), "-k", "toy", "--no-controls", "-q",
               "--port", "parity_tests.example_ports:BROKEN", "--baseline", str(base / "report.json")])
    assert rc == 1
    assert "REGRESSED: 2 new failure(s)" in capsys.readouterr().out
    rep = json.loads((new / "report.json").read_text())
    assert {(r["check"], tuple(r["pair"])) for r in rep["baseline_diff"]["new_failures"]} == {
        ("toy.math.softmax", ("brokenport", "numpy")), ("toy.math.softmax", ("brokenport", "torch"))}
    assert "## Parity changes since the baseline" in (new / "report.md").read_text()
    assert "Changes since the baseline" in (new / "report.html").read_text()
    # a planted fix: the same port, repaired, against the broken baseline
    fixed = tmp_path / "fixed"
    assert main(["report", "--out", str(fixed), "-k", "toy", "--no-controls", "-q",
                 "--port", "parity_tests.fuzz_ports:BROKEN_FIXED", "--baseline", str(new / "report.json")]) == 0
    d = json.loads((fixed / "report.json").read_text())["baseline_diff"]
    assert len(d["fixed"]) == 2 and not d["regressed"]
    # a bad baseline is a usage error before anything runs
    assert main(["report", "--out", str(fixed), "-k", "toy", "--baseline", str(tmp_path / "nope.json")]) == 2
