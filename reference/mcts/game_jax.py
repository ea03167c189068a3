"""The clique game on K_n, JAX: pure, batched (leading axis B), jit-able (``game`` is static).

Same names and semantics as game_np.py (read it for the rules); the state is a dict of int32 arrays
``{"colours" (B, E), "to_play" (B,), "move_count" (B,), "outcome" (B,)}``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from reference.mcts import game_np
from reference.nets import encoding

ONGOING, FIRST_WON, SECOND_WON, DRAW = 0, 1, 2, 3


def initial_state(game, batch: int = 1) -> dict:
    """Empty board, first player to move."""
    z = jnp.zeros((int(batch),), jnp.int32)
    return {"colours": jnp.zeros((int(batch), game.num_edges), jnp.int32), "to_play": z, "move_count": z,
            "outcome": z}


@functools.partial(jax.jit, static_argnums=1)
def legal_moves(state, game):
    """bool (B, E): the edge is empty and the game is ongoing."""
    return (state["colours"] == 0) & (state["outcome"] == ONGOING)[..., None]


def owns_clique(colours, colour, game):
    """bool (B,): the edges of colour ``colour`` ((B,) int) contain a k-clique."""
    mine = colours == colour[..., None]
    cl = jnp.asarray(game_np.cliques(game).astype(np.int32))
    return jnp.any(jnp.all(mine[..., cl], axis=-1), axis=-1)


@functools.partial(jax.jit, static_argnums=2)
def apply_move(state, action, game):
    """Colour edge ``action`` ((B,) int, must be legal) with to_play + 1, move_count + 1, turn passes;
    outcome as in game_np.apply_move."""
    colours = jnp.asarray(state["colours"], jnp.int32)
    to_play = jnp.asarray(state["to_play"], jnp.int32)
    action = jnp.asarray(action, jnp.int32)
    hit = jnp.arange(game.num_edges, dtype=jnp.int32) == action[..., None]
    colours = jnp.where(hit, (to_play + 1)[..., None], colours)
    full = jnp.all(colours != 0, axis=-1)
    if game.mode == "symmetric":
        won = owns_clique(colours, to_play + 1, game)
        outcome = jnp.where(won, to_play + 1, jnp.where(full, DRAW, ONGOING))
    else:
        won = owns_clique(colours, jnp.ones_like(to_play), game)
        outcome = jnp.where(won, FIRST_WON, jnp.where(full, SECOND_WON, ONGOING))
    return {"colours": colours, "to_play": 1 - to_play,
            "move_count": jnp.asarray(state["move_count"], jnp.int32) + 1,
            "outcome": outcome.astype(jnp.int32)}


@functools.partial(jax.jit, static_argnums=1)
def terminal_value(state, game):
    """(value float32 (B,), done bool (B,)): value for the player TO MOVE (+1 / -1 / 0)."""
    outcome = state["outcome"]
    decided = (outcome == FIRST_WON) | (outcome == SECOND_WON)
    value = jnp.where(decided, jnp.where(outcome - 1 == state["to_play"], 1.0, -1.0), 0.0).astype(jnp.float32)
    return value, outcome != ONGOING


@functools.partial(jax.jit, static_argnums=1)
def _edge_attr(colours, game):
    onehot = jax.nn.one_hot(colours, encoding.NUM_EDGE_FEATURES, dtype=jnp.float32)
    return jnp.concatenate([onehot, onehot], axis=-2)


def encode(state, game) -> dict:
    """{"edge_index": int32 (2, 2E) (x64 off), "edge_attr": float32 (B, 2E, 3)} -- reference/nets/encoding.py."""
    ei = jnp.asarray(encoding.edge_index(game.n).astype(np.int32))
    return {"edge_index": ei, "edge_attr": _edge_attr(state["colours"], game)}
