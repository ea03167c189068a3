"""The README's generated sections (the check table, the components' signatures) equal what the catalogue
gives; ``parity docs --check`` names a drifted section and the command that rewrites it."""

from __future__ import annotations

import os
import shutil

import pytest

from harness import catalogue, docs
from harness.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


@pytest.fixture(scope="module")
def generated():
    checks, notes = catalogue.load()
    if notes:
        pytest.skip("the README's check table is generated from the whole catalogue: " + "; ".join(notes))
    text = open(README, encoding="utf-8").read()
    return text, docs.render(text, checks, catalogue.source().signatures())


def test_the_readme_is_what_parity_docs_writes(generated):
    text, new = generated
    stale = docs.drifted(text, new)
    assert not stale, (f"README.md's generated sections {stale} differ from the catalogue: run "
                       f"{docs.COMMAND} (and commit README.md)")


def test_every_check_and_component_is_in_the_readme(generated):
    text, _ = generated
    checks, _ = catalogue.load()
    table = text.split("<!-- generated: checks -->")[1].split("<!-- /generated -->")[0]
    assert all(f"| `{c.name}` |" in table for c in checks)
    assert f"{len(checks)} checks, {sum(len(c.controls) for c in checks)} negative controls" in table
    documented = [n for n in catalogue.source().signatures() if not n.startswith("toy.")]
    missing = [n for n in documented if f"\n{n}(" not in text]
    assert missing == [], f"components in no generated signatures block: {missing}"


def test_the_top_two_commands_come_first():
    text = open(README, encoding="utf-8").read()
    first = text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["./run report", "./run test"]
    assert "./run lint" in text


def test_docs_check_names_the_drift_and_write_fixes_it(generated, tmp_path, capsys):
    readme = tmp_path / "README.md"
    shutil.copy(README, readme)
    assert main(["docs", "--check", "--readme", str(readme)]) == 0
    text = readme.read_text()
    drifted = text.replace("| `toy.math.softmax` |", "| `toy.math.softmax_renamed` |", 1)
    drifted = drifted.replace("\nlosses.policy(", "\nlosses.policy_loss(", 1)
    readme.write_text(drifted)
    capsys.readouterr()
    assert main(["docs", "--check", "--readme", str(readme)]) == 1
    out = capsys.readouterr().out
    assert "checks" in out and "signatures losses.* nets.* train.*" in out and docs.COMMAND in out
    assert main(["docs", "--write", "--readme", str(readme)]) == 0
    assert readme.read_text() == text  # outside the sections nothing moved
    assert main(["docs", "--check", "--readme", str(readme)]) == 0


def test_an_unknown_section_is_a_usage_error(generated, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- generated: everything -->\nold\n<!-- /generated -->\n")
    assert main(["docs", "--check", "--readme", str(readme)]) == 2
    assert "unknown generated section 'everything'" in capsys.readouterr().err
