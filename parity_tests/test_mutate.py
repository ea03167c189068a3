"""`parity mutate` on a tiny scope: a few mutants of one small torch function, in this process."""

from __future__ import annotations

import json
import os

import pytest

from harness import mutate
from harness.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY = "reference/losses/torch_ref.py"
SPEC = "reference/losses/spec.py"


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(ROOT)


def _sites(ops):
    ss = mutate.sites([POLICY], frameworks=("torch",), functions=["policy"])
    return [s for s in ss if s.op in ops]


def test_sites_are_stable_and_skip_structure():
    ss = mutate.sites([POLICY], frameworks=("torch",), functions=["policy"])
    ids = [s.id for s in ss]
    assert len(ids) == len(set(ids)) and ids == [s.id for s in mutate.sites([POLICY], frameworks=("torch",),
                                                                          functions=["policy"])]
    assert {s.op for s in ss} >= {"compare", "drop_sign", "add_sub", "drop_term"}
    assert not any(s.original == "-1" for s in ss)  # dim=-1 is an axis, not a constant of the spec
    consts = mutate.sites([SPEC], kinds=("constant",), frameworks=("torch",))  # the constants live in the spec
    assert {(s.scope, s.original, s.mutated) for s in consts} >= {("<module>", "1e-08", "1e-09"),
                                                                   ("<module>", "1e-08", "-1e-08")}
    assert not any(s.top in ("l2", "total", "grad") for s in consts)  # the spec's stubs never run: not mutated
    s = next(s for s in consts if s.top == "EPS")
    assert mutate.affected_components(s) == ["losses.grad", "losses.policy", "losses.total", "train.fit",
                                                 "train.trajectory"]


def test_mutant_is_a_port_and_leaves_the_reference_untouched():
    import torch

    from reference.losses import torch_ref

    before = torch_ref.policy
    site = _sites({"drop_sign"})[0]
    m = mutate.load_mutant(site, "torch")
    assert m.role == "port" and m.framework == "torch" and m.name == "mutant"
    z, t = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]])
    assert float(m.components["losses.policy"](z, t)) == pytest.approx(-float(before(z, t)))
    import sys

    assert sys.modules["reference.losses.torch_ref"] is torch_ref and torch_ref.policy is before


def test_run_kills_a_sign_mutant_and_reports(tmp_path):
    ss = _sites({"drop_sign", "compare"})
    outcomes, left = mutate.run_sites(ss, jobs=0, timeout=120)
    assert not left
    by_op = {o.site.op: o for o in outcomes}
    killed = by_op["drop_sign"]
    assert killed.status == "killed" and "losses.policy" in killed.killed_by and killed.named_precisely
    # target > 1e-7 vs >= 1e-7: no float32 input tells them apart within tolerance -> survives unless listed
    survived = by_op["compare"]
    assert survived.status == "survived"
    mutate.apply_equivalents(outcomes, {survived.site.id: "a target of exactly 1e-7 adds < 2e-6"})
    assert survived.status == "equivalent"
    js, md = mutate.write_report(str(tmp_path), outcomes, [], command="test", seconds=1.0, jobs=0)
    data = json.loads(open(js).read())
    assert data["areas"]["losses"]["score"] == 1.0 and data["areas"]["losses"]["equivalent"] == 1
    assert "Equivalent (reviewed)" in open(md).read()


def test_cli_list_and_errors(capsys, tmp_path):
    rc = main(["mutate", "--module", POLICY, "--function", "policy", "--frameworks", "torch", "--list"])
    out = capsys.readouterr().out
    assert rc == 0 and "policy::drop_sign::-target -> target" in out and "mutant(s)" in out
    assert main(["mutate", "--area", "nope", "--list"]) == 2
    assert "unknown area" in capsys.readouterr().err
    bad = tmp_path / "eq.json"
    bad.write_text('{"x": ""}')
    assert main(["mutate", "--module", POLICY, "--list", "--equivalent", str(bad)]) == 2


def test_reviewed_equivalents_file_is_valid():
    eq = mutate.load_equivalents()
    assert all(k.startswith("reference/") and v.strip() for k, v in eq.items())


def test_stale_equivalent_entries_are_named():
    ss = _sites({"compare"})
    eq = {"reference/losses/torch_ref.py::policy::compare::gone -> away": "was equivalent"}
    assert mutate.stale_equivalents(eq, ss) == list(eq)
    assert mutate.stale_equivalents({ss[0].id: "x"}, ss) == []


