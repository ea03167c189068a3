"""The pair sides that are not implementations (``Invariant``, ``Golden``): their JSON spelling, their labels,
and no harness module spelling them out."""

from __future__ import annotations

import ast
import copy
import json
import os

from harness.pairs import GOLDEN, INVARIANT, Golden, Invariant, pair_label, replayable, side

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_spelling_labels_and_replay():
    assert json.dumps(["torch", INVARIANT, GOLDEN]) == '["torch", "invariant", "golden"]'
    assert INVARIANT == "invariant" and INVARIANT.name == "invariant" and isinstance(INVARIANT, Invariant)
    assert side("golden") is GOLDEN and isinstance(side("golden"), Golden) and side("numpy") is None
    # --jobs workers send their rows through multiprocessing queues: the reduce protocol (exercised here by deepcopy,
    # without unpickling anything) must rebuild the side as its class
    copied = copy.deepcopy(("jax", INVARIANT, GOLDEN))
    assert copied[1] == INVARIANT and isinstance(copied[1], Invariant) and isinstance(copied[2], Golden)
    assert pair_label(("jax", "numpy")) == "jax vs numpy"
    assert pair_label(["torch", "invariant"]) == pair_label(("torch", INVARIANT)) == "torch (invariant)"
    assert pair_label(("p", GOLDEN)) == "p vs golden"
    assert replayable(("jax", "numpy")) and replayable(("jax", INVARIANT)) and not replayable(("p", "golden"))


def test_no_harness_module_spells_the_special_sides():
    here = os.path.join(ROOT, "harness")
    found = []
    for f in sorted(os.listdir(here)):
        if not f.endswith(".py") or f == "pairs.py":
            continue
        for node in ast.walk(ast.parse(open(os.path.join(here, f)).read())):
            if isinstance(node, ast.Compare):
                consts = [c for c in ast.walk(node) if isinstance(c, ast.Constant) and c.value in ("invariant", "golden")]
                if consts:
                    found.append(f"harness/{f}:{node.lineno}")
    assert found == [], "compare with harness.pairs.INVARIANT / GOLDEN (or their methods), not strings: " + \
        ", ".join(found)
