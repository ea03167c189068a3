"""report.html: structure and content, leaf summaries, trajectories, the no-matplotlib fallback."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from harness import html_report, leafstats
from harness.base import LeafResult, Tolerance
from harness.cli import main
from harness.compare import compare

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.h2, self.tags, self.cells, self._in, self.attrs = [], {}, [], None, []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs += attrs
        if tag in ("h2", "td"):
            self._in = [tag, ""]

    def handle_data(self, data):
        if self._in:
            self._in[1] += data

    def handle_endtag(self, tag):
        if self._in and tag == self._in[0]:
            (self.h2 if tag == "h2" else self.cells).append(self._in[1].strip())
            self._in = None


@pytest.fixture(scope="module")
def broken_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep")
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        rc = main(["report", "--out", str(out), "-k", "toy", "--port", "parity_tests.example_ports:BROKEN", "-q"])
    finally:
        os.chdir(cwd)
    assert rc == 1
    return out


def test_html_written_beside_json_and_md(broken_report):
    assert {p.name for p in broken_report.iterdir()} >= {"report.json", "report.md", "report.html"}


def test_html_structure_and_content(broken_report):
    text = (broken_report / "report.html").read_text()
    page = _Page()
    page.feed(text)
    assert page.h2 == ["Compatibility matrix", "Trajectories: divergence over time", "Failures (2)",
                       "Negative controls", "Environment"]
    # pass / fail readable without colour: words and symbols in the cells themselves
    assert any(c.startswith("\u2717 FAIL") for c in page.cells)
    assert any(c.startswith("\u2713") for c in page.cells)
    assert "brokenport" in text and "toy.math.softmax" in text
    # per failing leaf: the error histogram, the ulp histogram and the location map, as inline SVG
    assert page.tags.get("svg", 0) >= 2
    assert "error vs allowed" in text and "ulp histogram" in text and "where: shape (4, 7)" in text
    # self-contained: no script, no stylesheet link, nothing fetched at view time
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert not [v for k, v in page.attrs if k in ("src", "href") and v and re.match(r"(https?:)?//", v)]
    assert "2 of 2 planted divergences detected" in text
    assert "numerics.jax_default_matmul_precision" in text


def test_failing_leaf_carries_a_compact_summary(broken_report):
    rep = json.loads((broken_report / "report.json").read_text())
    row = next(r for r in rep["results"] if r["pair"] == ["brokenport", "numpy"] and r["check"] == "toy.math.softmax")
    leaf = row["failing_leaves"][0]
    s = leaf["summary"]
    assert sum(s["ratio_hist"]["counts"]) + s["ratio_hist"]["zero"] == leaf["total"]
    assert sum(s["ulp_hist"]["counts"]) == leaf["total"]
    assert s["where"]["shape"] == [4, 7] and sum(map(sum, s["where"]["mismatches"])) == leaf["mismatches"]
    assert s["worst"][0]["index"] == leaf["worst_index"]
    controls = [r for r in rep["results"] if r["control"]]
    assert controls and all(l["summary"] is None for r in controls for l in r["failing_leaves"])


def test_location_map_points_at_the_bad_block():
    e = np.zeros((64, 32), np.float32)
    a = e.copy()
    a[40:44, 20] = 1.0  # one bad stripe
    leaf = compare(a, e, Tolerance()).leaves[0]
    w = leaf.summary["where"]
    bad = np.argwhere(np.array(w["mismatches"]) > 0)
    assert w["rows"][bad[0][0]] <= 40 < w["rows"][bad[0][0] + 1]
    assert w["cols"][bad[0][1]] <= 20 < w["cols"][bad[0][1] + 1]
    assert np.array(w["mismatches"]).sum() == 4 and len(w["worst"]) <= leafstats.GRID
    assert compare(e, e, Tolerance()).leaves[0].summary is None  # passing leaves carry nothing


def _traj_leaves(fail_from):
    out = []
    for t in range(6):
        for name in ("w", "b"):
            r = 0.01 * (t + 1) if t < fail_from else 3.0 * t
            out.append(LeafResult(f"['G0_R1']['epoch'][{t}]['params'][{name!r}]", r <= 1, tol_ratio=r))
        out.append(LeafResult(f"['steps_40']['step_{t:02d}']['loss']", True, tol_ratio=0.02))
    out.append(LeafResult("['params'][0]", True, tol_ratio=0.1))  # a list, not steps
    return out


def test_trajectories_from_leaf_paths():
    tr = leafstats.trajectories(_traj_leaves(fail_from=3))
    assert set(tr) == {"['G0_R1']['epoch']", "['steps_40']"}
    pts = tr["['G0_R1']['epoch']"]
    assert [p[0] for p in pts] == list(range(6))
    assert html_report.first_divergence(pts) == 3
    assert html_report.first_divergence(tr["['steps_40']"]) is None
    assert leafstats.step_of("['a'][3]['b']") is None
    # trace comparisons (harness.trace): the tap is the group, its call index the step
    assert leafstats.step_of("train.loss#7['policy']") == ("train.loss", 7, "['policy']")
    trace = [LeafResult(f"mcts.root_visits#{k}", k < 4, tol_ratio=None) for k in range(8)]
    assert html_report.first_divergence(leafstats.trajectories(trace)["mcts.root_visits"]) == 4


def _report_dict(results):
    return {"schema": 1, "command": "parity report", "created": "now", "seed": 0, "environment": {"torch": "x"},
            "summary": {}, "ok": False, "results": results, "notes": []}


def _row(check, pair, status, ratio, leaves=(), control=None):
    from harness.base import Result, Status

    r = Result(check, check, pair, Status(status), tol_ratio=ratio, leaves=list(leaves), control=control,
               mode="tolerance", tolerance={"mode": "tolerance"})
    return r.to_json()


def test_trajectory_section_marks_first_divergence():
    rows = [_row("eggroll.trajectory", ("myport", "numpy"), "fail", 15.0, _traj_leaves(3)),
            _row("eggroll.trajectory", ("jax", "numpy"), "pass", 0.06, _traj_leaves(99))]
    text = html_report.render(_report_dict(rows))
    assert "&#10007; step 3</td>" in text and "myport vs numpy" in text and "&#10003; 6 steps" in text
    assert text.count("<svg") >= 1


def test_without_matplotlib_the_page_says_so(monkeypatch):
    monkeypatch.setattr(html_report, "_mpl", lambda: None)
    rows = [_row("eggroll.trajectory", ("myport", "numpy"), "fail", 15.0, _traj_leaves(3))]
    text = html_report.render(_report_dict(rows))
    assert "Plots omitted: matplotlib is not installed" in text and "<svg" not in text
    assert "&#10007; step 3</td>" in text  # the numbers stay


def test_html_verb_rerenders_from_json(broken_report, tmp_path, capsys):
    out = tmp_path / "again.html"
    assert main(["html", str(broken_report / "report.json"), "-o", str(out)]) == 0
    assert "Compatibility matrix" in out.read_text()
