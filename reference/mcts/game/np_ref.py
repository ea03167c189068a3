"""The clique game on K_n, NumPy (the oracle's game): the components of spec.py.

Batched (leading axis B) or a single game (no leading axis). States are built and sliced with states.py.
"""

from __future__ import annotations

import numpy as np

from reference.mcts.game.spec import FIRST_WON, FULL_BOARD, ONGOING, SECOND_WON, STATE_KEYS
from reference.mcts.game.states import cliques
from reference.nets import encoding


def _check_state(state, game, where: str) -> None:
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ValueError(f"{where}: state lacks keys {missing}")
    e = np.shape(state["colours"])[-1] if np.ndim(state["colours"]) else None
    if e != game.num_edges:
        raise ValueError(f"{where}: state['colours'] has {e} edges, game n={game.n} has E={game.num_edges}")


def legal_moves(state, game) -> np.ndarray:
    """bool (B, E): the edge is empty and the game is ongoing (outcome == 0).

    NumPy: also a single game (no leading axis)."""
    _check_state(state, game, "legal_moves")
    colours = np.asarray(state["colours"])
    ongoing = np.asarray(state["outcome"]) == ONGOING
    return (colours == 0) & ongoing[..., None]


def _owns_clique(colours, colour, game) -> np.ndarray:
    """bool (...): the edges of colour ``colour`` (int or (...) array) contain a k-clique."""
    c = np.asarray(colours)
    mine = c == np.asarray(colour)[..., None]
    return np.any(np.all(mine[..., cliques(game)], axis=-1), axis=-1)


def apply_move(state, action, game) -> dict:
    """The state after the mover colours edge ``action`` (int (B,), must be legal) with to_play + 1.

    NumPy: ValueError on an illegal or out-of-range action."""
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
    colour = to_play + 1 if game.mode == "symmetric" else np.ones_like(to_play)  # whose k-clique wins
    won = _owns_clique(colours, colour, game)
    outcome = np.where(won, colour, np.where(np.all(colours != 0, axis=-1), FULL_BOARD[game.mode], ONGOING))
    return {"colours": colours,
            "to_play": (1 - to_play).astype(np.int32),
            "move_count": (np.asarray(state["move_count"]) + 1).astype(np.int32),
            "outcome": np.asarray(outcome, dtype=np.int32)}


def terminal_value(state, game):
    """(value float32 (B,), done bool (B,)): done = outcome != 0; value for the player TO MOVE."""
    _check_state(state, game, "terminal_value")
    outcome = np.asarray(state["outcome"])
    to_play = np.asarray(state["to_play"])
    winner = outcome - 1  # 0 / 1 when someone won
    decided = (outcome == FIRST_WON) | (outcome == SECOND_WON)
    value = np.where(decided, np.where(winner == to_play, 1.0, -1.0), 0.0).astype(np.float32)
    return value, outcome != ONGOING


def encode(state, game) -> dict:
    """{"edge_index": int (2, 2E), "edge_attr": float32 (B, 2E, 3)}: the board as the networks see it.

    NumPy: edge_index int64 (reference/nets/encoding.py)."""
    _check_state(state, game, "encode")
    ei, ea = encoding.encode(np.asarray(state["colours"]))
    return {"edge_index": ei, "edge_attr": ea}
