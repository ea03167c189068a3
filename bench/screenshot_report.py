"""Render a report.html in headless Chromium and save a PNG screenshot (to look at, and for the README).

    .venv/bin/python bench/screenshot_report.py reports/report.html docs/report.png [--width 1400] [--height 2400]

Chromium is found as chromium / chromium-browser / google-chrome on PATH (Debian: `apt-get install chromium`);
without it the script says so and exits 3. It runs with --no-sandbox (root in a container) and no network:
the page is one self-contained file.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    for b in BROWSERS:
        p = shutil.which(b)
        if p:
            return p
    return None


def screenshot(html: Path, png: Path, width: int = 1400, height: int = 2400, timeout: float = 120) -> None:
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError("no Chromium on PATH (apt-get install chromium)")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--no-first-run",
               "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # no network at view time
               f"--window-size={width},{height}", f"--screenshot={png.resolve()}", html.resolve().as_uri()]
        subprocess.run(cmd, check=True, timeout=timeout, capture_output=True)
    if not png.exists() or png.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no screenshot to {png}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html")
    ap.add_argument("png")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args(argv)
    try:
        screenshot(Path(args.html), Path(args.png), args.width, args.height)
    except FileNotFoundError as e:
        print(f"screenshot skipped: {e}", file=sys.stderr)
        return 3
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
