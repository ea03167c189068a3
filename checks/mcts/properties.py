"""Convention-free properties: ``mcts.behaviour`` (winning move most visited, immediate losses avoided, c_puct
-> large follows the priors), ``mcts.behaviour.limits`` (PUCT limits) and ``mcts.config_defaults`` (a port's
default config field by field).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from checks.mcts import common
from checks.mcts.common import AZ, PROFILE_NAMES, B, as_np, check, control, drift, positions
from harness.base import Exact, Knob
from reference.mcts.config import default_config
from reference.mcts.game import np_ref as game_np
from reference.mcts.game import states as game_states
from reference.mcts.game.spec import STATE_KEYS
from reference.mcts.search import np_ref as search_np
from reference.mcts.search.np_ref import table_evaluator as table_evaluator_np
from reference.nets import encoding

# behaviour: 256 reads (at 64 / 128 reads, a losing move whose refutation has a low table prior is not
# always refuted in time: 29 / 7 of 240 block positions failed in the oracle; 0 of 200 at 256)
AZ_BEHAVIOUR = AZ.replace(num_reads=256)
AZ_WIDE_C = AZ.replace(c_puct=1.0e4)  # zero noise (clipped to 0.01) is an input


def _relabel(actions_uv, perm, game):
    """Edge indices of the (u, v) pairs after relabelling the vertices by ``perm``."""
    ids = {tuple(uv): i for i, uv in enumerate(encoding.edge_list(game.n).tolist())}
    return [ids[tuple(sorted((int(perm[u]), int(perm[v]))))] for u, v in actions_uv]


# Positions checked by exhaustive minimax (n=5, k=3): the first player to move.
# WIN: (1,3) completes (0,1),(0,3),(1,3) at once and is the ONLY game-theoretic win (the others: draw or
# loss) -- a position where a second move also forces a win would let the search rightly prefer it.
WIN_LINE = [(1, 4), (1, 2), (0, 3), (0, 4), (0, 1), (0, 2)]
WIN_MOVE = (1, 3)
# BLOCK: the second player owns (0,1),(0,2) and threatens (1,2); the first has no threat of its own.
# Every move but (1,2) lets the opponent complete a triangle at once; (1,2) draws with best play.
BLOCK_LINE = [(0, 3), (0, 1), (2, 4), (0, 2)]
BLOCK_MOVE = (1, 2)


def _behaviour_inputs(seed):
    """One batch of B positions at 256 reads (2 win, 2 block, vertices relabelled at random), and B early
    positions for c -> large (64 reads: the config of mcts.visits with c_puct drifted -- one JAX compile)."""
    rng = np.random.default_rng(seed)
    g = AZ.game
    states, targets = [], []
    for line, move in ((WIN_LINE, WIN_MOVE),) * (B // 2) + ((BLOCK_LINE, BLOCK_MOVE),) * (B - B // 2):
        perm = rng.permutation(g.n)
        states.append(game_states.play(_relabel(line, perm, g), g))
        targets.append(_relabel([move], perm, g)[0])
    s = game_states.stack(states)
    out = {"tactics": {"states": common.int_state(s), "noise": common.root_noise(int(rng.integers(2**31)), s, AZ_BEHAVIOUR),
                       "target": np.array(targets, np.int32)}}
    s = positions(rng, g, B, lo=0, hi=4)
    out["wide"] = {"states": common.int_state(s), "noise": np.zeros((B, g.num_edges), np.float32)}
    return out


def _behaviour_run(c, case):
    x = case["tactics"]
    v = as_np(c, c["mcts.search"](x["states"], x["noise"], AZ_BEHAVIOUR)["visits"])
    hit = np.argmax(v, -1) == as_np(c, x["target"])
    actual = {"win_most_visited": hit[:B // 2], "block_most_visited": hit[B // 2:]}
    expected = {"win_most_visited": np.ones(B // 2, bool), "block_most_visited": np.ones(B - B // 2, bool)}
    if "c_puct" in c.fixed:  # the c -> large limit needs c_puct = 1e4: not for a port that hard-codes it
        return actual, expected
    x = case["wide"]
    v = as_np(c, c["mcts.search"](x["states"], x["noise"], AZ_WIDE_C)["visits"]).astype(np.float64)
    states = {k: as_np(c, x["states"][k]) for k in STATE_KEYS}
    valid = game_np.legal_moves(states, AZ.game)
    # the root priors the spec prescribes for zero noise (clipped to 0.01, w = 0.25 (1 - p)), in float64
    p = search_np.mix_noise(table_evaluator_np(states)[0], np.zeros(valid.shape), valid, states["move_count"], AZ)
    # Q negligible: greedy allocation on P / (1 + N) (D'Hondt): with T = sum N there is a lambda with
    # P/(1+N) <= lambda <= P/N for every action, hence -1 <= N - P T <= P #valid (slack 0.5 for the Q
    # perturbation of near-equal P/(1+N))
    dev = v - p * v.sum(-1, keepdims=True)
    upper = p * valid.sum(-1, keepdims=True) + 0.5
    actual["wide_c_visits_follow_priors"] = np.all((dev >= -1.5) & (dev <= upper), axis=-1)
    expected["wide_c_visits_follow_priors"] = np.ones(B, bool)
    return actual, expected


def _limits_inputs(seed):
    """Expanded nodes with every valid child visited (N >= 1), distinct Q and distinct P / (1 + N)."""
    rng = np.random.default_rng(seed)
    case = {}
    for name, cfg in common.PROFILES.items():
        e, m = cfg.num_edges, 16
        valid = rng.random((m, e)) < 0.7
        valid[:, :2] = True
        n = np.where(valid, rng.integers(1, 9, (m, e)), 0)
        w = np.where(valid, rng.permutation(m * e).reshape(m, e) / (m * e) - 0.5, 0.0) * n  # distinct Q
        p = np.where(valid, rng.random((m, e)) + 0.05, 0.0)
        case[name] = {"w": w.astype(np.float32), "n": n.astype(np.int32),
                      "priors": (p / p.sum(-1, keepdims=True)).astype(np.float32), "valid": valid,
                      "node_n": (1 + n.sum(-1)).astype(np.int32)}
    return case


def _limits_run(c, case):
    """c_puct -> 0 with every child expanded: argmax = argmax Q; c_puct -> large: argmax = argmax P/(1+N)."""
    actual, expected = {}, {}
    for name, cfg in c.sections(common.PROFILES).items():
        x = {k: as_np(c, v) for k, v in case[name].items()}
        args = [case[name][k] for k in ("w", "n", "priors", "valid", "node_n")]
        small = as_np(c, c["mcts.puct_scores"](*args, cfg.replace(c_puct=1e-9)))
        large = as_np(c, c["mcts.puct_scores"](*args, cfg.replace(c_puct=1e9)))
        w, n, p, valid = (x[k].astype(np.float64) for k in ("w", "n", "priors", "valid"))
        q = w / (1 + n) if cfg.q_mode == "w_over_1_plus_n" else w / n.clip(min=1)
        actual[name] = {"greedy_on_q": np.argmax(small, -1), "follows_priors": np.argmax(large, -1)}
        expected[name] = {"greedy_on_q": np.argmax(np.where(valid > 0, q, -np.inf), -1),
                          "follows_priors": np.argmax(np.where(valid > 0, p / (1 + n), -np.inf), -1)}
    return actual, expected


# --------------------------------------------------------------------------------------------------
# mcts.config_defaults (property): a port's defaults field by field against the spec's profiles
# --------------------------------------------------------------------------------------------------

# the settings the spec fixes per profile (mcts.config_defaults compares these, exactly)
SPEC_FIELDS = ("c_puct", "q_mode", "u_mode", "tie_break", "backup_sign", "terminal_detection",
               "terminal_weight", "reads_include_root", "prior_uniform_eps", "root_noise", "noise_scope",
               "alpha_mode", "alpha_default", "alpha_few", "alpha_few_below", "alpha_many", "alpha_many_above",
               "noise_clip", "noise_weight", "noise_weight_schedule", "temperature_schedule",
               "temperature_thresholds", "temperature_values", "temperature_fixed", "target_eps")


def _config_fields(cfg):
    out = {}
    for f in SPEC_FIELDS:
        v = getattr(cfg, f, "<missing>")
        out[f] = "<none>" if v is None else v
    return out


def _defaults_run(c, case):
    actual = {name: _config_fields(c["mcts.default_config"](name)) for name in c.profiles}
    expected = {name: _config_fields(default_config(name)) for name in c.profiles}
    return actual, expected


def _default_drift(**changes):
    def make(orig):
        return lambda name="alphazero_clique": dataclasses.replace(orig(name), **changes) \
            if name == "alphazero_clique" else orig(name)
    return {"mcts.default_config": make}


CHECKS = [
    check("mcts.behaviour", ("mcts.search",), _behaviour_inputs, _behaviour_run, Exact(),
          fuzz=False, kind="property", profiles=("alphazero_clique",), profile_family=PROFILE_NAMES, knobs=(common.C_PUCT,),
          description="convention-free behaviour (alphazero_clique, n=5 k=3, 256 reads): a winning move gets the "
                      "most root visits; the one move that avoids an immediate loss gets the most visits; "
                      "c_puct = 1e4 (64 reads) -> -1 <= N - P sum N <= P #valid (D'Hondt bounds)",
          controls=(
              control("backup_plus_v", "backup +v on every edge", drift("mcts.search", backup_sign="same")),
              control("no_terminal_detection", "terminal leaves valued by the evaluator",
                      drift("mcts.search", terminal_detection=False)),
          )),
    check("mcts.behaviour.limits", ("mcts.puct_scores",), _limits_inputs, _limits_run, Exact(),
          kind="property", profiles=PROFILE_NAMES, knobs=(Knob("c_puct", varies=True),),
          description="PUCT limits, both profiles, nodes with every valid child visited: c_puct = 1e-9 -> the "
                      "selection is greedy on Q; c_puct = 1e9 -> argmax P / (1 + N)",
          controls=(
              control("c_puct_1", "c_puct fixed at 1.0 (the port ignores the configured c_puct)",
                   drift("mcts.puct_scores", c_puct=1.0)),
              control("q_mean_in_alphazero", "Q = W/N in the alphazero_clique profile",
                   drift("mcts.puct_scores", _profile="alphazero_clique", q_mode="mean")),
          )),
    check("mcts.config_defaults", ("mcts.default_config",), lambda seed: {}, _defaults_run, Exact(),
          fuzz=False, kind="property", profiles=PROFILE_NAMES,
          description="a port's default config per profile, field by field, exactly equal to the spec's "
                      "(c_puct, Q / U forms, backup, terminal handling, noise and temperature schedules)",
          controls=(
              control("c_puct_1", "default c_puct 1.0", _default_drift(c_puct=1.0)),
              control("fixed_temperature_1", "no temperature annealing", _default_drift(temperature_schedule="fixed")),
              control("fixed_noise_weight", "fixed noise weight 0.25", _default_drift(noise_weight_schedule="fixed")),
              control("fixed_alpha", "alpha 0.3 whatever the number of legal moves", _default_drift(alpha_mode="fixed")),
          )),
]
