"""The linter's own contract: ruff is configured in pyproject.toml (``./run test`` runs it before pytest) and
every ``# noqa`` that remains names its code and says why, after " - "."""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)$")
REASONED = re.compile(r"^:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*\s+(?:-|--)\s+\S")


def _python_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout (an sdist): every .py below the root but the venv
        return [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts and "build" not in p.parts]
    return [ROOT / p for p in out.stdout.split()]


def unreasoned_noqa(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each ``# noqa`` comment (a comment token, not a string) without ``: CODE - reason``."""
    bad = []
    lines = text.splitlines()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        m = NOQA.search(tok.string) if tok.type == tokenize.COMMENT else None
        if m and not REASONED.match(m.group("rest")):
            bad.append((tok.start[0], lines[tok.start[0] - 1].strip()))
    return bad


def test_unreasoned_noqa_is_found():
    assert unreasoned_noqa("x = 1  # noqa: E731\n") == [(1, "x = 1  # noqa: E731")]
    assert unreasoned_noqa("x = 1  # noqa\n") == [(1, "x = 1  # noqa")]
    assert unreasoned_noqa("x = 1  # noqa: E731 - one-line closure\n") == []


def test_every_noqa_says_why():
    bad = [f"{p.relative_to(ROOT)}:{i}: {line}" for p in _python_files() if p.is_file()
           for i, line in unreasoned_noqa(p.read_text(encoding="utf-8"))]
    assert not bad, "parity: `# noqa` without `: CODE - reason`:\n  " + "\n  ".join(bad)


def test_ruff_is_configured():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert cfg["lint"]["select"], "parity: pyproject.toml [tool.ruff.lint] selects no rule"
    assert "RUF100" in cfg["lint"]["select"], "parity: RUF100 (a noqa that silences nothing) is not selected"
