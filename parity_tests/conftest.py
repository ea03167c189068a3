"""The catalogue as pytest items: one test per (check, pair), per negative control, per fuzzed check."""

from __future__ import annotations

import shlex

import pytest

from harness import catalogue, ports
from harness.base import ParityError
from harness.runner import Runner

_STATE: dict = {}


def _state(config):
    if "runner" not in _STATE:
        checks, notes = catalogue.load()
        impls, more = ports.builtin()
        specs = config.getoption("--parity-port")
        for spec in specs:
            p = ports.load_port(spec)
            from harness.declarations import validate

            validate(p, checks)
            impls[p.name] = p
        golden = None
        if config.getoption("--parity-golden"):
            from harness.fixtures import Store

            golden = Store()
        _STATE.update(checks=checks, notes=notes + more,
                      runner=Runner(impls, port_specs=specs, golden=golden, golden_all=not specs))
    return _STATE


def pytest_configure(config):
    try:
        _state(config)
    except ParityError as e:
        raise pytest.UsageError(str(e)) from None


def _group(check):
    """pytest-xdist group of a check's items: checks sharing an input generator share cached runs."""
    return pytest.mark.xdist_group(f"{check.inputs.__module__}.{getattr(check.inputs, '__qualname__', '')}")


def _pid(pair):
    return f"{pair[0]}-vs-{pair[1]}"


def pytest_generate_tests(metafunc):
    st = _state(metafunc.config)
    checks, runner = st["checks"], st["runner"]
    if "parity_pair" in metafunc.fixturenames:
        items, ids = [], []
        for c in checks:
            for pair in runner.pairs(c):
                marks = ([pytest.mark.slow] if c.slow else []) + [_group(c)]
                items.append(pytest.param(c, pair, marks=marks))
                ids.append(f"{c.name}:{_pid(pair)}")
        metafunc.parametrize("parity_check,parity_pair", items, ids=ids)
    if "parity_control" in metafunc.fixturenames:
        items, ids = [], []
        for c in checks:
            for ctl in c.controls:
                items.append(pytest.param(c, ctl, marks=([pytest.mark.slow] if c.slow else []) + [_group(c)]))
                ids.append(f"{c.name}:{ctl.name}")
        metafunc.parametrize("parity_check,parity_control", items, ids=ids)
    if "parity_fuzz_check" in metafunc.fixturenames:
        fuzz = [c for c in checks if c.strategy is not None]
        metafunc.parametrize("parity_fuzz_check", [pytest.param(c, marks=[_group(c)]) for c in fuzz],
                             ids=[c.name for c in fuzz])


@pytest.fixture(scope="session")
def parity_runner(pytestconfig):
    return _state(pytestconfig)["runner"]


@pytest.fixture(scope="session")
def parity_checks(pytestconfig):
    return _state(pytestconfig)["checks"]


@pytest.fixture(scope="session")
def parity_seed(pytestconfig):
    return pytestconfig.getoption("--parity-seed")


@pytest.fixture
def reproduce(request):
    """The command line that reruns this one test."""
    parts = ["./run", "test", request.node.nodeid]
    seed = request.config.getoption("--parity-seed")
    if seed:
        parts.append(f"--parity-seed={seed}")
    for p in request.config.getoption("--parity-port"):
        parts.append(f"--parity-port={p}")
    return " ".join(shlex.quote(p) for p in parts)
