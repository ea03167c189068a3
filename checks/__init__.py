"""The check catalogue: every parity check of the project, declared once.

Each module here defines ``CHECKS: list[harness.base.Check]``. Add a module to ``MODULES`` to register it.
A module whose framework is not installed is skipped by the catalogue loader with a note, never silently
counted as passing.
"""

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
