"""pytest plugin (entry point ``pytest11``, registered by the installed package): the catalogue as pytest items.

In a user's repository, after ``pip install "backend-parity[torch]"`` (or ``[jax]``, ``[all]``)::

    pytest --parity-port mypkg.parity:PORT            # every check, pair, control and fuzz test vs their port
    pytest --parity                                   # the catalogue on the built-in references only
    pytest --parity-port mypkg.parity:PORT -m "not slow" --parity-golden --parity-device cuda

The catalogue's tests (``harness/pytest_catalogue.py``) are collected only when ``--parity`` or
``--parity-port`` is given; a project whose own test tree imports them sets the ini option
``parity_catalogue = in-tree`` (this repository does), so they are never collected twice.

Options (group "parity")
  --parity-port MODULE:ATTR      add a user's port (harness.base.Implementation) to every check (repeatable)
  --parity                       collect the catalogue even without a port
  --parity-seed N                seed of the checks' inputs (default 0)
  --parity-golden                also compare against the golden files shipped with the package
  --parity-device cpu|cuda       device of the torch references and ports (``cuda`` without CUDA: usage error)
  --parity-numerics pinned|deployed
  --parity-jax-semantics V       the JAX stream the NumPy / torch references reproduce (default: installed JAX's)
Markers: ``parity`` (every catalogue item), ``slow`` (long checks; ``-m "not slow"``).
Hypothesis profiles: ``parity-ci`` (derandomized, 8 examples, no deadline, no database, blob printed),
``parity-dev`` (random, 30), ``parity-fuzz`` (random, 400, database in .hypothesis/examples). When the catalogue
is collected and no profile is chosen (``--hypothesis-profile`` / ``HYPOTHESIS_PROFILE``), ``parity-ci`` is loaded.
"""

from __future__ import annotations

import os
import shlex

import pytest

from . import numerics
from .base import ParityError

CATALOGUE_MODULE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytest_catalogue.py")
_KEY = "_parity_state"


def register_hypothesis_profiles(aliases: bool = False) -> None:
    """``parity-ci`` / ``parity-dev`` / ``parity-fuzz`` (and ``ci`` / ``dev`` / ``fuzz`` with ``aliases``)."""
    from hypothesis import HealthCheck, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    common = dict(deadline=None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])
    profiles = {
        "ci": dict(derandomize=True, max_examples=8, database=None, **common),
        "dev": dict(max_examples=30, **common),
        "fuzz": dict(max_examples=400, database=DirectoryBasedExampleDatabase(".hypothesis/examples"), **common),
    }
    for name, kw in profiles.items():
        settings.register_profile(f"parity-{name}", **kw)
        if aliases:
            settings.register_profile(name, **kw)


def pytest_addoption(parser):
    g = parser.getgroup("parity", "backend-parity catalogue")
    g.addoption("--parity-port", action="append", default=[], metavar="MODULE:ATTR",
                help="add a user's port (harness.base.Implementation) to every check; collects the catalogue")
    g.addoption("--parity", action="store_true", help="collect the parity catalogue (the built-in references)")
    g.addoption("--parity-seed", type=int, default=0, help="seed of the checks' inputs")
    g.addoption("--parity-golden", action="store_true", help="also compare against the golden files")
    g.addoption("--parity-device", choices=numerics.DEVICES, default="cpu",
                help="device of the torch references and ports (JAX: its default backend for cuda)")
    g.addoption("--parity-numerics", choices=numerics.MODES, default="pinned",
                help="pinned (default) or deployed (the frameworks' defaults; drift is reported, never a failure)")
    g.addoption("--parity-catalogue", default=None, metavar="MODULE",
                help="the check catalogue module (default: the installed entry point parity.catalogues:builtin)")
    g.addoption("--parity-jax-semantics", default=None, metavar="VERSION",
                help="JAX stream semantics of the NumPy / torch references (0.4, 0.5, 0.7, 0.8, 0.11 or a version)")
    parser.addini("parity_catalogue", "'in-tree' if the project's own tests import harness.pytest_catalogue",
                  default="auto")


def _wanted(config) -> bool:
    return bool(config.getoption("--parity-port") or config.getoption("--parity"))


def in_tree(config) -> bool:
    return config.getini("parity_catalogue") == "in-tree"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running parity check (trajectories, benchmark-sized inputs)")
    config.addinivalue_line("markers", "parity: an item of the backend-parity catalogue")
    config.addinivalue_line("markers", "xdist_group(name): pytest-xdist loadgroup: one group runs on one worker")
    try:
        from .runner import check_seed

        check_seed(config.getoption("--parity-seed"))
    except ParityError as e:
        raise pytest.UsageError(f"--parity-seed: {e}") from None
    try:
        from . import catalogue

        catalogue.use(config.getoption("--parity-catalogue"))
    except ParityError as e:
        raise pytest.UsageError(f"--parity-catalogue: {e}") from None
    try:
        # verdicts always come from the pinned numerics; --parity-numerics deployed adds the drift summary
        numerics.configure(numerics="pinned", device=config.getoption("--parity-device"),
                           jax_semantics=config.getoption("--parity-jax-semantics"))
        numerics.pin()
    except ParityError as e:
        raise pytest.UsageError(str(e)) from None
    try:
        register_hypothesis_profiles(aliases=in_tree(config))
        from hypothesis import settings

        chosen = os.environ.get("HYPOTHESIS_PROFILE") or config.getoption("hypothesis_profile", None)
        if chosen:
            settings.load_profile(chosen)
        elif _wanted(config) or in_tree(config):
            settings.load_profile("ci" if in_tree(config) else "parity-ci")
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        pass
    if _wanted(config) and not in_tree(config):
        config.args.append(CATALOGUE_MODULE)
    if _wanted(config) or in_tree(config):
        try:
            state(config)
        except ParityError as e:
            raise pytest.UsageError(str(e)) from None


