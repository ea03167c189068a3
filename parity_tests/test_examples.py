"""The worked examples (examples/<name>/port.py): PORT passes and compares things, DRIFTED fails and names the
drifted component, and the glue stays within 60 lines (issue 9, item 5)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from harness import catalogue, cli, ports
from harness.base import Status
from harness.runner import Runner

ROOT = Path(__file__).resolve().parents[1]
CHECKS = {c.name: c for c in catalogue.load()[0]}
GLUE_LIMIT = 60


def glue_lines(path: Path) -> int:
    """Non-blank, non-comment lines outside docstrings (imports included)."""
    src = path.read_text()
    tree = ast.parse(src)
    doc: set[int] = set()
    for node in [tree, *ast.walk(tree)]:
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node):
            first = node.body[0]
            doc |= set(range(first.lineno, first.end_lineno + 1))
    return sum(1 for i, line in enumerate(src.splitlines(), 1)
               if line.strip() and not line.strip().startswith("#") and i not in doc)


@pytest.mark.parametrize("name", ["alphazero_torch", "eggroll_jax"])
def test_glue_is_short(name):
    n = glue_lines(ROOT / "examples" / name / "port.py")
    assert n <= GLUE_LIMIT, f"examples/{name}/port.py has {n} glue lines (limit {GLUE_LIMIT})"


def _run(port, names, impls=("numpy",)):
    builtin = ports.builtin(impls)[0]
    runner = Runner({**builtin, port.name: port})
    out = []
    for name in names:
        out += [r for r in runner.run_check(CHECKS[name]) if port.name in r.pair]
    return out


# ------------------------------------------------------------------------------------ alphazero_torch

AZ_CHECKS = ("mcts.game", "mcts.puct", "mcts.visits", "mcts.behaviour", "losses.total", "trace.mcts")


def test_alphazero_torch_port_passes_and_compares():
    from examples.alphazero_torch.port import PORT

    rows = _run(PORT, AZ_CHECKS)
    bad = [(r.check, r.status.value, r.message[:300]) for r in rows if not r.status.ok]
    assert not bad, bad
    compared = {r.check for r in rows if r.status == Status.PASS and r.leaves}
    assert compared == set(AZ_CHECKS), compared


def test_alphazero_torch_drifted_is_caught_and_named():
    from examples.alphazero_torch.port import DRIFTED

    rows = {r.check: r for r in _run(DRIFTED, ("mcts.puct", "mcts.visits", "trace.mcts"))}
    assert rows["mcts.puct"].status == Status.FAIL and rows["mcts.puct"].failing_components == ["mcts.puct_scores"]
    assert rows["mcts.visits"].status == Status.FAIL and rows["mcts.visits"].failing_components == ["mcts.search"]
    assert rows["trace.mcts"].status == Status.FAIL and "mcts.select" in rows["trace.mcts"].failing_components


def test_alphazero_torch_through_the_cli(capsys):
    code = cli.main(["check", "--port", "examples.alphazero_torch.port:PORT", "--impl", "numpy", "-k",
                     "mcts.puct or mcts.game", "--no-controls", "-q"])
    assert code == 0
    code = cli.main(["check", "--port", "examples.alphazero_torch.port:DRIFTED", "--impl", "numpy", "-k",
                     "mcts.puct", "--no-controls", "-q"])
    out = capsys.readouterr().out
    assert code == 1 and "alphazero_torch_drifted" in out and "mcts.puct" in out


# ---------------------------------------------------------------------------------------- eggroll_jax


def _short_trajectory():
    """eggroll.trajectory on one of its six (G, R) configs (G = 0, R = 0) and 2 epochs: the library compiles
    once per config (the whole grid runs in `parity check`)."""
    traj = CHECKS["eggroll.trajectory"]

    def inputs(seed):
        case = traj.inputs(seed)
        case["configs"] = {k: v for k, v in case["configs"].items() if k == "G0_R0"}
        case["epochs"] = 2
        return case

    return dataclasses.replace(traj, inputs=inputs)


def test_eggroll_jax_port_passes_and_drifted_is_named():
    pytest.importorskip("jax")
    from examples.eggroll_jax.port import DRIFTED, PORT

    short = _short_trajectory()
    for port, want in ((PORT, Status.PASS), (DRIFTED, Status.FAIL)):
        builtin = ports.builtin(("numpy",))[0]
        r = next(x for x in Runner({**builtin, port.name: port}).run_check(short) if x.pair == (port.name, "numpy"))
        assert r.status == want, r.message[:500]
        assert r.leaves
        if want == Status.FAIL:
            assert r.failing_components == ["eggroll.epoch"]
            first = next(l for l in r.leaves if not l.ok)
            assert first.path.startswith("['G0_R0']['epoch'][1]"), first.path  # R = 0 read as fresh at epoch 1
    rows = _run(PORT, ("eggroll.forward", "eggroll.fitness.group_norm"))
    assert rows and all(r.status == Status.PASS and r.leaves for r in rows), [(r.check, r.message) for r in rows]


def test_eggroll_jax_whole_step_traced_and_drift_named_at_its_first_tap():
    """The library's own step, reached through ``eggroll.step`` on the harness's model: the port passes
    trace.eggroll on the taps it emits, DRIFTED (noise_reuse 0 read as fresh) diverges first at the raw
    fitness of epoch 1."""
    pytest.importorskip("jax")
    from examples.eggroll_jax.port import DRIFTED, PORT

    for port, want in ((PORT, Status.PASS), (DRIFTED, Status.FAIL)):
        r = next(x for x in _run(port, ("trace.eggroll",)) if x.pair == (port.name, "numpy"))
        assert r.status == want, r.message[:500]
        assert r.leaves
        if want == Status.FAIL:
            assert "first divergent tap: eggroll.fitness.raw#1" in r.message, r.message[:300]
            assert r.failing_components[0] == "eggroll.fitness", r.failing_components