def test_a_report_reads_back_and_equivalents_apply_once(tmp_path):
    site = _sites({"compare"})[0]
    outcomes = [mutate.Outcome(site, "survived", components=["losses.policy"], checks=["losses.policy"])]
    js, _ = mutate.write_report(str(tmp_path), outcomes, [], command="first", seconds=2.0, jobs=1)
    data, back = mutate.read_report(js)
    assert back[0].site == site and back[0].status == "survived" and back[0].checks == ["losses.policy"]
    eq = {site.id: "a target of exactly 1e-7 adds < 2e-6"}
    mutate.apply_equivalents(back, eq)
    mutate.apply_equivalents(back, eq)  # a report read back and rescored: no STALE note on its own entry
    assert back[0].status == "equivalent" and "STALE" not in back[0].note
    before = {"command": "first", "areas": mutate.area_scores(outcomes)}
    _, md = mutate.write_report(str(tmp_path / "again"), back, ["x::y"], command="again", seconds=3.0, jobs=1,
                                before=before)
    text = open(md).read()
    assert "Before the survivors were re-run (first)" in text and "| losses | 0 | 1 |" in text
    (tmp_path / "bad.json").write_text('{"mutants": [{"id": 1}]}')
    with pytest.raises(Exception, match="not a mutation report"):
        mutate.read_report(str(tmp_path / "bad.json"))


def test_workers_retire_and_every_outcome_is_journaled(tmp_path, monkeypatch):
    # a worker retires after each mutant here (PARITY_MUTATE_WORKER_MUTANTS=1): a fresh one takes the next, and
    # the journal holds each outcome as it arrives (a stopped run keeps what it measured)
    monkeypatch.setenv("PARITY_MUTATE_WORKER_MUTANTS", "1")
    ss = _sites({"drop_sign", "compare"})[:2]
    journal = str(tmp_path / "mutation.partial.jsonl")
    outcomes, left = mutate.run_sites(ss, jobs=1, timeout=120, journal=journal)
    assert not left and [o.site.id for o in outcomes] == [s.id for s in ss]
    assert {o.status for o in outcomes} <= {"killed", "survived"}
    back = mutate.read_journal(journal)
    assert sorted(o.site.id for o in back) == sorted(s.id for s in ss)
    with open(journal, "a", encoding="utf-8") as fh:
        fh.write('{"id": "torn')  # a run stopped mid-line
    assert len(mutate.read_journal(journal)) == 2


def test_campaign_env_configuration_is_validated_and_recorded(tmp_path):
    # `bench/mutate_campaign.py --env NAME=VALUE`: the catalogue in another configuration (the pure-torch stream,
    # another JAX release's stream); a kill records the configuration that made it, a survivor every one it survived
    import sys

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        import mutate_campaign as mc
    finally:
        sys.path.pop(0)
    assert mc._env(["PARITY_RNG_NATIVE=0", "PARITY_JAX_SEMANTICS=0.4"]) == {"PARITY_RNG_NATIVE": "0",
                                                                            "PARITY_JAX_SEMANTICS": "0.4"}
    for bad in ("PARITY_RNG_NATIVE", "=0", "A B=1"):
        with pytest.raises(SystemExit, match="--env expects NAME=VALUE"):
            mc._env([bad])
    a, b = _sites({"drop_sign", "compare"})[:2]
    old = [mutate.Outcome(a, "survived"), mutate.Outcome(b, "survived", config="PARITY_RNG_NATIVE=0")]
    new = [mutate.Outcome(a, "killed", killed_by=["losses.policy"]), mutate.Outcome(b, "survived")]
    mc._with_config(new, old, {"PARITY_JAX_SEMANTICS": "0.4"})
    assert new[0].config == "PARITY_JAX_SEMANTICS=0.4"
    assert new[1].config == "PARITY_RNG_NATIVE=0 | PARITY_JAX_SEMANTICS=0.4"
    again = [mutate.Outcome(b, "survived")]  # re-run in the default configuration: the record is kept
    mc._with_config(again, new, {})
    assert again[0].config == "PARITY_RNG_NATIVE=0 | PARITY_JAX_SEMANTICS=0.4"
    js, md = mutate.write_report(str(tmp_path), new, [], command="c", seconds=1.0, jobs=1)
    assert [o.config for o in mutate.read_report(js)[1]] == [new[0].config, new[1].config]
    assert "losses.policy (with PARITY_JAX_SEMANTICS=0.4)" in open(md).read()
