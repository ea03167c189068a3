"""Comparison modes are classes: a mode declared in this file alone runs through the comparison, the runner,
the Markdown / terminal report and the HTML report (no harness module names it), and no module of the harness
dispatches on the mode's type or name."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
from typing import ClassVar

import numpy as np
import pytest

from harness import html_report, report
from harness.base import Check, Control, Exact, Implementation, LeafResult, Statistical, Status, Tolerance, Ulp
from harness.compare import compare
from harness.modes import Mode, Unknown
from harness.runner import Runner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Absolute(Mode):
    """|actual - expected| <= bound on every element (a mode only this test file knows)."""

    kind: ClassVar[str] = "absolute"
    scaled: ClassVar[bool] = True

    bound: float = 0.1

    def describe(self) -> dict:
        return {"mode": self.kind, "bound": self.bound}

    @classmethod
    def rebuild(cls, described: dict) -> Mode:
        return cls(described["bound"])

    def display(self, leaves=()) -> str:
        return f"|a - e| <= {self.bound:g}"

    def measure(self, leaves, *, passed=True, max_ulp=None) -> str:
        return f"{max(l.max_abs or 0.0 for l in leaves):.2g} of the bound {self.bound:g}"

    def compare_floats(self, a, e, da, de, path, n, want=None) -> LeafResult:
        diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
        worst = float(diff.max()) if n else 0.0
        bad = int(np.count_nonzero(diff > self.bound))
        return LeafResult(path, bad == 0, "" if bad == 0 else "values",
                          "" if bad == 0 else f"{bad} / {n} beyond {self.bound:g}", bad, n,
                          max_abs=worst, tol_ratio=worst / self.bound)


def test_a_new_mode_compares_leaves():
    x = np.array([1.0, 2.0, 3.0])
    assert compare(x + 0.05, x, Absolute(0.1)).ok
    c = compare({"y": x + 0.5}, {"y": x}, Absolute(0.1))
    assert not c.ok and c.failing[0].path == "['y']" and c.tol_ratio == pytest.approx(5.0)
    # the checks every mode shares still come first: shape, dtype kind, NaN pattern
    assert compare(x[:2], x, Absolute()).leaves[0].reason == "shape"
    assert compare(np.array([1, 2, 3]), x, Absolute()).leaves[0].reason == "dtype"
    assert compare(np.array([np.nan, 2, 3]), x, Absolute()).leaves[0].reason == "nan_pattern"


def _impl(name, role, scale=1.0):
    return Implementation(name, "numpy", {"demo.double": lambda x: 2.0 * x * scale}, role=role)


CHECK = Check("demo.double", ("demo.double",), inputs=lambda seed: {"x": np.linspace(0.0, 1.0, 5)},
              run=lambda c, case: c["demo.double"](case["x"]), mode=Absolute(0.01), fixture=False,
              frameworks=("numpy",),
              controls=(Control("scale", "doubled by 2.1", {"demo.double": lambda f: (lambda x: 1.05 * f(x))},
                                target="numpy", against="numpy"),))


def _results():
    runner = Runner({"numpy": _impl("numpy", "oracle"), "near": _impl("near", "port", 1.001),
                     "far": _impl("far", "port", 1.1)})
    return runner.run_all([CHECK])


def test_a_new_mode_runs_through_the_runner_and_the_reports(tmp_path):
    results = _results()
    rows = {(r.pair[0], r.control): r for r in results}
    assert rows[("near", None)].status == Status.PASS and rows[("far", None)].status == Status.FAIL
    assert rows[("numpy~scale", "scale")].status == Status.DETECTED
    assert rows[("near", None)].mode == "absolute" and rows[("near", None)].tolerance == {"mode": "absolute",
                                                                                          "bound": 0.01}
    # the terminal / Markdown report: the mode's own text
    assert "|a - e| <= 0.01" in report.table(results)
    md = report.to_markdown(results)
    assert "of the bound" in md
    # the HTML report, rendered from the JSON as `parity html` does: the mode is found by its kind
    data = json.loads(json.dumps(report.to_json(results)))
    page = html_report.render(data)
    near = rows[("near", None)].tol_ratio
    assert f"&#10003; {html_report._g(near)}&times;" in page
    assert "&#10007; FAIL" in page and "absolute" in page
    assert Mode.from_description(data["results"][0]["tolerance"]) == Absolute(0.01)


@pytest.mark.parametrize("mode", [Tolerance(), Tolerance(rtol=1e-3, atol=0.0, reason="demo: rounding"), Ulp(4),
                                  Ulp(2, reason="demo"), Exact(), Statistical(alpha=0.01)])
def test_every_mode_is_rebuilt_from_its_description(mode):
    assert Mode.from_description(json.loads(json.dumps(mode.describe()))) == mode


def test_an_unknown_mode_in_an_old_report_reads_without_mode_text():
    m = Mode.from_description({"mode": "someday"})
    assert isinstance(m, Unknown) and not m.scaled and m.badge == "pass"
    assert isinstance(Mode.from_description(None), Unknown)


MODE_NAMES = {"Tolerance", "Ulp", "Exact", "Statistical"}
KIND_NAMES = {"tolerance", "ulp", "exact", "statistical"}


def _dispatch_points(path: str) -> list[str]:
    """isinstance(..., <mode class>) calls and comparisons with a mode's kind name in one module."""
    out = []
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
            t = node.args[1]
            names = {getattr(x, "id", None) for x in (t.elts if isinstance(t, ast.Tuple) else [t])}
            if names & MODE_NAMES:
                out.append(f"{path}:{node.lineno} isinstance")
        if isinstance(node, ast.Compare) and "mode" in ast.unparse(node):  # not Check.rng == "exact"
            consts = {c.value for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)}
            consts |= {e.value for c in node.comparators if isinstance(c, ast.Tuple) for e in c.elts
                       if isinstance(e, ast.Constant)}
            if consts & KIND_NAMES:
                out.append(f"{path}:{node.lineno} compares with {sorted(consts & KIND_NAMES)}")
    return out


def test_no_harness_module_dispatches_on_the_mode():
    here = os.path.join(ROOT, "harness")
    found = [p for f in sorted(os.listdir(here)) if f.endswith(".py") and f != "modes.py"
             for p in _dispatch_points(os.path.join(here, f))]
    assert found == [], "dispatch on the comparison mode outside harness/modes.py (use the mode's methods):\n" + \
        "\n".join(found)
