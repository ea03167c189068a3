"""The clique game on K_n, JAX: the components of spec.py; pure, batched (leading axis B), jit-able
(``game`` is a static argument)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from reference.mcts.game.spec import FIRST_WON, FULL_BOARD, ONGOING, SECOND_WON
from reference.mcts.game.states import cliques
from reference.nets import encoding


@functools.partial(jax.jit, static_argnums=1)
def legal_moves(state, game):
    """bool (B, E): the edge is empty and the game is ongoing (outcome == 0)."""
    return (state["colours"] == 0) & (state["outcome"] == ONGOING)[..., None]


def _owns_clique(colours, colour, game):
    """bool (B,): the edges of colour ``colour`` ((B,) int) contain a k-clique."""
    mine = colours == colour[..., None]
    cl = jnp.asarray(cliques(game).astype(np.int32))
    return jnp.any(jnp.all(mine[..., cl], axis=-1), axis=-1)


@functools.partial(jax.jit, static_argnums=2)
def apply_move(state, action, game):
    """The state after the mover colours edge ``action`` (int (B,), must be legal) with to_play + 1."""
    colours = jnp.asarray(state["colours"], jnp.int32)
    to_play = jnp.asarray(state["to_play"], jnp.int32)
    action = jnp.asarray(action, jnp.int32)
    hit = jnp.arange(game.num_edges, dtype=jnp.int32) == action[..., None]
    colours = jnp.where(hit, (to_play + 1)[..., None], colours)
    colour = to_play + 1 if game.mode == "symmetric" else jnp.ones_like(to_play)  # whose k-clique wins
    won = _owns_clique(colours, colour, game)
    outcome = jnp.where(won, colour, jnp.where(jnp.all(colours != 0, axis=-1), FULL_BOARD[game.mode], ONGOING))
    return {"colours": colours, "to_play": 1 - to_play,
            "move_count": jnp.asarray(state["move_count"], jnp.int32) + 1,
            "outcome": outcome.astype(jnp.int32)}


@functools.partial(jax.jit, static_argnums=1)
def terminal_value(state, game):
    """(value float32 (B,), done bool (B,)): done = outcome != 0; value for the player TO MOVE."""
    outcome = state["outcome"]
    decided = (outcome == FIRST_WON) | (outcome == SECOND_WON)
    value = jnp.where(decided, jnp.where(outcome - 1 == state["to_play"], 1.0, -1.0), 0.0).astype(jnp.float32)
    return value, outcome != ONGOING


@functools.partial(jax.jit, static_argnums=1)
def _edge_attr(colours, game):
    onehot = jax.nn.one_hot(colours, encoding.NUM_EDGE_FEATURES, dtype=jnp.float32)
    return jnp.concatenate([onehot, onehot], axis=-2)


def encode(state, game) -> dict:
    """{"edge_index": int (2, 2E), "edge_attr": float32 (B, 2E, 3)}: the board as the networks see it.

    JAX: edge_index int32 (x64 off)."""
    ei = jnp.asarray(encoding.edge_index(game.n).astype(np.int32))
    return {"edge_index": ei, "edge_attr": _edge_attr(state["colours"], game)}
