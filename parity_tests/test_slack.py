"""Tolerance slack: how wide a check's tolerance is relative to the term it compares.

A float32 atol of 1e-5 on a term of 1e-4 lets a 10% divergence pass. Every leaf records its slack, every row
its widest, the report lists the checks above ``tolerance.SLACK_LIMIT`` with their reasons, and the
catalogue's tests fail a check above it that gives none (the negative control of the rule is here)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness import pytest_catalogue, report
from harness.base import Check, Control, Exact, Implementation, Tolerance, Ulp
from harness.compare import compare
from harness.runner import Runner
from harness.tolerance import SLACK_LIMIT


def test_a_leaf_records_its_tolerance_relative_to_the_term():
    e = np.array([1e-4, -2e-4], np.float32)
    leaf = compare(e, e, Tolerance()).leaves[0]
    assert leaf.slack == pytest.approx((1e-5 + 1.3e-6 * 2e-4) / 2e-4, rel=1e-6)
    big = compare(np.float32(10.0), np.float32(10.0), Tolerance()).leaves[0]
    assert big.slack == pytest.approx(1e-6 + 1.3e-6)
    assert compare(np.zeros(3, np.float32), np.zeros(3, np.float32), Tolerance()).leaves[0].slack is None
    assert compare(e, e, Ulp(4)).leaves[0].slack == pytest.approx(4 * 2.0**-23)
    assert compare(e, e, Exact()).leaves[0].slack is None
    # a differing NaN pattern still records the values' slack
    a = np.array([np.nan, 1e-4], np.float32)
    assert compare(a, np.array([1.0, 1e-4], np.float32), Tolerance()).leaves[0].slack is not None


def _checks(reason=""):
    def run(c, case):
        return {"big": c["demo.scale"](case["x"]), "small": c["demo.scale"](case["x"]) * 1e-5}

    ctl = (Control("off", "scaled by 1.1", {"demo.scale": lambda f: (lambda x: 1.1 * f(x))}, target="numpy",
                   against="numpy"),)
    return Check("demo.scale", ("demo.scale",), inputs=lambda seed: {"x": np.linspace(1.0, 2.0, 4)}, run=run,
                 fixture=False, frameworks=("numpy",), controls=ctl, slack_reason=reason)


def _runner():
    impl = lambda name, role: Implementation(name, "numpy", {"demo.scale": lambda x: np.float32(3.0) * x.astype(np.float32)},
                                             role=role)
    return Runner({"numpy": impl("numpy", "oracle"), "port": impl("port", "port")})


def test_rows_carry_the_widest_slack_and_its_leaf():
    rows = _runner().run_all([_checks()])
    row = next(r for r in rows if r.control is None)
    d = json.loads(json.dumps(row.to_json()))
    assert d["slack"] > SLACK_LIMIT and d["slack_leaf"] == "['small']"
    md = report.to_markdown(rows)
    assert "## Tolerance slack (1 check(s)" in md and "**no reason given**" in md and "`['small']`" in md


def test_the_catalogue_fails_a_check_whose_tolerance_swamps_its_term_without_a_reason():
    pytest_catalogue._RESULTS.clear()
    check, runner = _checks(), _runner()
    with pytest.raises(pytest.fail.Exception) as e:
        pytest_catalogue.test_parity(check, ("port", "numpy"), runner, 0, "pytest -k demo")
    msg = str(e.value)
    assert "demo.scale" in msg and "['small']" in msg and "slack_reason" in msg and "of the term compared" in msg
    pytest_catalogue._RESULTS.clear()
    # with its reason the same row passes, and the report shows the reason
    explained = _checks("demo: the small leaf is a scaled copy of the big one, compared there at full precision")
    pytest_catalogue.test_parity(explained, ("port", "numpy"), runner, 0, "pytest -k demo")
    assert "scaled copy of the big one" in report.to_markdown(runner.run_all([explained]))
    pytest_catalogue._RESULTS.clear()
