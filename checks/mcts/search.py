"""The whole search: ``mcts.visits`` (table evaluator, both profiles, exact visit counts) and
``mcts.visits.network`` (the policy-value network).

With the policy-value network float32 outputs differ from the float64 oracle's by up to ~9e-8: the evaluator
quantises them (reference/mcts/search/spec.py) so graph-symmetric outputs tie exactly, and the positions whose
oracle search meets a near-tie (a PUCT margin below NEAR_TIE, or a raw output within NET_DELTA of a
quantisation boundary) are detected in the inputs and left out of the comparison.
"""

from __future__ import annotations

import numpy as np

from checks._common import seeded
from checks.mcts import common
from checks.mcts.common import NEAR_TIE, PROFILES, as_np, check, control, drift, positions
from harness.base import Knob, Tolerance
from reference.mcts.config import GameConfig
from reference.mcts.game import states as game_states
from reference.mcts.search import np_ref as search_np


def _visits_inputs(seed):
    rng = np.random.default_rng(seed)
    return {name: common.screened_search_case(rng, cfg, lo=1, hi=cfg.num_edges - 3) for name, cfg in PROFILES.items()}


FUZZ_READS = 16  # `parity fuzz` / test_fuzz: shorter searches (one more JAX compile per profile, once)


def _visits_fuzz_inputs(seed):
    """The fuzzer's cases: B screened positions per profile searched with FUZZ_READS reads."""
    rng = np.random.default_rng(seed)
    case = {name: common.screened_search_case(rng, cfg.replace(num_reads=FUZZ_READS), lo=1, hi=cfg.num_edges - 3)
            for name, cfg in PROFILES.items()}
    case["num_reads"] = FUZZ_READS
    return case


def _visits_run(c, case):
    out = {}
    for name, cfg in c.sections(PROFILES).items():
        cfg = cfg.replace(num_reads=int(case["num_reads"])) if "num_reads" in case else cfg
        r = c["mcts.search"](case[name]["states"], case[name]["noise"], cfg)
        out[name] = {"visits": r["visits"], "q": r["q"], "value": r["value"]}
    return out


# --------------------------------------------------------------------------------------------------
# mcts.visits.fixed_perspective: the seed trainer's fixed-perspective search
# --------------------------------------------------------------------------------------------------

PERSPECTIVE = Knob("perspective", None, varies=True)  # a port searching one convention only declares it fixed


def _fixed_perspective_run(c, case):
    """mcts.visits' alphazero_clique positions searched with perspective='fixed' (the evaluator's value is
    player one's; each parent's edge adds +v when player one is to move there, -v otherwise)."""
    cfg = PROFILES["alphazero_clique"].replace(perspective="fixed")
    cfg = cfg.replace(num_reads=int(case["num_reads"])) if "num_reads" in case else cfg
    section = case["alphazero_clique"]
    r = c["mcts.search"](section["states"], section["noise"], cfg)
    return {"visits": r["visits"], "q": r["q"], "value": r["value"]}


# --------------------------------------------------------------------------------------------------
# mcts.visits.capacity: searches that fill their node budget (every simulation creates a node)
# --------------------------------------------------------------------------------------------------

# root + one node per simulation: 33, 63 and 95 nodes, at the edges of the 32-node blocks the searches allocate
# (the last simulation's node is written but never read, so a budget one node short is invisible; two short is not)
CAPACITY_READS = (32, 62, 94)
# 98 and 126 reads (99 and 127 nodes): the budgets that a block rounding off by one term misses by two nodes or
# more (98: one 32-node block too few; 126: blocks of 31); the first game's last simulation descends through the
# node the one before created, so a node lost to the budget is read back
REENTRY_READS = (98, 126)
# a full-depth line: classic on K4 (E = 6) from the empty board, where a simulation reaches a full board
# (E edges: every per-depth table of a search read at its last row)
DEEP = common.CL.replace(game=GameConfig(n=4, k=3, mode="symmetric"), num_reads=62)


