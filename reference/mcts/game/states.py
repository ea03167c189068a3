"""NumPy helpers around the clique game's state dict (spec.py): build, slice and stack states.

Used by the oracle search, the checks and the tests; not components (no framework variant needed).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from reference.mcts.game.spec import STATE_KEYS
from reference.nets import encoding


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


def take(state, i) -> dict:
    """Game ``i`` of a batched state (unbatched arrays)."""
    return {k: np.asarray(state[k])[i] for k in STATE_KEYS}


def stack(states) -> dict:
    """Stack unbatched states into a batch."""
    return {k: np.stack([np.asarray(s[k]) for s in states]).astype(np.int32) for k in STATE_KEYS}


def play(actions, game) -> dict:
    """The single (unbatched) state after playing ``actions`` from the empty board."""
    from reference.mcts.game import np_ref

    s = initial_state(game, batch=None)
    for a in actions:
        s = np_ref.apply_move(s, np.int64(a), game)
    return s
