"""``mcts.dirichlet_stats``: each framework's own Dirichlet sampler, by distribution.
"""

from __future__ import annotations

import numpy as np

from checks.mcts.common import PROFILE_NAMES, as_np, check, control, drift
from harness.base import Statistical
from reference.mcts.config import GameConfig, profile

DIRICHLET_SAMPLES = 2000
DIRICHLET_GAME = GameConfig(n=7, k=3)  # E = 21: #valid on both sides of 5 and 15
# one config only: JAX compiles its gamma sampler per config (~6 s each on the shared CI machine); the
# scope "all" is covered by the noise_over_all_actions control (a sampler over all E actions fails here)
DIRICHLET_CFG = {"valid": profile("alphazero_clique", game=DIRICHLET_GAME)}


def _dirichlet_inputs(seed):
    e = DIRICHLET_GAME.num_edges
    valid = np.zeros((3, e), bool)
    valid[0, [2, 5, 11]] = True  # 3 valid: alpha 0.15
    valid[1, :10] = True  # 10 valid: alpha 0.3
    valid[2, :18] = True  # 18 valid: alpha 0.4
    return {"seed": int(seed), "pattern": valid}  # each row repeated DIRICHLET_SAMPLES times in run


def _dirichlet_run(c, case):
    out = {}
    n = DIRICHLET_SAMPLES
    for name, cfg in DIRICHLET_CFG.items():
        pattern = np.repeat(np.asarray(as_np(c, case["pattern"]), bool), n, axis=0)
        z = as_np(c, c["mcts.sample_noise"](case["seed"], c.asarray(pattern), cfg)).astype(np.float64)
        few, mid, many = z[:n], z[n:2 * n], z[2 * n:]
        out[name] = {"few_first": few[:, 2], "few_max": few.max(-1), "mid_first": mid[:, 0],
                     "mid_max": mid.max(-1), "many_first": many[:, 0], "many_max": many.max(-1),
                     # exactly 0 for every correct sampler: no mass on actions outside the support
                     "off_support_mass": np.where(pattern, 0.0, z).sum(-1)}
    return out


CHECKS = [
    check("mcts.dirichlet_stats", ("mcts.sample_noise",), _dirichlet_inputs, _dirichlet_run, Statistical(alpha=1e-3),
          fuzz=False, profiles=("alphazero_clique",), profile_family=PROFILE_NAMES,
          description=f"each framework's own Dirichlet sampler: {DIRICHLET_SAMPLES} draws for 3, 10 and 18 valid "
                      "actions (alpha 0.15 / 0.3 / 0.4) over the valid actions of 21, and the mass off them "
                      "(0); two-sample KS per marginal, false-failure budget 1e-3 for the whole check",
          controls=(
              control("fixed_alpha", "alpha 0.3 whatever the number of legal moves",
                      drift("mcts.sample_noise", alpha_mode="fixed")),
              control("noise_over_all_actions", "Dirichlet over all actions instead of the valid ones",
                      drift("mcts.sample_noise", noise_scope="all")),
          )),
]
