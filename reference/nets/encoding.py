"""Board encoding of the clique game on K_n for networks (NumPy, pure). Shared with reference/mcts.

Edges. The E = n(n-1)/2 undirected edges (u, v), u < v, in lexicographic order:
(0,1), (0,2), ..., (0,n-1), (1,2), ..., (n-2,n-1). Action k = undirected edge k.

Colours. ``colours[k]`` in {0 empty, 1 first player, 2 second player}.

Graph arrays (the seed's ``board_state``):
  ``edge_index``  int64 (2, 2E). Column k (0 <= k < E) is (u_k, v_k); column E + k is (v_k, u_k).
                  Row 0 = source, row 1 = target (messages flow source -> target).
  ``edge_attr``   float32 (2E, 3). Row k and row E + k are both one_hot(colours[k], 3) =
                  [empty, first player, second player].
``player_role`` (0 first player to move, 1 second) is a separate input of the network.
"""

from __future__ import annotations

import numpy as np

NUM_EDGE_FEATURES = 3


def num_edges(n: int) -> int:
    """E = n (n - 1) / 2, the number of undirected edges of K_n."""
    n = int(n)
    if n < 2:
        raise ValueError(f"num_edges: n must be >= 2, got n={n}")
    return n * (n - 1) // 2


def num_vertices(num_edges_: int) -> int:
    """n with n (n - 1) / 2 = E (the inverse of ``num_edges``)."""
    e = int(num_edges_)
    n = int(round((1 + np.sqrt(1 + 8 * e)) / 2))
    if e < 1 or n * (n - 1) // 2 != e:
        raise ValueError(f"num_vertices: E={e} is not n(n-1)/2 for any n >= 2")
    return n


def edge_list(n: int) -> np.ndarray:
    """int64 (E, 2): the undirected edges (u, v), u < v, in lexicographic order."""
    num_edges(n)
    return np.array([(u, v) for u in range(n) for v in range(u + 1, n)], dtype=np.int64).reshape(-1, 2)


def edge_index(n: int) -> np.ndarray:
    """int64 (2, 2E): columns 0..E-1 are (u, v) in edge order, columns E..2E-1 the reverse (v, u)."""
    uv = edge_list(n)
    src = np.concatenate([uv[:, 0], uv[:, 1]])
    dst = np.concatenate([uv[:, 1], uv[:, 0]])
    return np.stack([src, dst]).astype(np.int64)


def edge_attr(colours) -> np.ndarray:
    """float32 (..., 2E, 3) for colours (..., E): the one-hot colour, the same row for both directions."""
    c = np.asarray(colours)
    if not np.issubdtype(c.dtype, np.integer):
        if not np.all(np.equal(np.mod(c, 1), 0)):
            raise ValueError(f"edge_attr: colours must be integers in {{0, 1, 2}}, got dtype {c.dtype}")
        c = c.astype(np.int64)
    if c.ndim < 1:
        raise ValueError(f"edge_attr: colours must have shape (..., E), got shape {c.shape}")
    if c.size and (c.min() < 0 or c.max() > 2):
        raise ValueError(f"edge_attr: colours must be in {{0, 1, 2}}, got values in [{c.min()}, {c.max()}]")
    num_vertices(c.shape[-1])
    onehot = np.eye(NUM_EDGE_FEATURES, dtype=np.float32)[c]
    return np.concatenate([onehot, onehot], axis=-2)


def encode(colours) -> tuple[np.ndarray, np.ndarray]:
    """colours (E,) -> (edge_index int64 (2, 2E), edge_attr float32 (2E, 3)); a batch (B, E) gives
    edge_attr (B, 2E, 3) and the shared edge_index."""
    attr = edge_attr(colours)
    n = num_vertices(np.shape(colours)[-1])
    return edge_index(n), attr


def board_state(colours) -> dict:
    """The seed's ``board_state`` dict for one board: {'edge_index', 'edge_attr'}."""
    ei, ea = encode(colours)
    return {"edge_index": ei, "edge_attr": ea}
