"""Every counterexample `parity fuzz` ever saved (fixtures/regressions/), replayed on every run.

A case fails when any pair of its check diverges on it: the built-in references, the ports recorded with
the case that still import, and the ports given with --parity-port.
"""

from __future__ import annotations

import pytest

from harness import regressions
from harness.base import PREFIX

CASES = regressions.files()


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}:{p.stem}" for p in CASES])
def test_regression_case(path, parity_runner, parity_checks):
    record, bad, notes = regressions.check_case(path, parity_runner, parity_checks)
    assert not bad, "\n".join(
        [f"{PREFIX} regression case {path} (found by `{record['found'].get('command')}`, hypothesis seed "
         f"{record['hypothesis'].get('seed')} {record['hypothesis'].get('blob')}) diverges again:"]
        + [f"{r.message}\nBlame: {r.blame}" for r in bad] + notes)
