"""The clique game on K_n, PyTorch: the components of spec.py; batched (leading axis B)."""

from __future__ import annotations

import functools

import torch

from reference.mcts.game.spec import FIRST_WON, FULL_BOARD, ONGOING, SECOND_WON
from reference.mcts.game.states import cliques
from reference.nets import encoding


@functools.cache
def _cliques(game):
    return torch.as_tensor(cliques(game).copy())


def legal_moves(state, game):
    """bool (B, E): the edge is empty and the game is ongoing (outcome == 0)."""
    return (state["colours"] == 0) & (state["outcome"] == ONGOING)[..., None]


def _owns_clique(colours, colour, game):
    """bool (B,): the edges of colour ``colour`` ((B,) int) contain a k-clique."""
    mine = colours == colour[..., None]
    return torch.any(torch.all(mine[..., _cliques(game)], dim=-1), dim=-1)


def apply_move(state, action, game):
    """The state after the mover colours edge ``action`` (int (B,), must be legal) with to_play + 1."""
    colours = state["colours"].to(torch.int32)
    to_play = state["to_play"].to(torch.int32)
    action = torch.as_tensor(action).to(torch.int64)
    hit = torch.arange(game.num_edges) == action[..., None]
    colours = torch.where(hit, (to_play + 1)[..., None], colours)
    colour = to_play + 1 if game.mode == "symmetric" else torch.ones_like(to_play)  # whose k-clique wins
    won = _owns_clique(colours, colour, game)
    outcome = torch.where(won, colour, torch.where(torch.all(colours != 0, dim=-1), FULL_BOARD[game.mode], ONGOING))
    return {"colours": colours, "to_play": (1 - to_play).to(torch.int32),
            "move_count": (state["move_count"] + 1).to(torch.int32),
            "outcome": outcome.to(torch.int32)}


def terminal_value(state, game):
    """(value float32 (B,), done bool (B,)): done = outcome != 0; value for the player TO MOVE."""
    outcome = state["outcome"]
    decided = (outcome == FIRST_WON) | (outcome == SECOND_WON)
    win = (outcome - 1) == state["to_play"]
    value = torch.where(decided, torch.where(win, 1.0, -1.0), 0.0).to(torch.float32)
    return value, outcome != ONGOING


def encode(state, game) -> dict:
    """{"edge_index": int (2, 2E), "edge_attr": float32 (B, 2E, 3)}: the board as the networks see it.

    torch: edge_index int64."""
    ei = torch.as_tensor(encoding.edge_index(game.n))
    onehot = torch.nn.functional.one_hot(state["colours"].to(torch.int64), encoding.NUM_EDGE_FEATURES).to(torch.float32)
    return {"edge_index": ei, "edge_attr": torch.cat([onehot, onehot], dim=-2)}
