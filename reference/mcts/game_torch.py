"""The clique game on K_n, PyTorch: batched (leading axis B).

Same names and semantics as game_np.py (read it for the rules); the state is a dict of int32 tensors
``{"colours" (B, E), "to_play" (B,), "move_count" (B,), "outcome" (B,)}``.
"""

from __future__ import annotations

import functools

import torch

from reference.mcts import game_np
from reference.nets import encoding

ONGOING, FIRST_WON, SECOND_WON, DRAW = 0, 1, 2, 3


def initial_state(game, batch: int = 1) -> dict:
    """Empty board, first player to move."""
    z = torch.zeros((int(batch),), dtype=torch.int32)
    return {"colours": torch.zeros((int(batch), game.num_edges), dtype=torch.int32), "to_play": z.clone(),
            "move_count": z.clone(), "outcome": z.clone()}


@functools.cache
def _cliques(n, k):
    return torch.as_tensor(game_np._cliques(n, k).copy())


def legal_moves(state, game):
    """bool (B, E): the edge is empty and the game is ongoing."""
    return (state["colours"] == 0) & (state["outcome"] == ONGOING)[..., None]


def owns_clique(colours, colour, game):
    """bool (B,): the edges of colour ``colour`` ((B,) int) contain a k-clique."""
    mine = colours == colour[..., None]
    return torch.any(torch.all(mine[..., _cliques(game.n, game.k)], dim=-1), dim=-1)


def apply_move(state, action, game):
    """Colour edge ``action`` ((B,) int, must be legal) with to_play + 1, move_count + 1, turn passes;
    outcome as in game_np.apply_move."""
    colours = state["colours"].to(torch.int32)
    to_play = state["to_play"].to(torch.int32)
    action = torch.as_tensor(action).to(torch.int64)
    hit = torch.arange(game.num_edges) == action[..., None]
    colours = torch.where(hit, (to_play + 1)[..., None], colours)
    full = torch.all(colours != 0, dim=-1)
    if game.mode == "symmetric":
        won = owns_clique(colours, to_play + 1, game)
        outcome = torch.where(won, to_play + 1, torch.where(full, DRAW, ONGOING))
    else:
        won = owns_clique(colours, torch.ones_like(to_play), game)
        outcome = torch.where(won, FIRST_WON, torch.where(full, SECOND_WON, ONGOING))
    return {"colours": colours, "to_play": (1 - to_play).to(torch.int32),
            "move_count": (state["move_count"] + 1).to(torch.int32),
            "outcome": outcome.to(torch.int32)}


def terminal_value(state, game):
    """(value float32 (B,), done bool (B,)): value for the player TO MOVE (+1 / -1 / 0)."""
    outcome = state["outcome"]
    decided = (outcome == FIRST_WON) | (outcome == SECOND_WON)
    win = (outcome - 1) == state["to_play"]
    value = torch.where(decided, torch.where(win, 1.0, -1.0), 0.0).to(torch.float32)
    return value, outcome != ONGOING


def encode(state, game) -> dict:
    """{"edge_index": int64 (2, 2E), "edge_attr": float32 (B, 2E, 3)} -- reference/nets/encoding.py."""
    ei = torch.as_tensor(encoding.edge_index(game.n))
    onehot = torch.nn.functional.one_hot(state["colours"].to(torch.int64), encoding.NUM_EDGE_FEATURES).to(torch.float32)
    return {"edge_index": ei, "edge_attr": torch.cat([onehot, onehot], dim=-2)}
