"""report.html rendered once in headless Chromium (skipped, with the reason, where Chromium is absent)."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from harness import html_report

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import screenshot_report


@pytest.mark.skipif(screenshot_report.find_browser() is None,
                    reason="Chromium is not installed (apt-get install chromium): the HTML is not rendered")
def test_report_renders_in_headless_chromium(tmp_path):
    from harness.base import LeafResult, Result, Status

    leaf = LeafResult("['x']", False, "values", "not close", 3, 12, (1, 2), 0.5, 0.1, 9, 1e-5, 1.3e-6,
                      tol_ratio=5e4, summary={"ratio_hist": {"edges_log10": [-1, 0, 1], "counts": [1, 3], "zero": 8},
                                              "where": {"shape": [3, 4], "rows": [0, 1, 2, 3], "cols": [0, 4],
                                                        "worst": [[0.1], [5e4], [0.2]], "mismatches": [[0], [3], [0]]}})
    r = Result("a.b", "a.b", ("p", "numpy"), Status.FAIL, tol_ratio=5e4, leaves=[leaf], mode="tolerance",
               tolerance={"mode": "tolerance"})
    data = {"schema": 1, "results": [r.to_json()], "summary": {"fail": 1}, "ok": False, "environment": {}}
    page = tmp_path / "report.html"
    page.write_text(html_report.render(data))
    png = tmp_path / "shot.png"
    screenshot_report.screenshot(page, png, 1000, 900)
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (1000, 900)
    if importlib.util.find_spec("PIL") is not None:  # not a blank page: dark text and red cells are there
        from PIL import Image

        img = Image.open(png).convert("RGB")
        colours = img.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50