def state(config) -> dict:
    st = getattr(config, _KEY, None)
    if st is None:
        from . import catalogue, ports
        from .runner import Runner

        checks, notes = catalogue.load()
        impls, more = ports.builtin()
        specs = config.getoption("--parity-port")
        for spec in specs:
            p = ports.load_port(spec)
            from .declarations import validate

            validate(p, checks)
            if p.name in impls:
                raise ParityError(f"--parity-port {spec!r}: name {p.name!r} collides with another implementation")
            impls[p.name] = p
        golden = None
        if config.getoption("--parity-golden"):
            from .fixtures import Store

            golden = Store()
        st = dict(checks=checks, notes=notes + more,
                  runner=Runner(impls, port_specs=specs, golden=golden, golden_all=not specs))
        setattr(config, _KEY, st)
    return st


def pytest_report_header(config):
    if not (_wanted(config) or in_tree(config)):
        return None
    from .report import environment

    e = environment()
    n = e["numerics"]
    try:
        from hypothesis import settings

        profile = settings._current_profile
    except ImportError:  # pragma: no cover
        profile = None
    sem = n.get("jax_semantics", {})
    return [f"parity: numpy {e['numpy']}, jax {e.get('jax')} / jaxlib {e.get('jaxlib')} ({e.get('backend')}), "
            f"torch {e.get('torch')} on {n.get('device')}; numerics {n.get('mode')}; JAX stream semantics "
            f"{sem.get('jax_semantics')} ({sem.get('chosen_by')}); hypothesis profile {profile}"]


def _pid(pair):
    return f"{pair[0]}-vs-{pair[1]}"


def _xdist_group(check):
    """pytest-xdist ``--dist loadgroup`` group of a check's items: checks sharing an input generator share
    cached runs (one JAX compile, one torch.distributed group), so they run on one worker."""
    return pytest.mark.xdist_group(f"{check.inputs.__module__}.{getattr(check.inputs, '__qualname__', '')}")


def pytest_generate_tests(metafunc):
    names = metafunc.fixturenames
    if not any(n in names for n in ("parity_pair", "parity_control", "parity_fuzz_check")):
        return
    st = state(metafunc.config)
    checks, runner = st["checks"], st["runner"]
    slow = lambda c: ([pytest.mark.slow] if c.slow else []) + [_xdist_group(c)]
    if "parity_pair" in names:
        items, ids = [], []
        for c in checks:
            for pair in runner.pairs(c):
                items.append(pytest.param(c, pair, marks=slow(c)))
                ids.append(f"{c.name}:{_pid(pair)}")
        metafunc.parametrize("parity_check,parity_pair", items, ids=ids)
    if "parity_control" in names:
        items, ids = [], []
        for c in checks:
            for ctl in c.controls:
                items.append(pytest.param(c, ctl, marks=slow(c)))
                ids.append(f"{c.name}:{ctl.name}")
        metafunc.parametrize("parity_check,parity_control", items, ids=ids)
    if "parity_fuzz_check" in names:
        fuzz = [c for c in checks if c.strategy is not None]
        metafunc.parametrize("parity_fuzz_check", [pytest.param(c, marks=slow(c)) for c in fuzz],
                             ids=[c.name for c in fuzz])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.getoption("--parity-numerics") != "deployed" or not (_wanted(config) or in_tree(config)):
        return
    from .deployed import measure, table

    st = state(config)
    terminalreporter.section("parity: drift under deployed numerics")
    terminalreporter.write_line(table(measure(st["runner"], st["checks"], config.getoption("--parity-seed"))))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("::")[0].endswith(("pytest_catalogue.py", "test_catalogue.py")):
            item.add_marker(pytest.mark.parity)


@pytest.fixture(scope="session")
def parity_runner(pytestconfig):
    return state(pytestconfig)["runner"]


@pytest.fixture(scope="session")
def parity_checks(pytestconfig):
    return state(pytestconfig)["checks"]


@pytest.fixture(scope="session")
def parity_seed(pytestconfig):
    return pytestconfig.getoption("--parity-seed")


@pytest.fixture
def reproduce(request):
    """The command line that reruns this one test."""
    cfg = request.config
    if in_tree(cfg):
        parts = ["./run", "test", request.node.nodeid]
    else:  # the catalogue module lives in site-packages: select the item by its name
        parts = ["pytest", "-k", request.node.name]
    seed = cfg.getoption("--parity-seed")
    if seed:
        parts.append(f"--parity-seed={seed}")
    for p in cfg.getoption("--parity-port"):
        parts.append(f"--parity-port={p}")
    for opt, default in (("--parity-device", "cpu"), ("--parity-numerics", "pinned"),
                         ("--parity-jax-semantics", None)):
        v = cfg.getoption(opt)
        if v != default:
            parts.append(f"{opt}={v}")
    if cfg.getoption("--parity-golden"):
        parts.append("--parity-golden")
    return " ".join(shlex.quote(p) for p in parts)
