"""The search's small pure functions: ``mcts.puct`` (Q + U), ``mcts.backup`` (path increments),
``mcts.noise_mix`` (root noise and alpha), ``mcts.temperature`` (schedule and target policy),
``mcts.move_choice`` (argmax of root visits).
"""

from __future__ import annotations

import numpy as np

from checks.mcts import common
from checks.mcts.common import AZ, CL, PROFILE_NAMES, PROFILES, check, control, drift, positions, root_noise
from harness.base import Exact, Knob, Tolerance
from reference.mcts.game import np_ref as game_np
from reference.mcts.search import np_ref as search_np
from reference.mcts.search.np_ref import table_evaluator as table_evaluator_np

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
        node_n = 1 + n.sum(-1)
        node_n[0] = 0  # N(s) = 0, the node itself unvisited: sqrt(max(1, N(s))) = 1, not sqrt(0)
        case[name] = {"w": w.astype(np.float32), "n": n.astype(np.int32), "priors": priors, "valid": valid,
                      "node_n": node_n.astype(np.int32)}
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


BACKUP_SIGN = Knob("backup_sign", None, varies=True)  # a port backing up one convention only declares it fixed


def _backup_run_same(c, case):
    """The same paths with backup_sign='same' (every edge receives +v: a config value every reference
    implements; both profiles alternate)."""
    return {name: c["mcts.backup"](case[name]["v"], case[name]["depth"], case[name]["terminal"],
                                   cfg.replace(backup_sign="same"))
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
        case[name] = {"priors": priors, "noise": root_noise(seed, states, cfg),
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

TEMP_GAMES = {"E10": AZ, "E15": AZ.replace(game=common.G_ASYM)}  # boundaries p = 0.2 ... 0.8 fall on moves exactly


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
    # a small fixed temperature over hundreds of visits: N^(1/T) = 400^20 ~ 1e52 overflows float32, so only the
    # spec's ((N + eps) / (max + eps))^(1/T) stays finite (a port that normalises after the power gives NaN)
    e = AZ.num_edges
    visits = rng.integers(0, 400, (8, e))
    valid = rng.random((8, e)) < 0.7
    valid[:, 0] = True
    case["low_T"] = {"visits": np.where(valid, visits, 0).astype(np.int32), "valid": valid,
                     "temp": np.full(8, LOW_T, np.float32)}
    return case


LOW_T = 0.05


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
        if games:
            low = case["low_T"]
            out["mcts.target_policy"]["low_T"] = c["mcts.target_policy"](low["visits"], low["valid"], low["temp"], AZ)
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


def _power_then_normalise(orig):
    """pi = (N + eps)^(1/T) / sum: the same in exact arithmetic, inf / inf = NaN in float32 at small T."""
    def f(visits, valid, temp, config):
        import torch

        n = torch.as_tensor(visits).to(torch.float32)
        t = torch.as_tensor(temp).to(torch.float32)[..., None]
        x = torch.where(torch.as_tensor(valid, dtype=torch.bool), (n + config.target_eps) ** (1.0 / t), 0.0)
        return x / x.sum(-1, keepdim=True)
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


TIE_BREAK = Knob("tie_break", None, varies=True)  # a port breaking ties one way only declares it fixed


def _move_run_last(c, case):
    """The same rows with tie_break='last' (a config value every reference implements; the profiles use 'first')."""
    return c["mcts.select_move"](case["visits"], case["valid"], AZ.replace(tie_break="last"))


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


CHECKS = [
    check("mcts.puct", ("mcts.puct_scores",), _puct_inputs, _puct_run, Tolerance(),
          profiles=PROFILE_NAMES, knobs=(common.C_PUCT,),
          description="Q + U per profile: alphazero_clique Q = W/(1+N), sqrt(max(1, N(s))); classic Q = W/N, "
                      "sqrt(1 + sum N); -inf on invalid actions",
          controls=(
              control("c_puct_1", "c_puct 1.0 instead of the profile's", drift("mcts.puct_scores", c_puct=1.0)),
              control("q_mean_in_alphazero", "Q = W/N in the alphazero_clique profile",
                      drift("mcts.puct_scores", q_mode="mean")),
              control("sqrt_sum", "sqrt(sum N) instead of sqrt(1 + sum N)", drift("mcts.puct_scores", u_mode="sqrt_sum")),
          )),
    check("mcts.backup", ("mcts.backup",), _backup_inputs, _backup_run, Tolerance(),
          profiles=PROFILE_NAMES, knobs=(common.TERMINAL_WEIGHT,),
          description="W / N increments along the path: sign alternates per ply (-v into the leaf), a detected "
                      "terminal leaf weighted by terminal_weight (2.0 alphazero_clique, 1.0 classic)",
          controls=(
              control("backup_plus_v", "every edge receives +v (no sign alternation)",
                      drift("mcts.backup", backup_sign="same")),
              control("terminal_weight_1", "terminal weight 1 instead of 2", drift("mcts.backup", terminal_weight=1.0)),
              control("no_terminal_detection", "terminal leaves not detected (weight 1)",
                      drift("mcts.backup", terminal_detection=False)),
          )),
    check("mcts.backup.same_sign", ("mcts.backup",), _backup_inputs, _backup_run_same, Tolerance(),
          profiles=PROFILE_NAMES, knobs=(common.TERMINAL_WEIGHT, BACKUP_SIGN),
          description="mcts.backup's paths with backup_sign='same': every edge receives +v (times the terminal "
                      "weight). A port that backs up one convention only declares fixed={'backup_sign': "
                      "'alternating'} and gets not_applicable",
          controls=(
              control("same_sign_ignored", "backup_sign='same' backed up alternating",
                      drift("mcts.backup", backup_sign="alternating")),
              control("terminal_weight_1", "terminal weight 1 instead of 2", drift("mcts.backup", terminal_weight=1.0)),
          )),
    check("mcts.noise_mix", ("mcts.mix_noise", "mcts.noise_alpha"), _noise_inputs, _noise_run, Tolerance(),
          by_component=True, optional=("mcts.mix_noise", "mcts.noise_alpha"), profiles=PROFILE_NAMES,
          knobs=(common.NOISE_WEIGHT,), domains=("one_legal_move",),
          description="root noise: Dirichlet over valid actions (alphazero_clique) or all (classic), alpha by "
                      "number of legal moves, noise clipped to [0.01, 0.99], w = 0.25 (1 - p)",
          controls=(
              control("noise_over_all_actions", "noise mixed over all actions in alphazero_clique",
                      drift("mcts.mix_noise", noise_scope="all"), expect_components=("mcts.mix_noise",)),
              control("fixed_noise_weight", "fixed noise weight 0.25 instead of 0.25 (1 - p)",
                      drift("mcts.mix_noise", noise_weight_schedule="fixed"), expect_components=("mcts.mix_noise",)),
              control("no_noise_clip", "noise not clipped to [0.01, 0.99]",
                      drift("mcts.mix_noise", noise_clip=None), expect_components=("mcts.mix_noise",)),
              control("fixed_alpha", "alpha 0.3 whatever the number of legal moves",
                      drift("mcts.noise_alpha", alpha_mode="fixed"), expect_components=("mcts.noise_alpha",)),
          )),
    check("mcts.temperature", ("mcts.temperature", "mcts.target_policy"), _temperature_inputs,
          _temperature_run, Tolerance(),
          by_component=True, optional=("mcts.temperature", "mcts.target_policy"), profiles=PROFILE_NAMES,
          domains=("finished_game",),
          description="T by progress p = m / E (1.0, 0.8, 0.5, 0.2, 0.1; strict < on 0.2 ... 0.8, hit exactly "
                      "for E = 10 and 15), classic T = 1; pi proportional to (N + 1e-8)^(1/T) on valid actions, also at "
                      "T = 0.05 over up to 400 visits (the power overflows float32 unless normalised by the max first)",
          controls=(
              control("fixed_temperature_1", "fixed temperature 1.0 (no annealing)",
                      drift("mcts.temperature", temperature_schedule="fixed"),
                      expect_components=("mcts.temperature",)),
              control("non_strict_boundaries", "p <= threshold instead of p < threshold",
                      {"mcts.temperature": _non_strict_boundaries}, expect_components=("mcts.temperature",)),
              control("target_power_t", "pi proportional to N^T instead of N^(1/T)",
                      {"mcts.target_policy": _target_power_t}, expect_components=("mcts.target_policy",)),
              control("power_then_normalise", "pi = (N + eps)^(1/T) / sum, without dividing by the max first",
                      {"mcts.target_policy": _power_then_normalise}, target="torch",
                      expect_components=("mcts.target_policy",)),
          )),
    check("mcts.move_choice", ("mcts.select_move",), _move_inputs_masked, _move_run, Exact(),
          description="move played = argmax of root visits over valid actions, first index on ties",
          controls=(
              control("random_tie_break", "ties broken at random", {"mcts.select_move": _random_tie_select}),
              control("unmasked_argmax", "argmax over all actions, invalid included",
                      {"mcts.select_move": _unmasked_select}),
          )),
    check("mcts.move_choice.tie_last", ("mcts.select_move",), _move_inputs_masked, _move_run_last, Exact(),
          knobs=(TIE_BREAK,),
          description="mcts.move_choice's rows with tie_break='last': the last index among tied maxima. A port that "
                      "breaks ties one way only declares fixed={'tie_break': 'first'} and gets not_applicable",
          controls=(
              control("tie_last_ignored", "tie_break='last' chosen as 'first'", drift("mcts.select_move",
                                                                                    tie_break="first")),
              control("unmasked_argmax", "argmax over all actions, invalid included",
                      {"mcts.select_move": _unmasked_select}),
          )),
]
