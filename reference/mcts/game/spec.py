"""MCTS, part 1: the clique game on K_n (spec: /work/shared/spec/mcts.md, "The game").

The seed project's game, written three times with the same names and semantics: ``np_ref.py`` (NumPy, the
oracle's game; also accepts an unbatched state), ``jax_ref.py`` (pure, jit-able, ``game`` static) and
``torch_ref.py``. ``states.py`` holds NumPy helpers to build and slice states (initial_state, play, take,
stack, cliques). The game's settings are ``reference.mcts.config.GameConfig(n, k, mode)``.

Rules
  Vertices 0..n-1; the E = n(n-1)/2 edges (u, v), u < v, in lexicographic order
  (``reference/nets/encoding.edge_list(n)``); action = edge index. The first player moves first; a move
  colours one empty edge with the mover's colour (to_play + 1), move_count + 1, and the turn passes (also
  after the last move). Mode ``symmetric``: a mover who now owns a k-clique in its colour wins; a full
  board without a winner is a draw. Mode ``asymmetric``: only the first player wins, by owning a k-clique;
  a full board without one is the second player's win.

Game state (a dict of arrays; a batch stacks them along axis 0)::

    state = {"colours":    int32 (B, E)  0 empty, 1 first player, 2 second player
             "to_play":    int32 (B,)    0 first player, 1 second player
             "move_count": int32 (B,)
             "outcome":    int32 (B,)    0 ongoing, 1 first player won, 2 second player won, 3 draw}

Every component takes and returns BATCHED arrays (leading axis B); progress p = move_count / E.
"""

from __future__ import annotations

AREA = "mcts"

ONGOING, FIRST_WON, SECOND_WON, DRAW = 0, 1, 2, 3  # values of state["outcome"]
STATE_KEYS = ("colours", "to_play", "move_count", "outcome")
FULL_BOARD = {"symmetric": DRAW, "asymmetric": SECOND_WON}  # the outcome of a full board without a winner


def legal_moves(state, game):
    """bool (B, E): the edge is empty and the game is ongoing (outcome == 0)."""
    ...


def apply_move(state, action, game):
    """The state after the mover colours edge ``action`` (int (B,), must be legal) with to_play + 1.

    move_count + 1, the turn passes (also after the last move), then the outcome: symmetric -> the mover owns
    a k-clique in its colour: the mover wins (outcome = mover + 1); else a full board: draw (3). asymmetric ->
    the first player owns a k-clique: 1; else a full board: 2. NumPy raises ValueError on an illegal action
    (JAX / torch: undefined).
    """
    ...


def terminal_value(state, game):
    """(value float32 (B,), done bool (B,)): done = outcome != 0; value for the player TO MOVE.

    +1 if the outcome is that player's win, -1 if the other's, 0 for a draw or an ongoing game.
    """
    ...


def encode(state, game):
    """{"edge_index": int (2, 2E), "edge_attr": float32 (B, 2E, 3)}: the board as the networks see it.

    Exactly ``reference/nets/encoding.py``: columns E..2E-1 of edge_index are columns 0..E-1 reversed, each
    edge_attr row the one-hot [empty, first, second] of the edge's colour (both directions). edge_index is
    int64 in NumPy and torch, int32 in JAX (x64 off).
    """
    ...
