"""``mcts.game``: legal moves, apply move with k-clique detection, terminal values, the board encoding.

Mutants are written in NumPy on np.asarray(...) of the port's outputs, so that one mutant serves any target
framework (the harness compares NumPy views anyway).
"""

from __future__ import annotations

import numpy as np

from checks.mcts.common import G_ASYM, G_SYM, check, control, int_state, positions
from harness.base import Exact
from reference.mcts.game import np_ref as game_np

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
        case[name] = {"before": int_state(before), "action": action, "after": int_state(after),
                      "terminal": int_state(terminal)}
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


CHECKS = [
    check("mcts.game", ("mcts.legal_moves", "mcts.apply_move", "mcts.terminal_value", "mcts.encode"), _game_inputs,
          _game_run, Exact(),
          by_component=True, optional=("mcts.legal_moves", "mcts.apply_move", "mcts.terminal_value", "mcts.encode"),
          profiles=("symmetric", "asymmetric"),
          description="clique game: legal moves, apply move with k-clique detection (symmetric n=5 k=3, "
                      "asymmetric n=6 k=4), terminal values for the player to move, board encoding (a set of "
                      "directed edges with features: the column order is free)",
          controls=(
              control("no_clique_detection", "apply_move never detects a k-clique (only a full board ends)",
                      {"mcts.apply_move": _no_clique_detection},
                      expect_components=("mcts.apply_move",)),
              control("value_for_last_mover", "terminal value from the perspective of the player who just moved",
                      {"mcts.terminal_value": _value_for_last_mover},
                      expect_components=("mcts.terminal_value",)),
              control("legal_after_end", "legal moves ignore a finished game",
                      {"mcts.legal_moves": _legal_after_end}, expect_components=("mcts.legal_moves",)),
              control("encode_one_direction", "edge_attr of the reverse direction left empty",
                      {"mcts.encode": _encode_one_direction}, expect_components=("mcts.encode",)),
          )),
]
