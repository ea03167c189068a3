"""Runner semantics on the toy check: pairs, blame, controls, errors, property checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from checks import toy
from harness import ports
from harness.base import Check, Control, Exact, Implementation, Status, Tolerance
from harness.runner import Runner

SOFTMAX = next(c for c in toy.CHECKS if c.name == "toy.math.softmax")


@pytest.fixture(scope="module")
def impls():
    return ports.builtin()[0]


def _broken(impl: Implementation) -> Implementation:
    flipped = impl.patched(impl.name, {"toy.softmax": lambda f: (lambda x, axis=-1: f(-x))})
    return dataclasses.replace(flipped, role=impl.role)


def test_pairs_of_references_and_ports(impls):
    port = Implementation("p", "torch", impls["torch"].components)
    r = Runner({**impls, "p": port})
    assert r.pairs(SOFTMAX) == [("jax", "numpy"), ("torch", "numpy"), ("jax", "torch"), ("p", "numpy"), ("p", "torch")]


def test_blame_names_the_reference_that_left_the_oracle(impls):
    r = Runner({**impls, "torch": _broken(impls["torch"])})
    res = {x.pair: x for x in r.run_check(SOFTMAX)}
    assert res[("jax", "numpy")].status == Status.PASS
    assert res[("torch", "numpy")].status == Status.FAIL and res[("torch", "numpy")].blame == "torch"
    assert res[("jax", "torch")].status == Status.FAIL and res[("jax", "torch")].blame == "torch"
    assert res[("jax", "torch")].failing_components == ["toy.softmax"]


def test_when_both_references_agree_against_the_oracle_the_oracle_is_suspect(impls):
    r = Runner({**impls, "torch": _broken(impls["torch"]), "jax": _broken(impls["jax"])})
    res = {x.pair: x for x in r.run_check(SOFTMAX)}
    assert res[("jax", "torch")].status == Status.PASS
    assert res[("torch", "numpy")].blame.startswith("numpy?")


def test_known_difference_is_reported_not_failed(impls):
    chk = dataclasses.replace(SOFTMAX, known_differences={("torch", "numpy"): "documented: demo"})
    r = Runner({**impls, "torch": _broken(impls["torch"])})
    res = {x.pair: x for x in r.run_check(chk)}
    assert res[("torch", "numpy")].status == Status.KNOWN_DIFFERENCE
    assert "documented: demo" in res[("torch", "numpy")].message


def test_control_that_does_not_diverge_is_missed(impls):
    harmless = Control("noop", "a patch that changes nothing", {"toy.softmax": lambda f: f})
    res = Runner(impls).run_control(SOFTMAX, harmless)
    assert res.status == Status.MISSED and "cannot fail" in res.message


def test_control_naming_the_wrong_component_is_missed(impls):
    ctl = Control("flip", "softmax of -x", {"toy.softmax": lambda f: (lambda x, axis=-1: f(-x))},
                  expect_components=("toy.cross_entropy",))
    res = Runner(impls).run_control(SOFTMAX, ctl)
    assert res.status == Status.MISSED and "named" in res.message


def test_inputs_that_raise_give_error_rows(impls):
    def bad_inputs(seed):
        raise ValueError("no inputs today")

    chk = dataclasses.replace(SOFTMAX, inputs=bad_inputs)
    res = Runner(impls).run_check(chk)
    assert res and all(x.status == Status.ERROR for x in res)
    assert "ValueError: no inputs today (in inputs of toy.math.softmax" in res[0].message


def test_property_checks_run_each_implementation_alone(impls):
    def run(c, case):
        p = c["toy.softmax"](case["logits"])
        return (c.to_numpy(p).sum(axis=-1), np.ones(case["logits"].shape[0], np.float32))

    chk = Check(name="toy.props.sums_to_one", components=("toy.softmax",), inputs=SOFTMAX.inputs, run=run,
                kind="property", mode=Tolerance(), controls=(Control("x", "x", {}),))
    r = Runner(impls)
    assert r.pairs(chk) == [("numpy", "invariant"), ("jax", "invariant"), ("torch", "invariant")]
    assert all(x.status == Status.PASS for x in r.run_check(chk))


def test_outputs_are_computed_once_per_implementation(impls):
    calls = []

    def run(c, case):
        calls.append(c.name)
        return c["toy.argmax"](case["values"])

    chk = Check(name="toy.count.calls", components=("toy.argmax",), inputs=lambda s: {"values": np.eye(3)},
                run=run, mode=Exact(), controls=(Control("x", "x", {}),))
    Runner(impls).run_check(chk)
    assert sorted(calls) == ["jax", "numpy", "torch"]


def test_a_port_failing_a_check_that_varies_a_knob_is_told_how_to_declare_it():
    from harness import catalogue, ports
    from harness.base import Implementation, Status
    from harness.runner import Runner

    check = next(c for c in catalogue.load()[0] if c.name == "mcts.move_choice.tie_last")
    first = lambda visits, valid, config: np.argmax(np.where(valid, visits, -1), axis=-1).astype(np.int32)
    impls, _ = ports.builtin(("numpy",))
    port = Implementation("argmax_port", "numpy", {"mcts.select_move": first}, role="port")
    row = next(r for r in Runner({**impls, "argmax_port": port}).run_check(check, 0) if "argmax_port" in r.pair)
    assert row.status == Status.FAIL and "declares fixed={'tie_break': <its value>}" in row.message
    declared = Implementation("argmax_port", "numpy", {"mcts.select_move": first}, role="port",
                              fixed={"tie_break": "first"})
    row = next(r for r in Runner({**impls, "argmax_port": declared}).run_check(check, 0) if "argmax_port" in r.pair)
    assert row.status == Status.NOT_APPLICABLE


def test_a_port_raising_on_an_input_domain_it_may_exclude_is_told_how_to_declare_it():
    # a search that cannot take a finished game raises on mcts.visits.capacity's finished games: the error says
    # which exclusion to declare, and the declared port passes
    from harness import catalogue, ports
    from harness.base import Implementation, Status
    from harness.runner import Runner
    from reference.mcts.search import np_ref

    check = next(c for c in catalogue.load()[0] if c.name == "mcts.visits.capacity")

    def strict(states, noise, config):
        if np.asarray(states["outcome"]).any():
            raise ValueError("search: a finished game has no move to search")
        return np_ref.search(states, noise, config)

    impls, _ = ports.builtin(("numpy",))
    port = Implementation("strict_port", "numpy", {"mcts.search": strict}, role="port", profiles=("classic",))
    row = next(r for r in Runner({**impls, "strict_port": port}).run_check(check, 0) if "strict_port" in r.pair)
    assert row.status == Status.ERROR and "declares exclusions={'finished_game': <why>}" in row.message
    declared = Implementation("strict_port", "numpy", {"mcts.search": strict}, role="port", profiles=("classic",),
                              exclusions={"finished_game": "self-play never searches a finished game"})
    row = next(r for r in Runner({**impls, "strict_port": declared}).run_check(check, 0) if "strict_port" in r.pair)
    assert row.status == Status.PASS, row.message
