"""The check catalogue: every parity check of the project, declared once.

The harness finds this package through the entry point ``builtin`` of the group ``parity.catalogues``
(pyproject.toml); it never imports it by name. Each module listed in ``MODULES`` defines
``CHECKS: list[harness.base.Check]``; a name that is not a module, or a module here that declares ``CHECKS``
without being listed, is an error (``harness/catalogue.py``). A module whose framework is not installed is
skipped by the loader with a note, never silently counted as passing. ``builtin`` builds the three reference
implementations; ``signatures()`` documents the components (``parity docs``).
"""

from . import builtin as builtin

MODULES = (
    "checks.toy",
    "checks.eggroll_rng",
    "checks.eggroll.noise",
    "checks.eggroll.forward",
    "checks.eggroll.fitness",
    "checks.eggroll.update",
    "checks.eggroll.optimizer",
    "checks.eggroll.trajectory",
    "checks.eggroll.stats",
    "checks.eggroll.config",
    "checks.eggroll_sharded",
    "checks.losses",
    "checks.train.optim",
    "checks.train.stopping",
    "checks.train.targets",
    "checks.train.trajectory",
    "checks.train.defaults",
    "checks.nets",
    "checks.mcts.game",
    "checks.mcts.steps",
    "checks.mcts.search",
    "checks.mcts.properties",
    "checks.mcts.dirichlet",
    "checks.mcts.mctx",
    "checks.trace",
)


def signatures() -> dict:
    """{component: the function that documents it} (``parity docs``): the stub of its area's spec
    (``reference/<area>/spec.py``), else, for an area without a spec yet, the NumPy oracle's function."""
    from reference import _contract

    documented = {s.component(n): f for s in _contract.specs() for n, f in s.functions.items()}
    oracle = builtin.implementation("numpy").components
    return {**{n: documented.get(n, f) for n, f in oracle.items()}, **documented}
