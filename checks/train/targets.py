"""Training: value targets (the final outcome on every position) and the seed's example format."""

from __future__ import annotations

import numpy as np

from checks._common import control
from harness.base import Check, Exact
from reference.nets import encoding


def _targets_case(seed):
    rng = np.random.default_rng(seed)
    n, t = 5, 7
    e = encoding.num_edges(n)
    colours = np.zeros((t, e), np.int64)
    for i in range(1, t):  # a game: one more coloured edge per position
        colours[i] = colours[i - 1]
        free = np.flatnonzero(colours[i] == 0)
        colours[i, rng.choice(free)] = 1 + (i - 1) % 2
    policies = rng.dirichlet(np.ones(e), size=t).astype(np.float32)
    role = (np.arange(t) % 2).astype(np.int64)
    return {"colours": colours, "policies": policies, "player_role": role}


def _run_targets(c, k):
    out = {}
    if "train.value_targets" in c:
        out["train.value_targets"] = {f"winner{w}_{p}": c["train.value_targets"](k["player_role"], w, p)
                                      for w in (0, 1, 2) for p in ("alternating", "fixed")}
    if "train.make_examples" in c:
        out["train.make_examples"] = {
            f"winner{w}": c["train.make_examples"](k["colours"], k["policies"], k["player_role"], w, "alternating")
            for w in (0, 2)}
    return out


def _intermediate_zero(orig):
    def f(player_role, winner, perspective="alternating"):
        v = orig(player_role, winner, perspective)
        return v * (v.new_tensor([0.0] * (v.shape[0] - 1) + [1.0]))  # only the final position valued
    return f


def _draws_minus_one(orig):
    def f(player_role, winner, perspective="alternating"):
        v = orig(player_role, winner, perspective)
        return v - 1.0 if int(winner) == 0 else v  # a draw counted as a loss
    return f


def _fixed_inverted(orig):
    def f(player_role, winner, perspective="alternating"):
        v = orig(player_role, winner, perspective)
        return -v if perspective == "fixed" else v  # second player's perspective
    return f


CHECKS = [
    Check(
        name="train.value_targets", components=("train.value_targets", "train.make_examples"), inputs=_targets_case,
        run=_run_targets, by_component=True, optional=("train.value_targets", "train.make_examples"), mode=Exact(),
        description="the final outcome on every position (alternating / fixed perspective, draws 0) and the "
                    "seed's example format",
        controls=(
            control("intermediate_values_zero", "only the final position gets the outcome, others 0.0",
                    "train.value_targets", _intermediate_zero, target="torch"),
            control("draws_minus_one", "draws valued -1", "train.value_targets", _draws_minus_one, target="jax"),
            control("fixed_perspective_inverted", "fixed perspective is the second player's",
                    "train.value_targets", _fixed_inverted, target="torch"),
        ),
    ),
]
