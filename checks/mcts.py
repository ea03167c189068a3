"""MCTS parity checks (issue 5): the clique game, PUCT, backup, noise, temperature, move choice, the search.

Every convention is a setting of ``reference.mcts.config.MCTSConfig``; a negative control runs a port's
component with ONE drifted setting (``_drift``) against the numpy oracle with the right one, so the control
names exactly the convention a port could get wrong. Inputs are small (n in {5, 6}, k in {3, 4},
num_reads 64, batches of 4 positions) and use few distinct configs: the JAX search compiles once per
config. The Dirichlet noise of the search is an INPUT (numpy), so visit counts compare exactly.

Search inputs are screened for near-ties: the oracle records, for every PUCT decision, the gap between the
best and the runner-up score relative to |Q| + |U| of both; a position whose smallest gap is below
``NEAR_TIE`` (float32 rounding of Q + U is ~1e-7 relative; the table evaluator's priors and values are
exact in float32) is replaced, so a last-bit difference between frameworks cannot flip a decision.

With the policy-value network (mcts.visits.network) float32 outputs differ from the float64 oracle's by up
to ~9e-8: the evaluator quantises them (reference/mcts/evaluator.py) so graph-symmetric outputs tie exactly,
and the positions whose oracle search meets a near-tie (a PUCT margin below NEAR_TIE, or a raw output within
NET_DELTA of a quantisation boundary) are detected in the inputs and left out of the comparison.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from harness.base import Check, Control, Exact, Knob, Statistical, Tolerance
from reference.mcts.config import GameConfig, default_config, profile
from reference.mcts.game import np_ref as game_np
from reference.mcts.game import states as game_states
from reference.mcts.search import np_ref as search_np
from reference.mcts.search.np_ref import table_evaluator as table_evaluator_np

B = 4  # positions per batch (fixed: one JAX compile per config)
READS = 64
NEAR_TIE = 1e-5
TARGET = "torch"  # framework whose components the negative controls mutate

G_SYM = GameConfig(n=5, k=3, mode="symmetric")  # E = 10
G_ASYM = GameConfig(n=6, k=4, mode="asymmetric")  # E = 15
AZ = profile("alphazero_clique", game=G_SYM, num_reads=READS)
CL = profile("classic", game=G_ASYM, num_reads=READS)
PROFILES = {"alphazero_clique": AZ, "classic": CL}
# behaviour: 256 reads (at 64 / 128 reads, a losing move whose refutation has a low table prior is not
# always refuted in time: 29 / 7 of 240 block positions failed in the oracle; 0 of 200 at 256)
AZ_BEHAVIOUR = AZ.replace(num_reads=256)
AZ_WIDE_C = AZ.replace(c_puct=1.0e4)  # zero noise (clipped to 0.01) is an input

# port declarations (harness/declarations.py): the profile sections of the mixed checks, the knobs real
# code hard-codes, with the spec's values per profile
PROFILE_NAMES = ("alphazero_clique", "classic")
C_PUCT = Knob("c_puct", {"alphazero_clique": 3.0, "classic": 1.25})
TERMINAL_WEIGHT = Knob("terminal_weight", {"alphazero_clique": 2.0, "classic": 1.0})
NOISE_WEIGHT = Knob("noise_weight", 0.25)

# the settings the spec fixes per profile (mcts.config_defaults compares these, exactly)
SPEC_FIELDS = ("c_puct", "q_mode", "u_mode", "tie_break", "backup_sign", "terminal_detection",
               "terminal_weight", "reads_include_root", "prior_uniform_eps", "root_noise", "noise_scope",
               "alpha_mode", "alpha_default", "alpha_few", "alpha_few_below", "alpha_many", "alpha_many_above",
               "noise_clip", "noise_weight", "noise_weight_schedule", "temperature_schedule",
               "temperature_thresholds", "temperature_values", "temperature_fixed", "target_eps")


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _drift(component: str, _config_arg: int = -1, **changes):
    """patch: the port's ``component`` called with its config (positional argument ``_config_arg``, the
    last by default) drifted by ``changes``."""
    def make(orig):
        def mutant(*args):
            args = list(args)
            args[_config_arg] = dataclasses.replace(args[_config_arg], **changes)
            return orig(*args)
        return mutant
    return {component: make}


def _ctl(name, description, patch, target=None, **kw):
    """A negative control on ``TARGET`` (unless ``target`` is given), against the numpy oracle."""
    return Control(name, description, patch, target=target or TARGET, **kw)


def _seeds(inputs):
    """A hypothesis strategy of cases: ``inputs`` of a drawn seed (shapes fixed: no JAX recompile)."""
    def strategy():
        from hypothesis import strategies as st

        return st.integers(0, 2**31 - 1).map(inputs)
    return strategy


def _np(c, x):
    return np.asarray(c.to_numpy(x))


def random_position(rng, game, moves: int, allow_terminal: bool = False):
    """A single state after ``moves`` random legal moves (None if the game ended and not allowed)."""
    s = game_states.initial_state(game, batch=None)
    for _ in range(moves):
        legal = np.flatnonzero(game_np.legal_moves(s, game))
        if legal.size == 0:
            break
        s = game_np.apply_move(s, np.int64(rng.choice(legal)), game)
    if s["outcome"] != 0 and not allow_terminal:
        return None
    return s


def positions(rng, game, count: int, lo: int = 0, hi: int | None = None, allow_terminal: bool = False):
    hi = game.num_edges - 2 if hi is None else hi
    out = []
    while len(out) < count:
        s = random_position(rng, game, int(rng.integers(lo, hi + 1)), allow_terminal)
        if s is not None:
            out.append(s)
    return game_states.stack(out)


def _state(x):
    return {k: np.asarray(x[k], np.int32) for k in game_states.STATE_KEYS}


def _root_noise(seed, states, config):
    return search_np.sample_noise(seed, game_np.legal_moves(states, config.game), config)


def screened_search_case(rng, config, count=B, lo=0, hi=None):
    """``count`` ongoing positions + noise whose oracle search has no near-tie (see module docstring)."""
    keep, noises = [], []
    while len(keep) < count:
        s = positions(rng, config.game, 1, lo, hi)
        z = _root_noise(int(rng.integers(2**31)), s, config)
        d = search_np.Diagnostics()
        search_np.Oracle(diagnostics=d).search(s, z, config)
        if d.min_rel_margin >= NEAR_TIE:
            keep.append(game_states.take(s, 0))
            noises.append(z[0])
    return {"states": _state(game_states.stack(keep)), "noise": np.stack(noises).astype(np.float32)}


# --------------------------------------------------------------------------------------------------
# mcts.game: legal moves, clique detection, terminal values, encoding
# --------------------------------------------------------------------------------------------------

GAMES = {"sym": G_SYM, "asym": G_ASYM}
GAME_MODES = {"sym": "symmetric", "asym": "asymmetric"}  # profile tags of the sections (game modes)


def _game_inputs(seed):
    rng = np.random.default_rng(seed)
    case = {}
    for name, game in GAMES.items():
        # late positions: a random legal move from them often completes a clique or fills the board
        before = positions(rng, game, 8, lo=game.num_edges // 2, hi=game.num_edges - 1)
        legal = game_np.legal_moves(before, game)
        action = np.array([rng.choice(np.flatnonzero(l)) for l in legal], np.int32)
        after = game_np.apply_move(before, action, game)
        terminal = positions(rng, game, 4, lo=game.num_edges, hi=game.num_edges, allow_terminal=True)
        case[name] = {"before": _state(before), "action": action, "after": _state(after),
                      "terminal": _state(terminal)}
    return case


def edge_set(c, encoded):
    """The encoding as the spec fixes it: a SET of directed edges with their features. The order of the
    columns of edge_index is a layout choice (free), so edges are sorted by (source, target) and the
    feature rows follow; the features themselves ([empty, first, second] one-hot) are compared as they are."""
    ei = np.asarray(c.to_numpy(encoded["edge_index"])).astype(np.int64)
    attr = np.asarray(c.to_numpy(encoded["edge_attr"]))
    order = np.lexsort((ei[1], ei[0]))
    return {"edges": ei[:, order].T, "edge_attr": attr[..., order, :]}


def _game_run(c, case):
    comps = [k for k in ("mcts.legal_moves", "mcts.apply_move", "mcts.terminal_value", "mcts.encode") if k in c]
    out = {k: {} for k in comps}
    for name, game in GAMES.items():
        if GAME_MODES[name] not in c.profiles:
            continue
        x = case[name]
        if "mcts.legal_moves" in c:
            out["mcts.legal_moves"][name] = [c["mcts.legal_moves"](x[k], game)
                                             for k in ("before", "after", "terminal")]
        if "mcts.apply_move" in c:
            out["mcts.apply_move"][name] = c["mcts.apply_move"](x["before"], x["action"], game)
        if "mcts.terminal_value" in c:
            out["mcts.terminal_value"][name] = [c["mcts.terminal_value"](x[k], game)
                                                for k in ("before", "after", "terminal")]
        if "mcts.encode" in c:
            out["mcts.encode"][name] = edge_set(c, c["mcts.encode"](x["after"], game))
    return out


# Mutants are written in NumPy on np.asarray(...) of the port's outputs, so that one mutant serves any
# target framework (the harness compares NumPy views anyway).


def _no_clique_detection(orig):
    # the winner is never detected: only a full board ends the game
    def f(state, action, game):
        out = dict(orig(state, action, game))
        full = np.all(np.asarray(out["colours"]) != 0, axis=-1)
        out["outcome"] = (full * (3 if game.mode == "symmetric" else 2)).astype(np.int32)
        return out
    return f


def _value_for_last_mover(orig):
    def f(state, game):
        v, done = orig(state, game)
        return -np.asarray(v), done
    return f


def _legal_after_end(orig):
    return lambda state, game: np.asarray(state["colours"]) == 0  # forgets that a finished game has no moves


def _encode_one_direction(orig):
    def f(state, game):
        out = dict(orig(state, game))
        attr = np.asarray(out["edge_attr"]).copy()
        attr[..., game.num_edges:, :] = 0.0  # reverse direction left empty
        out["edge_attr"] = attr
        return out
    return f


# --------------------------------------------------------------------------------------------------
# mcts.puct
# --------------------------------------------------------------------------------------------------


def _puct_inputs(seed):
    rng = np.random.default_rng(seed)
    case = {}
    for name, cfg in PROFILES.items():
        e = cfg.num_edges
        states = positions(rng, cfg.game, 8)
        valid = game_np.legal_moves(states, cfg.game)
        # the evaluator's priors masked and renormalised (mix_noise without root noise)
        priors = search_np.mix_noise(table_evaluator_np(states)[0], 0.0, valid, 0, cfg.replace(root_noise=False))
        priors = priors.astype(np.float32)
        n = np.where(valid, rng.integers(0, 12, (8, e)), 0)
        n[0] = 0  # a fresh node: only U matters
        w = np.where(n > 0, rng.integers(-2 * 128, 2 * 128 + 1, (8, e)) * n / 128.0, 0.0) / 2.0
        case[name] = {"w": w.astype(np.float32), "n": n.astype(np.int32), "priors": priors, "valid": valid,
                      "node_n": (1 + n.sum(-1)).astype(np.int32)}
    return case


def _puct_run(c, case):
    return {name: c["mcts.puct_scores"](x["w"], x["n"], x["priors"], x["valid"], x["node_n"], PROFILES[name])
            for name, x in ((k, case[k]) for k in c.sections(PROFILES))}


# --------------------------------------------------------------------------------------------------
# mcts.backup
# --------------------------------------------------------------------------------------------------


def _backup_inputs(seed):
    rng = np.random.default_rng(seed)
    case = {}
    for name, cfg in PROFILES.items():
        m = 16
        depth = rng.integers(0, cfg.num_edges + 1, m)
        term = np.arange(m) % 2 == 0
        v = np.where(term, rng.choice([-1.0, 0.0, 1.0], m), rng.integers(-127, 128, m) / 128.0)
        v[0], v[1], depth[0], depth[1] = 1.0, -0.5, 3, 4
        case[name] = {"v": v.astype(np.float32), "depth": depth.astype(np.int32), "terminal": term}
    return case


def _backup_run(c, case):
    return {name: c["mcts.backup"](case[name]["v"], case[name]["depth"], case[name]["terminal"], cfg)
            for name, cfg in c.sections(PROFILES).items()}


# --------------------------------------------------------------------------------------------------
# mcts.noise_mix: valid-only vs all, alpha by number of legal moves, clipping, w = 0.25 (1 - p)
# --------------------------------------------------------------------------------------------------


def _noise_inputs(seed):
    rng = np.random.default_rng(seed)
    case = {}
    for name, cfg in PROFILES.items():
        states = positions(rng, cfg.game, 8, lo=1)
        valid = game_np.legal_moves(states, cfg.game)
        priors = table_evaluator_np(states)[0]
        # row 0: every prior on an invalid action, mass < 1e-8 on the valid ones -> the uniform fallback
        priors[0] = np.where(valid[0], 0.0, 1.0 / max(1, int((~valid[0]).sum()))).astype(np.float32)
        case[name] = {"priors": priors, "noise": _root_noise(seed, states, cfg),
                      "valid": valid, "move_count": states["move_count"].astype(np.int32)}
    case["num_valid"] = np.arange(1, 31, dtype=np.int32)  # both sides of 5 and 15
    return case


def _noise_run(c, case):
    out = {}
    if "mcts.mix_noise" in c:
        out["mcts.mix_noise"] = {
            name: c["mcts.mix_noise"](x["priors"], x["noise"], x["valid"], x["move_count"], PROFILES[name])
            for name, x in ((k, case[k]) for k in c.sections(PROFILES))}
        if "alphazero_clique" in c.sections(PROFILES):  # root_noise off: the priors masked and renormalised only
            x = case["alphazero_clique"]
            out["mcts.mix_noise"]["no_root_noise"] = c["mcts.mix_noise"](
                x["priors"], x["noise"], x["valid"], x["move_count"],
                PROFILES["alphazero_clique"].replace(root_noise=False))
    if "mcts.noise_alpha" in c:
        num_valid = case["num_valid"][1:] if c.excluded("one_legal_move") else case["num_valid"]
        out["mcts.noise_alpha"] = {name: c["mcts.noise_alpha"](num_valid, cfg)
                                   for name, cfg in c.sections(PROFILES).items()}
    return out


# --------------------------------------------------------------------------------------------------
# mcts.temperature: schedule with strict boundaries, target formula
# --------------------------------------------------------------------------------------------------

TEMP_GAMES = {"E10": AZ, "E15": AZ.replace(game=G_ASYM)}  # boundaries p = 0.2 ... 0.8 fall on moves exactly


def _temperature_inputs(seed):
    rng = np.random.default_rng(seed)
    case = {}
    for name, cfg in TEMP_GAMES.items():
        e = cfg.num_edges
        mc = np.arange(e + 1, dtype=np.int32)
        visits = rng.integers(0, 20, (e + 1, e))
        valid = rng.random((e + 1, e)) < 0.7
        valid[:, 0] = True
        visits = np.where(valid, visits, 0)
        visits[:, 1] = 0  # an unvisited valid action: (0 + eps)^(1/T)
        visits[::3] = 0  # roots with no visits at all (several T): pi uniform over valid, only the eps avoids 0 / 0
        case[name] = {"move_count": mc, "visits": visits.astype(np.int32), "valid": valid,
                      "temp": search_np.temperature(mc, cfg).astype(np.float32)}
    case["classic_mc"] = np.arange(CL.num_edges + 1, dtype=np.int32)
    return case


def _temperature_run(c, case):
    # the last move count of every section is E: a finished game (a port may exclude that domain)
    end = -1 if c.excluded("finished_game") else None
    games = TEMP_GAMES if "alphazero_clique" in c.profiles else {}
    out = {}
    if "mcts.temperature" in c:
        temp = {name: c["mcts.temperature"](case[name]["move_count"][:end], cfg) for name, cfg in games.items()}
        if "classic" in c.profiles:
            temp["classic"] = c["mcts.temperature"](case["classic_mc"][:end], CL)
        out["mcts.temperature"] = temp
    if "mcts.target_policy" in c:
        out["mcts.target_policy"] = {
            name: c["mcts.target_policy"](case[name]["visits"][:end], case[name]["valid"][:end],
                                          case[name]["temp"][:end], cfg) for name, cfg in games.items()}
    return out


def _non_strict_boundaries(orig):
    # p <= threshold instead of p < threshold: the next bracket's value exactly on a boundary
    def f(move_count, config):
        mc = np.asarray(move_count)
        p = mc / config.num_edges
        out = np.full(mc.shape, config.temperature_values[-1], np.float32)
        for t, v in reversed(list(zip(config.temperature_thresholds, config.temperature_values))):
            out = np.where(p <= t, np.float32(v), out)
        return out if config.temperature_schedule == "annealed" else orig(move_count, config)
    return f


def _target_power_t(orig):
    # (N + eps)^T instead of (N + eps)^(1/T)
    return lambda visits, valid, temp, config: orig(visits, valid, 1.0 / temp, config)


# --------------------------------------------------------------------------------------------------
# mcts.move_choice
# --------------------------------------------------------------------------------------------------


def _move_inputs(seed):
    rng = np.random.default_rng(seed)
    visits = rng.integers(0, 4, (32, 10))  # small integers: many ties
    valid = rng.random((32, 10)) < 0.8
    valid[:, 3] = True
    visits = np.where(valid, visits, 0)
    visits[:4] = np.where(valid[:4], 2, 0)  # all-tied rows
    return {"visits": visits.astype(np.int32), "valid": valid}


def _move_run(c, case):
    return c["mcts.select_move"](case["visits"], case["valid"], AZ)


def _random_tie_select(orig):
    def f(visits, valid, config):
        rng = np.random.default_rng(0)
        n = np.where(np.asarray(valid), np.asarray(visits).astype(np.float64), -1.0)
        return np.argmax(n + 0.5 * rng.random(n.shape), axis=-1).astype(np.int32)  # uniform among tied maxima
    return f


def _unmasked_select(orig):
    return lambda visits, valid, config: np.argmax(np.asarray(visits), axis=-1).astype(np.int32)


def _move_inputs_masked(seed):
    case = _move_inputs(seed)
    # a row whose valid actions are all unvisited: an unmasked argmax picks index 0 (invalid here)
    case["valid"][4:8, 0] = False
    case["visits"][4:8] = 0
    return case


# --------------------------------------------------------------------------------------------------
# mcts.visits: the whole search, both profiles, exact visit counts
# --------------------------------------------------------------------------------------------------


def _visits_inputs(seed):
    rng = np.random.default_rng(seed)
    return {name: screened_search_case(rng, cfg, lo=1, hi=cfg.num_edges - 3) for name, cfg in PROFILES.items()}


FUZZ_READS = 16  # `parity fuzz` / test_fuzz: shorter searches (one more JAX compile per profile, once)


def _visits_strategy():
    """Fresh seeds: B screened positions per profile searched with FUZZ_READS reads."""
    from hypothesis import strategies as st

    def small(seed):
        rng = np.random.default_rng(seed)
        case = {name: screened_search_case(rng, cfg.replace(num_reads=FUZZ_READS), lo=1, hi=cfg.num_edges - 3)
                for name, cfg in PROFILES.items()}
        case["num_reads"] = FUZZ_READS
        return case

    return st.integers(0, 2**31 - 1).map(small)


def _visits_run(c, case):
    out = {}
    for name, cfg in c.sections(PROFILES).items():
        cfg = cfg.replace(num_reads=int(case["num_reads"])) if "num_reads" in case else cfg
        r = c["mcts.search"](case[name]["states"], case[name]["noise"], cfg)
        out[name] = {"visits": r["visits"], "q": r["q"], "value": r["value"]}
    return out


# --------------------------------------------------------------------------------------------------
# mcts.behaviour (property): winning move most visited, immediate losses avoided, c large -> priors
# --------------------------------------------------------------------------------------------------


def _relabel(actions_uv, perm, game):
    """Edge indices of the (u, v) pairs after relabelling the vertices by ``perm``."""
    ids = {tuple(uv): i for i, uv in enumerate(game_np.encoding.edge_list(game.n).tolist())}
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
    out = {"tactics": {"states": _state(s), "noise": _root_noise(int(rng.integers(2**31)), s, AZ_BEHAVIOUR),
                       "target": np.array(targets, np.int32)}}
    s = positions(rng, g, B, lo=0, hi=4)
    out["wide"] = {"states": _state(s), "noise": np.zeros((B, g.num_edges), np.float32)}
    return out


def _behaviour_run(c, case):
    x = case["tactics"]
    v = _np(c, c["mcts.search"](x["states"], x["noise"], AZ_BEHAVIOUR)["visits"])
    hit = np.argmax(v, -1) == _np(c, x["target"])
    actual = {"win_most_visited": hit[:B // 2], "block_most_visited": hit[B // 2:]}
    expected = {"win_most_visited": np.ones(B // 2, bool), "block_most_visited": np.ones(B - B // 2, bool)}
    if "c_puct" in c.fixed:  # the c -> large limit needs c_puct = 1e4: not for a port that hard-codes it
        return actual, expected
    x = case["wide"]
    v = _np(c, c["mcts.search"](x["states"], x["noise"], AZ_WIDE_C)["visits"]).astype(np.float64)
    states = {k: _np(c, x["states"][k]) for k in game_states.STATE_KEYS}
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
    for name, cfg in PROFILES.items():
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
    for name, cfg in c.sections(PROFILES).items():
        x = {k: _np(c, v) for k, v in case[name].items()}
        args = [case[name][k] for k in ("w", "n", "priors", "valid", "node_n")]
        small = _np(c, c["mcts.puct_scores"](*args, cfg.replace(c_puct=1e-9)))
        large = _np(c, c["mcts.puct_scores"](*args, cfg.replace(c_puct=1e9)))
        w, n, p, valid = (x[k].astype(np.float64) for k in ("w", "n", "priors", "valid"))
        q = w / (1 + n) if cfg.q_mode == "w_over_1_plus_n" else w / n.clip(min=1)
        actual[name] = {"greedy_on_q": np.argmax(small, -1), "follows_priors": np.argmax(large, -1)}
        expected[name] = {"greedy_on_q": np.argmax(np.where(valid > 0, q, -np.inf), -1),
                          "follows_priors": np.argmax(np.where(valid > 0, p / (1 + n), -np.inf), -1)}
    return actual, expected


# --------------------------------------------------------------------------------------------------
# mcts.config_defaults (property): a port's defaults field by field against the spec's profiles
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# mcts.dirichlet_stats: each framework's own Dirichlet sampler, by distribution
# --------------------------------------------------------------------------------------------------

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
        valid = c.asarray(np.repeat(_np(c, case["pattern"]), n, axis=0))
        z = _np(c, c["mcts.sample_noise"](case["seed"], valid, cfg)).astype(np.float64)
        few, mid, many = z[:n], z[n:2 * n], z[2 * n:]
        out[name] = {"few_first": few[:, 2], "few_max": few.max(-1), "mid_first": mid[:, 0],
                     "mid_max": mid.max(-1), "many_first": many[:, 0], "many_max": many.max(-1)}
    return out


# --------------------------------------------------------------------------------------------------
# mcts.visits.network: the search with the policy-value network; near-ties detected and left out
# --------------------------------------------------------------------------------------------------

NET_B = 6
NET_HIDDEN = 16
AZ_NET = AZ.replace(num_reads=32, evaluator="network")
NET_TARGET = TARGET


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
        noise = _root_noise(int(rng.integers(2**31)), states, AZ_NET)
        decided = np.zeros(NET_B, bool)
        for b in range(NET_B):
            d, ev = search_np.Diagnostics(), search_np.NetworkEvaluator(params)
            search_np.Oracle(ev, d).search(game_states.stack([game_states.take(states, b)]), noise[b:b + 1], AZ_NET)
            decided[b] = d.min_rel_margin >= NEAR_TIE and ev.min_boundary_distance >= NET_DELTA
        if decided.sum() >= NET_B // 2:
            return {"params": params, "states": _state(states), "noise": noise, "decided": decided}


def _network_run(c, case):
    keep = np.asarray(c.to_numpy(case["decided"]), bool)
    r = c["mcts.search_network"](case["states"], case["noise"], AZ_NET, c["nets.to_native"](case["params"]))
    return {"visits": _np(c, r["visits"])[keep], "q": _np(c, r["q"])[keep], "value": _np(c, r["value"])[keep]}


# --------------------------------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------------------------------

CHECKS = [
    Check(
        name="mcts.game",
        components=("mcts.legal_moves", "mcts.apply_move", "mcts.terminal_value", "mcts.encode"),
        inputs=_game_inputs,
        strategy=_seeds(_game_inputs),
        run=_game_run,
        mode=Exact(),
        by_component=True,
        optional=("mcts.legal_moves", "mcts.apply_move", "mcts.terminal_value", "mcts.encode"),
        profiles=("symmetric", "asymmetric"),
        description="clique game: legal moves, apply move with k-clique detection (symmetric n=5 k=3, "
                    "asymmetric n=6 k=4), terminal values for the player to move, board encoding (a set of "
                    "directed edges with features: the column order is free)",
        controls=(
            _ctl("no_clique_detection", "apply_move never detects a k-clique (only a full board ends)",
                    {"mcts.apply_move": _no_clique_detection},
                    expect_components=("mcts.apply_move",)),
            _ctl("value_for_last_mover", "terminal value from the perspective of the player who just moved",
                    {"mcts.terminal_value": _value_for_last_mover},
                    expect_components=("mcts.terminal_value",)),
            _ctl("legal_after_end", "legal moves ignore a finished game",
                    {"mcts.legal_moves": _legal_after_end}, expect_components=("mcts.legal_moves",)),
            _ctl("encode_one_direction", "edge_attr of the reverse direction left empty",
                    {"mcts.encode": _encode_one_direction}, expect_components=("mcts.encode",)),
        ),
    ),
    Check(
        name="mcts.puct",
        components=("mcts.puct_scores",),
        inputs=_puct_inputs,
        strategy=_seeds(_puct_inputs),
        run=_puct_run,
        mode=Tolerance(),
        profiles=PROFILE_NAMES, knobs=(C_PUCT,),
        description="Q + U per profile: alphazero_clique Q = W/(1+N), sqrt(max(1, N(s))); classic Q = W/N, "
                    "sqrt(1 + sum N); -inf on invalid actions",
        controls=(
            _ctl("c_puct_1", "c_puct 1.0 instead of the profile's", _drift("mcts.puct_scores", c_puct=1.0)),
            _ctl("q_mean_in_alphazero", "Q = W/N in the alphazero_clique profile",
                    {"mcts.puct_scores": lambda orig: lambda w, n, p, v, nn, cfg: orig(
                        w, n, p, v, nn, cfg.replace(q_mode="mean"))}),
            _ctl("sqrt_sum", "sqrt(sum N) instead of sqrt(1 + sum N)", _drift("mcts.puct_scores", u_mode="sqrt_sum")),
        ),
    ),
    Check(
        name="mcts.backup",
        components=("mcts.backup",),
        inputs=_backup_inputs,
        strategy=_seeds(_backup_inputs),
        run=_backup_run,
        mode=Tolerance(),
        profiles=PROFILE_NAMES, knobs=(TERMINAL_WEIGHT,),
        description="W / N increments along the path: sign alternates per ply (-v into the leaf), a detected "
                    "terminal leaf weighted by terminal_weight (2.0 alphazero_clique, 1.0 classic)",
        controls=(
            _ctl("backup_plus_v", "every edge receives +v (no sign alternation)",
                    _drift("mcts.backup", backup_sign="same")),
            _ctl("terminal_weight_1", "terminal weight 1 instead of 2", _drift("mcts.backup", terminal_weight=1.0)),
            _ctl("no_terminal_detection", "terminal leaves not detected (weight 1)",
                    _drift("mcts.backup", terminal_detection=False)),
        ),
    ),
    Check(
        name="mcts.noise_mix",
        components=("mcts.mix_noise", "mcts.noise_alpha"),
        inputs=_noise_inputs,
        strategy=_seeds(_noise_inputs),
        run=_noise_run,
        mode=Tolerance(),
        by_component=True,
        optional=("mcts.mix_noise", "mcts.noise_alpha"), profiles=PROFILE_NAMES, knobs=(NOISE_WEIGHT,),
        domains=("one_legal_move",),
        description="root noise: Dirichlet over valid actions (alphazero_clique) or all (classic), alpha by "
                    "number of legal moves, noise clipped to [0.01, 0.99], w = 0.25 (1 - p)",
        controls=(
            _ctl("noise_over_all_actions", "noise mixed over all actions in alphazero_clique",
                    _drift("mcts.mix_noise", noise_scope="all"), expect_components=("mcts.mix_noise",)),
            _ctl("fixed_noise_weight", "fixed noise weight 0.25 instead of 0.25 (1 - p)",
                    _drift("mcts.mix_noise", noise_weight_schedule="fixed"), expect_components=("mcts.mix_noise",)),
            _ctl("no_noise_clip", "noise not clipped to [0.01, 0.99]",
                    _drift("mcts.mix_noise", noise_clip=None), expect_components=("mcts.mix_noise",)),
            _ctl("fixed_alpha", "alpha 0.3 whatever the number of legal moves",
                    _drift("mcts.noise_alpha", alpha_mode="fixed"), expect_components=("mcts.noise_alpha",)),
        ),
    ),
    Check(
        name="mcts.temperature",
        components=("mcts.temperature", "mcts.target_policy"),
        inputs=_temperature_inputs,
        strategy=_seeds(_temperature_inputs),
        run=_temperature_run,
        mode=Tolerance(),
        by_component=True,
        optional=("mcts.temperature", "mcts.target_policy"), profiles=PROFILE_NAMES, domains=("finished_game",),
        description="T by progress p = m / E (1.0, 0.8, 0.5, 0.2, 0.1; strict < on 0.2 ... 0.8, hit exactly "
                    "for E = 10 and 15), classic T = 1; pi proportional to (N + 1e-8)^(1/T) on valid actions",
        controls=(
            _ctl("fixed_temperature_1", "fixed temperature 1.0 (no annealing)",
                    _drift("mcts.temperature", temperature_schedule="fixed"),
                    expect_components=("mcts.temperature",)),
            _ctl("non_strict_boundaries", "p <= threshold instead of p < threshold",
                    {"mcts.temperature": _non_strict_boundaries}, expect_components=("mcts.temperature",)),
            _ctl("target_power_t", "pi proportional to N^T instead of N^(1/T)",
                    {"mcts.target_policy": _target_power_t}, expect_components=("mcts.target_policy",)),
        ),
    ),
    Check(
        name="mcts.move_choice",
        components=("mcts.select_move",),
        inputs=_move_inputs_masked,
        strategy=_seeds(_move_inputs_masked),
        run=_move_run,
        mode=Exact(),
        description="move played = argmax of root visits over valid actions, first index on ties",
        controls=(
            _ctl("random_tie_break", "ties broken at random", {"mcts.select_move": _random_tie_select}),
            _ctl("unmasked_argmax", "argmax over all actions, invalid included",
                    {"mcts.select_move": _unmasked_select}),
        ),
    ),
    Check(
        name="mcts.visits",
        components=("mcts.search",),
        inputs=_visits_inputs,
        run=_visits_run,
        strategy=_visits_strategy,
        mode=Tolerance(),
        profiles=PROFILE_NAMES, knobs=(C_PUCT, TERMINAL_WEIGHT, NOISE_WEIGHT),
        description="whole search with the table evaluator and injected noise: root visit counts equal as "
                    "integers, root Q and value within float32 tolerance; alphazero_clique (n=5 k=3 "
                    "symmetric) and classic (n=6 k=4 asymmetric), 64 reads, 4 positions each, near-ties "
                    f"(relative margin < {NEAR_TIE:g}) screened out",
        controls=(
            _ctl("c_puct_1", "c_puct 1.0", _drift("mcts.search", c_puct=1.0)),
            _ctl("q_mean_in_alphazero", "Q = W/N in the alphazero_clique profile",
                    {"mcts.search": lambda orig: lambda s, z, cfg: orig(
                        s, z, cfg.replace(q_mode="mean") if cfg.profile == "alphazero_clique" else cfg)}),
            _ctl("sqrt_sum", "sqrt(sum N) instead of sqrt(1 + sum N) (classic)",
                    {"mcts.search": lambda orig: lambda s, z, cfg: orig(
                        s, z, cfg.replace(u_mode="sqrt_sum") if cfg.profile == "classic" else cfg)}),
            _ctl("backup_plus_v", "backup +v on every edge", _drift("mcts.search", backup_sign="same")),
            _ctl("no_terminal_detection", "terminal leaves valued by the evaluator",
                    _drift("mcts.search", terminal_detection=False)),
            _ctl("terminal_weight_1", "terminal weight 1 instead of 2",
                    {"mcts.search": lambda orig: lambda s, z, cfg: orig(s, z, cfg.replace(terminal_weight=1.0))}),
            _ctl("noise_over_all_actions", "root noise over all actions in alphazero_clique",
                    {"mcts.search": lambda orig: lambda s, z, cfg: orig(
                        s, z, cfg.replace(noise_scope="all") if cfg.profile == "alphazero_clique" else cfg)}),
            _ctl("fixed_noise_weight", "fixed noise weight 0.25 in alphazero_clique",
                    _drift("mcts.search", noise_weight_schedule="fixed")),
            _ctl("num_reads_plus_1", "num_reads off by one", {"mcts.search": lambda orig: lambda s, z, cfg: orig(
                s, z, cfg.replace(num_reads=cfg.num_reads + 1))}),
            _ctl("random_tie_break", "ties broken at random (numpy oracle mutant)",
                    _drift("mcts.search", tie_break="random"), target="numpy", against="numpy"),
        ),
        slow=False,
    ),
    Check(
        name="mcts.visits.network",
        components=("mcts.search_network", "nets.to_native"),
        inputs=_network_inputs,
        run=_network_run,
        mode=Tolerance(),
        profiles=("alphazero_clique",), profile_family=PROFILE_NAMES, knobs=(C_PUCT, TERMINAL_WEIGHT, NOISE_WEIGHT),
        description="search with the policy-value network (n=5 k=3, hidden 16, 32 reads, 6 positions): raw "
                    "outputs quantised (logits 2^-6, value 2^-7) so graph-symmetric outputs tie exactly; "
                    "positions whose oracle search has a near-tie (PUCT margin < 1e-5 relative, or a raw "
                    "output within 1e-6 of a quantisation boundary) are detected and left out; visit counts "
                    "exact on the rest",
        controls=(
            _ctl("c_puct_1", "c_puct 1.0", _drift("mcts.search_network", 2, c_puct=1.0), target=NET_TARGET),
            _ctl("backup_plus_v", "backup +v on every edge", _drift("mcts.search_network", 2, backup_sign="same"),
                 target=NET_TARGET),
        ),
    ),
    Check(
        name="mcts.behaviour",
        components=("mcts.search",),
        inputs=_behaviour_inputs,
        run=_behaviour_run,
        mode=Exact(),
        kind="property",
        profiles=("alphazero_clique",), profile_family=PROFILE_NAMES, knobs=(C_PUCT,),
        description="convention-free behaviour (alphazero_clique, n=5 k=3, 256 reads): a winning move gets the "
                    "most root visits; the one move that avoids an immediate loss gets the most visits; "
                    "c_puct = 1e4 (64 reads) -> -1 <= N - P sum N <= P #valid (D'Hondt bounds)",
        controls=(
            _ctl("backup_plus_v", "backup +v on every edge", _drift("mcts.search", backup_sign="same")),
            _ctl("no_terminal_detection", "terminal leaves valued by the evaluator",
                    _drift("mcts.search", terminal_detection=False)),
        ),
    ),
    Check(
        name="mcts.behaviour.limits",
        components=("mcts.puct_scores",),
        inputs=_limits_inputs,
        run=_limits_run,
        strategy=_seeds(_limits_inputs),
        mode=Exact(),
        kind="property",
        profiles=PROFILE_NAMES, knobs=(Knob("c_puct", varies=True),),
        description="PUCT limits, both profiles, nodes with every valid child visited: c_puct = 1e-9 -> the "
                    "selection is greedy on Q; c_puct = 1e9 -> argmax P / (1 + N)",
        controls=(
            _ctl("c_puct_1", "c_puct fixed at 1.0 (the port ignores the configured c_puct)",
                 _drift("mcts.puct_scores", c_puct=1.0)),
            _ctl("q_mean_in_alphazero", "Q = W/N in the alphazero_clique profile",
                 {"mcts.puct_scores": lambda orig: lambda w, n, p, v, nn, cfg: orig(
                     w, n, p, v, nn, cfg.replace(q_mode="mean") if cfg.profile == "alphazero_clique" else cfg)}),
        ),
    ),
    Check(
        name="mcts.config_defaults",
        components=("mcts.default_config",),
        inputs=lambda seed: {},
        run=_defaults_run,
        mode=Exact(),
        kind="property",
        profiles=PROFILE_NAMES,
        description="a port's default config per profile, field by field, exactly equal to the spec's "
                    "(c_puct, Q / U forms, backup, terminal handling, noise and temperature schedules)",
        controls=(
            _ctl("c_puct_1", "default c_puct 1.0", _default_drift(c_puct=1.0)),
            _ctl("fixed_temperature_1", "no temperature annealing", _default_drift(temperature_schedule="fixed")),
            _ctl("fixed_noise_weight", "fixed noise weight 0.25", _default_drift(noise_weight_schedule="fixed")),
            _ctl("fixed_alpha", "alpha 0.3 whatever the number of legal moves", _default_drift(alpha_mode="fixed")),
        ),
    ),
    Check(
        name="mcts.dirichlet_stats",
        components=("mcts.sample_noise",),
        inputs=_dirichlet_inputs,
        run=_dirichlet_run,
        mode=Statistical(alpha=1e-3),
        profiles=("alphazero_clique",), profile_family=PROFILE_NAMES,
        description=f"each framework's own Dirichlet sampler: {DIRICHLET_SAMPLES} draws for 3, 10 and 18 valid "
                    "actions (alpha 0.15 / 0.3 / 0.4) over the valid actions of 21; two-sample "
                    "KS per marginal, false-failure budget 1e-3 for the whole check",
        controls=(
            _ctl("fixed_alpha", "alpha 0.3 whatever the number of legal moves",
                    _drift("mcts.sample_noise", alpha_mode="fixed")),
            _ctl("noise_over_all_actions", "Dirichlet over all actions instead of the valid ones",
                    {"mcts.sample_noise": lambda orig: lambda seed, valid, cfg: orig(
                        seed, valid, cfg.replace(noise_scope="all"))}),
        ),
    ),
]
