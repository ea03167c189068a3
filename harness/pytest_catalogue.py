"""The catalogue's tests, shipped with the package: every check on every pair, every negative control, the fuzzer.

Collected by the pytest plugin (``harness.pytest_plugin``) when ``--parity`` or ``--parity-port`` is given, or
imported by a project's own test module (this repository's ``parity_tests/test_catalogue.py``).
Test ids: ``test_parity[<check>:<impl>-vs-<impl>]``, ``test_control[<check>:<control>]``,
``test_fuzz[<check>]``. Run one with ``pytest --parity -k '<check>'``.
"""

from __future__ import annotations

import importlib.util

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.base import PREFIX, Status
from harness.pairs import INVARIANT
from harness.runner import ORACLE
from harness.tolerance import SLACK_LIMIT

_RESULTS: dict = {}


def _results(runner, check, seed):
    key = (check.name, seed)
    if key not in _RESULTS:
        _RESULTS[key] = {r.pair: r for r in runner.run_check(check, seed)}
    return _RESULTS[key]


def test_parity(parity_check, parity_pair, parity_runner, parity_seed, reproduce):
    r = _results(parity_runner, parity_check, parity_seed)[parity_pair]
    if r.status == Status.NOT_PROVIDED:
        if parity_runner.impls[parity_pair[0]].role == "port":
            pytest.skip(f"not_provided: {r.message}")  # a port may provide a subset of components
        pytest.fail(f"{PREFIX} a built-in implementation lacks a component of {parity_check.name}: {r.message}")
    if not r.status.ok:
        blame = f"\nBlame: {r.blame}" if r.blame else ""
        pytest.fail(f"{r.message}{blame}\nReproduce: {reproduce}\n       or: {r.reproduce}", pytrace=False)
    if r.status == Status.PASS and r.slack is not None and r.slack > SLACK_LIMIT and not parity_check.slack_reason:
        leaf = max((l for l in r.leaves if l.slack is not None), key=lambda l: l.slack)
        pytest.fail(f"{PREFIX} {parity_check.name} {parity_pair}: its tolerance is {r.slack:.1%} of the term compared "
                    f"at leaf {leaf.path or '<root>'} (max |expected| there {_scale(leaf):.3g}), above "
                    f"{SLACK_LIMIT:.0%}: a divergence that small passes. Change the check's inputs to a regime "
                    "where the term is many tolerances wide, or declare Check(slack_reason=...) saying why "
                    f"not.\nReproduce: {reproduce}", pytrace=False)


def _scale(leaf) -> float:
    """max |expected| of a tolerance leaf, back from its slack (atol + rtol s) / s."""
    if leaf.allowed_abs is None or leaf.allowed_rel is None or leaf.slack <= leaf.allowed_rel:
        return float("nan")
    return leaf.allowed_abs / (leaf.slack - leaf.allowed_rel)


def test_control(parity_check, parity_control, parity_runner, parity_seed, reproduce):
    ctl = parity_control
    absent = [n for n in (ctl.target, ctl.against) if n != INVARIANT and n not in parity_runner.impls]
    if absent and all(importlib.util.find_spec(n) is None for n in absent if n != "numpy"):
        pytest.skip(f"not_provided: control {ctl.name!r} plants in / compares with {', '.join(absent)}, "
                    "whose framework is not installed")
    r = parity_runner.run_control(parity_check, ctl, parity_seed)
    if r.status == Status.NOT_PROVIDED:
        pytest.fail(f"{PREFIX} control {ctl.name!r} of {parity_check.name} could not run: {r.message}")
    assert r.status == Status.DETECTED, f"{r.message}\nReproduce: {reproduce}"


_STRATEGIES: dict = {}


@given(data=st.data())
def test_fuzz(parity_fuzz_check, parity_runner, data, request):
    check = parity_fuzz_check
    if check.name not in _STRATEGIES:
        _STRATEGIES[check.name] = check.strategy()
    case = data.draw(_STRATEGIES[check.name], label="case")
    results = parity_runner.run_case(check, case)
    bad = [r for r in results if r.status in (Status.FAIL, Status.ERROR)]
    assert not bad, "\n".join(
        f"{r.message}\nBlame: {r.blame}" for r in bad) + (
        f"\nReproduce: pytest '{request.node.nodeid}' (derandomized ci profile), or with the blob printed below")


def test_every_check_has_a_negative_control(parity_checks):
    missing = [c.name for c in parity_checks if not c.controls]
    assert not missing, f"{PREFIX} checks without a negative control (a check that cannot fail is a defect): {missing}"


def test_controls_target_known_implementations(parity_checks):
    against_ok = ("numpy", "jax", "torch")
    bad = [(c.name, k.name, k.target, k.against) for c in parity_checks for k in c.controls
           if k.target not in against_ok
           or k.against not in (against_ok + (INVARIANT,) if c.kind == "property" else against_ok)]
    assert not bad, f"{PREFIX} controls with unknown target / against: {bad}"


def test_catalogue_is_not_empty(parity_checks, parity_runner):
    assert parity_checks, f"{PREFIX} no check was loaded"
    assert ORACLE in parity_runner.impls