def _capacity_inputs(seed):
    """classic (the root expanded first: num_reads + 1 nodes) from positions one move in, where no
    simulation of the budget reaches a terminal node: every simulation adds a node."""
    rng = np.random.default_rng(seed)
    cl = PROFILES["classic"]
    case = {f"reads_{n}": common.screened_search_case(rng, cl.replace(num_reads=n), lo=0, hi=1)
            for n in CAPACITY_READS}
    case.update({f"reads_{n}": common.screened_search_case(rng, cl.replace(num_reads=n), lo=0, hi=1,
                                                          first=common.reenters_last_node)
                 for n in REENTRY_READS})
    case["deep"] = common.screened_search_case(rng, DEEP, lo=0, hi=0, first=common.reaches_full_depth(DEEP.game))
    # finished games (played to the end) between ongoing ones: a terminal root is not searched -- visits and Q 0,
    # value its outcome -- while the rest of the batch is
    e = cl.num_edges
    ongoing = common.screened_search_case(rng, cl.replace(num_reads=CAPACITY_READS[0]), count=common.B // 2, lo=0, hi=1)
    finished = positions(rng, cl.game, common.B - common.B // 2, lo=e, hi=e, allow_terminal=True)
    order = [(w, i) for i in range(common.B // 2) for w in ("f", "o")]  # finished, ongoing, finished, ongoing
    pick = {"f": {k: np.asarray(v, np.int32) for k, v in finished.items()}, "o": ongoing["states"]}
    case["finished"] = {"states": {k: np.stack([pick[w][k][i] for w, i in order]) for k in ongoing["states"]},
                        "noise": np.stack([np.zeros(e, np.float32) if w == "f" else ongoing["noise"][i]
                                           for w, i in order])}
    return case


def _capacity_run(c, case):
    out = {}
    if "classic" not in c.sections(PROFILES):
        return out
    for n in CAPACITY_READS + REENTRY_READS:
        cfg = PROFILES["classic"].replace(num_reads=n)
        r = c["mcts.search"](case[f"reads_{n}"]["states"], case[f"reads_{n}"]["noise"], cfg)
        out[f"reads_{n}"] = {"visits": r["visits"], "q": r["q"], "value": r["value"]}
    r = c["mcts.search"](case["deep"]["states"], case["deep"]["noise"], DEEP)
    out["deep"] = {"visits": r["visits"], "q": r["q"], "value": r["value"]}
    if not c.excluded("finished_game"):
        r = c["mcts.search"](case["finished"]["states"], case["finished"]["noise"],
                             PROFILES["classic"].replace(num_reads=CAPACITY_READS[0]))
        out["finished"] = {"visits": r["visits"], "q": r["q"], "value": r["value"]}
    return out


# --------------------------------------------------------------------------------------------------
# mcts.visits.host_evaluator: one game searched with a NumPy evaluator, whatever the search's framework
# --------------------------------------------------------------------------------------------------

def _host_inputs(seed):
    rng = np.random.default_rng(seed)
    return {"alphazero_clique": common.screened_search_case(rng, PROFILES["alphazero_clique"], count=2, lo=1,
                                                            hi=PROFILES["alphazero_clique"].num_edges - 3)}


def _host_run(c, case):
    """The evaluator answers in NumPy (a host function): the JAX search calls it through jax.pure_callback."""
    out = {}
    if "alphazero_clique" not in c.sections(PROFILES):
        return out
    cfg = PROFILES["alphazero_clique"]
    evaluator = common.table_evaluator_of("numpy", cfg.game)
    states, noise = case["alphazero_clique"]["states"], case["alphazero_clique"]["noise"]
    for b in range(2):
        r = c["mcts.search_with_evaluator"]({k: v[b] for k, v in states.items()}, evaluator, noise[b], cfg)
        out[f"game_{b}"] = {"visits": r["visits"], "q": r["q"], "value": r["value"]}
    return out


# --------------------------------------------------------------------------------------------------
# mcts.visits.network: the search with the policy-value network; near-ties detected and left out
# --------------------------------------------------------------------------------------------------

NET_B = 6
NET_HIDDEN = 16
AZ_NET = common.AZ.replace(num_reads=32, evaluator="network")
NET_TARGET = common.TARGET


def _network_inputs(seed):
    """Positions, noise, canonical net params, and ``decided``: the positions whose oracle search has no
    near-tie -- neither a PUCT margin below NEAR_TIE nor a raw network output within NET_DELTA of its
    quantisation boundary (reference/mcts/evaluator.py). Only decided positions are compared."""
    from reference.mcts.search.spec import NET_DELTA
    from reference.nets import np_ref as nets

    rng = np.random.default_rng(seed)
    params = nets.init_params(int(rng.integers(2**31)), AZ_NET.game.n, hidden=NET_HIDDEN)
    while True:
        states = positions(rng, AZ_NET.game, NET_B, lo=1, hi=AZ_NET.num_edges - 3)
        noise = common.root_noise(int(rng.integers(2**31)), states, AZ_NET)
        decided = np.zeros(NET_B, bool)
        for b in range(NET_B):
            d, ev = search_np.Diagnostics(), search_np.NetworkEvaluator(params)
            search_np.Oracle(ev, d).search(game_states.stack([game_states.take(states, b)]), noise[b:b + 1], AZ_NET)
            decided[b] = d.min_rel_margin >= NEAR_TIE and ev.min_boundary_distance >= NET_DELTA
        if decided.sum() >= NET_B // 2:
            return {"params": params, "states": common.int_state(states), "noise": noise, "decided": decided}


def _network_run(c, case):
    keep = np.asarray(c.to_numpy(case["decided"]), bool)
    r = c["mcts.search_network"](case["states"], case["noise"], AZ_NET, c["nets.to_native"](case["params"]))
    return {"visits": as_np(c, r["visits"])[keep], "q": as_np(c, r["q"])[keep], "value": as_np(c, r["value"])[keep]}


CHECKS = [
    check("mcts.visits", ("mcts.search",), _visits_inputs, _visits_run, Tolerance(),
          strategy=seeded(_visits_fuzz_inputs), profiles=common.PROFILE_NAMES, knobs=common.SEARCH_KNOBS,
          slow=False,
          description="whole search with the table evaluator and injected noise: root visit counts equal as "
                      "integers, root Q and value within float32 tolerance; alphazero_clique (n=5 k=3 "
                      "symmetric) and classic (n=6 k=4 asymmetric), 64 reads, 4 positions each, near-ties "
                      f"(relative margin < {NEAR_TIE:g}) screened out",
          controls=(
              control("c_puct_1", "c_puct 1.0", drift("mcts.search", c_puct=1.0)),
              control("q_mean_in_alphazero", "Q = W/N in the alphazero_clique profile",
                      drift("mcts.search", _profile="alphazero_clique", q_mode="mean")),
              control("sqrt_sum", "sqrt(sum N) instead of sqrt(1 + sum N) (classic)",
                      drift("mcts.search", _profile="classic", u_mode="sqrt_sum")),
              control("backup_plus_v", "backup +v on every edge", drift("mcts.search", backup_sign="same")),
              control("no_terminal_detection", "terminal leaves valued by the evaluator",
                      drift("mcts.search", terminal_detection=False)),
              control("terminal_weight_1", "terminal weight 1 instead of 2",
                      drift("mcts.search", terminal_weight=1.0)),
              control("noise_over_all_actions", "root noise over all actions in alphazero_clique",
                      drift("mcts.search", _profile="alphazero_clique", noise_scope="all")),
              control("fixed_noise_weight", "fixed noise weight 0.25 in alphazero_clique",
                      drift("mcts.search", noise_weight_schedule="fixed")),
              control("num_reads_plus_1", "num_reads off by one", {"mcts.search": lambda orig: lambda s, z, cfg: orig(
                  s, z, cfg.replace(num_reads=cfg.num_reads + 1))}),
              control("random_tie_break", "ties broken at random (numpy oracle mutant)",
                      drift("mcts.search", tie_break="random"), target="numpy", against="numpy"),
          )),
    check("mcts.visits.fixed_perspective", ("mcts.search",), _visits_inputs, _fixed_perspective_run, Tolerance(),
          strategy=seeded(_visits_fuzz_inputs), profiles=("alphazero_clique",), profile_family=common.PROFILE_NAMES,
          knobs=(*common.SEARCH_KNOBS, PERSPECTIVE),
          description="mcts.visits' alphazero_clique positions searched with perspective='fixed' (the seed "
                      "trainer's mode: the evaluator's value is player one's): visits exact, Q and value within "
                      "float32 tolerance. A port that searches one convention only declares "
                      "fixed={'perspective': 'alternating'} and gets not_applicable",
          controls=(
              control("fixed_perspective_ignored", "perspective='fixed' searched as alternating",
                      drift("mcts.search", perspective="alternating")),
          )),
    check("mcts.visits.host_evaluator", ("mcts.search_with_evaluator",), _host_inputs, _host_run, Tolerance(),
          fuzz=False, profiles=("alphazero_clique",), profile_family=common.PROFILE_NAMES, knobs=common.SEARCH_KNOBS,
          description="one game at a time searched with an evaluator that answers in NumPy, whatever the search's "
                      "framework (the JAX search calls it through jax.pure_callback): visits, Q and value as the "
                      "oracle's",
          controls=(
              control("num_reads_plus_1", "num_reads off by one", drift("mcts.search_with_evaluator",
                                                                         num_reads=common.READS + 1)),
          )),
    check("mcts.visits.capacity", ("mcts.search",), _capacity_inputs, _capacity_run, Tolerance(),
          fuzz=False, profiles=("classic",), profile_family=common.PROFILE_NAMES, knobs=common.SEARCH_KNOBS,
          domains=("finished_game",),
          description="classic searches of 32, 62, 94, 98 and 126 reads from positions one move in, where every "
                      "simulation creates a node (a search that runs out of node slots, or reuses one, diverges; at "
                      "98 and 126 the last simulation re-enters the node the one before created), of 62 reads on K4 "
                      "from the empty board reaching a full board (per-depth tables at their last row), and of "
                      "finished games between ongoing ones (not searched: visits and Q 0, value the outcome; a "
                      "port may exclude the domain)",
          controls=(
              control("num_reads_plus_1", "num_reads off by one", {"mcts.search": lambda orig: lambda s, z, cfg: orig(
                  s, z, cfg.replace(num_reads=cfg.num_reads + 1))}),
          )),
    check("mcts.visits.network", ("mcts.search_network", "nets.to_native"), _network_inputs, _network_run, Tolerance(),
          fuzz=False, profiles=("alphazero_clique",), profile_family=common.PROFILE_NAMES,
          knobs=common.SEARCH_KNOBS,
          description="search with the policy-value network (n=5 k=3, hidden 16, 32 reads, 6 positions): raw "
                      "outputs quantised (logits 2^-6, value 2^-7) so graph-symmetric outputs tie exactly; "
                      "positions whose oracle search has a near-tie (PUCT margin < 1e-5 relative, or a raw "
                      "output within 1e-6 of a quantisation boundary) are detected and left out; visit counts "
                      "exact on the rest",
          controls=(
              control("c_puct_1", "c_puct 1.0", drift("mcts.search_network", 2, c_puct=1.0), target=NET_TARGET),
              control("backup_plus_v", "backup +v on every edge", drift("mcts.search_network", 2, backup_sign="same"),
                   target=NET_TARGET),
          )),
]
