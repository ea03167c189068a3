"""The clique game on K_n, NumPy (the oracle's game; spec: /work/shared/spec/mcts.md, INTERFACE.md).

State: a dict ``{"colours": int32 (..., E), "to_play": int32 (...), "move_count": int32 (...),
"outcome": int32 (...)}`` -- batched (leading axis B) or a single game (no leading axis).
colours 0 empty / 1 first player / 2 second player; outcome 0 ongoing / 1 first won / 2 second won / 3 draw.
Edges (u, v), u < v, lexicographic; action = edge index.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from reference.nets import encoding

ONGOING, FIRST_WON, SECOND_WON, DRAW = 0, 1, 2, 3
STATE_KEYS = ("colours", "to_play", "move_count", "outcome")


@functools.cache
def _cliques(n: int, k: int) -> np.ndarray:
    edge_id = {tuple(uv): i for i, uv in enumerate(encoding.edge_list(n).tolist())}
    rows = [[edge_id[(a, b)] for a, b in itertools.combinations(vs, 2)] for vs in itertools.combinations(range(n), k)]
    out = np.array(rows, dtype=np.int64)
    out.setflags(write=False)
    return out


def cliques(game) -> np.ndarray:
    """int64 (C, k(k-1)/2): the edge indices of every k-clique of K_n (C = binom(n, k))."""
    return _cliques(game.n, game.k)


def initial_state(game, batch: int | None = 1) -> dict:
    """Empty board, first player to move; ``batch=None`` gives a single (unbatched) state."""
    lead = () if batch is None else (int(batch),)
    return {"colours": np.zeros(lead + (game.num_edges,), np.int32),
            "to_play": np.zeros(lead, np.int32),
            "move_count": np.zeros(lead, np.int32),
            "outcome": np.zeros(lead, np.int32)}


def _check_state(state, game, where: str) -> None:
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ValueError(f"{where}: state lacks keys {missing}")
    e = np.shape(state["colours"])[-1] if np.ndim(state["colours"]) else None
    if e != game.num_edges:
        raise ValueError(f"{where}: state['colours'] has {e} edges, game n={game.n} has E={game.num_edges}")


def legal_moves(state, game) -> np.ndarray:
    """bool (..., E): the edge is empty and the game is ongoing."""
    _check_state(state, game, "legal_moves")
    colours = np.asarray(state["colours"])
    ongoing = np.asarray(state["outcome"]) == ONGOING
    return (colours == 0) & ongoing[..., None]


def owns_clique(colours, colour, game) -> np.ndarray:
    """bool (...): the edges of colour ``colour`` (int or (...) array) contain a k-clique."""
    c = np.asarray(colours)
    mine = c == np.asarray(colour)[..., None]
    return np.any(np.all(mine[..., cliques(game)], axis=-1), axis=-1)


def apply_move(state, action, game) -> dict:
    """Colour edge ``action`` with the mover's colour (to_play + 1), move_count + 1, turn passes; outcome:
    symmetric: mover owns a k-clique -> mover wins, else full board -> draw;
    asymmetric: first player owns a k-clique -> first wins, else full board -> second wins."""
    _check_state(state, game, "apply_move")
    colours = np.array(state["colours"], dtype=np.int32, copy=True)
    to_play = np.asarray(state["to_play"], dtype=np.int32)
    action = np.asarray(action, dtype=np.int64)
    if action.shape != to_play.shape:
        raise ValueError(f"apply_move: action must have shape {to_play.shape}, got action.shape={action.shape}")
    legal = legal_moves(state, game)
    if np.any((action < 0) | (action >= game.num_edges)):
        raise ValueError(f"apply_move: action out of range [0, {game.num_edges}), got action={action.tolist()}")
    if not np.all(np.take_along_axis(legal, action[..., None], axis=-1)):
        raise ValueError(f"apply_move: illegal action (edge taken or game over), got action={action.tolist()}")
    np.put_along_axis(colours, action[..., None], (to_play + 1)[..., None].astype(np.int32), axis=-1)
    full = np.all(colours != 0, axis=-1)
    if game.mode == "symmetric":
        won = owns_clique(colours, to_play + 1, game)
        outcome = np.where(won, to_play + 1, np.where(full, DRAW, ONGOING))
    else:
        won = owns_clique(colours, np.ones_like(to_play), game)
        outcome = np.where(won, FIRST_WON, np.where(full, SECOND_WON, ONGOING))
    return {"colours": colours,
            "to_play": (1 - to_play).astype(np.int32),
            "move_count": (np.asarray(state["move_count"]) + 1).astype(np.int32),
            "outcome": np.asarray(outcome, dtype=np.int32)}


def terminal_value(state, game):
    """(value float32 (...), done bool (...)): done = outcome != 0; value for the player TO MOVE:
    +1 if the outcome is its win, -1 if the other player's, 0 for a draw or an ongoing game."""
    _check_state(state, game, "terminal_value")
    outcome = np.asarray(state["outcome"])
    to_play = np.asarray(state["to_play"])
    winner = outcome - 1  # 0 / 1 when someone won
    decided = (outcome == FIRST_WON) | (outcome == SECOND_WON)
    value = np.where(decided, np.where(winner == to_play, 1.0, -1.0), 0.0).astype(np.float32)
    return value, outcome != ONGOING


def encode(state, game) -> dict:
    """{"edge_index": int64 (2, 2E), "edge_attr": float32 (..., 2E, 3)} -- reference/nets/encoding.py."""
    _check_state(state, game, "encode")
    ei, ea = encoding.encode(np.asarray(state["colours"]))
    return {"edge_index": ei, "edge_attr": ea}


def take(state, i) -> dict:
    """Game ``i`` of a batched state (unbatched arrays)."""
    return {k: np.asarray(state[k])[i] for k in STATE_KEYS}


def stack(states) -> dict:
    """Stack unbatched states into a batch."""
    return {k: np.stack([np.asarray(s[k]) for s in states]).astype(np.int32) for k in STATE_KEYS}


def play(actions, game) -> dict:
    """The single (unbatched) state after playing ``actions`` from the empty board."""
    s = initial_state(game, batch=None)
    for a in actions:
        s = apply_move(s, np.int64(a), game)
    return s
