"""pytest set-up: numerics pinned once, hypothesis profiles, the parity options and the catalogue.

Options
  --parity-port MODULE:ATTR   add a user's port to every check (repeatable)
  --parity-seed N             seed of the checks' inputs (default 0)
  --parity-golden             also compare against the golden files in fixtures/
Hypothesis profiles (``--hypothesis-profile NAME`` or ``HYPOTHESIS_PROFILE=NAME``; default ``ci``)
  ci    derandomized, 8 examples per fuzz test, no deadline, no example database, failures print the blob
  dev   random, 30 examples, no deadline, failures print the blob
  fuzz  random, 400 examples, example database kept in .hypothesis/ so found failures are replayed first
"""

from __future__ import annotations

import os

from harness import numerics

numerics.pin()  # before any reference module is imported

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis.database import DirectoryBasedExampleDatabase  # noqa: E402

_common = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture])
settings.register_profile("ci", derandomize=True, max_examples=8, database=None, **_common)
settings.register_profile("dev", max_examples=30, **_common)
settings.register_profile("fuzz", max_examples=400,
                          database=DirectoryBasedExampleDatabase(".hypothesis/examples"), **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser):
    g = parser.getgroup("parity")
    g.addoption("--parity-port", action="append", default=[], metavar="MODULE:ATTR",
                help="add a user's port (harness.base.Implementation) to every check")
    g.addoption("--parity-seed", type=int, default=0, help="seed of the checks' inputs")
    g.addoption("--parity-golden", action="store_true", help="also compare against the golden files")


def pytest_report_header(config):
    from harness.report import environment

    e = environment()
    return [f"parity: numpy {e['numpy']}, jax {e.get('jax')} / jaxlib {e.get('jaxlib')} ({e.get('backend')}), "
            f"torch {e.get('torch')}; hypothesis profile {settings._current_profile}; numerics {e['numerics']}"]
