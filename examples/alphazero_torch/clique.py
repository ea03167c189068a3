"""The clique game on K_n (symmetric mode): a mover owning a k-clique in its colour wins; full board: draw."""

from __future__ import annotations

import itertools

import numpy as np


class CliqueGame:
    def __init__(self, n=5, k=3, colours=None, player=0):
        """A new game, or the position with edge ``colours`` (0 empty, 1 first player, 2 second player) and
        ``player`` (0 first, 1 second) to move; the move count and the winner follow from the board."""
        self.n, self.k = n, k
        self.edges = [(u, v) for u in range(n) for v in range(u + 1, n)]
        self.num_edges = len(self.edges)
        index = {e: i for i, e in enumerate(self.edges)}
        self.cliques = [[index[p] for p in itertools.combinations(c, 2)] for c in itertools.combinations(range(n), k)]
        self.colours = np.zeros(self.num_edges, np.int64) if colours is None else np.asarray(colours, np.int64).copy()
        self.player = int(player)
        self.move_count = int(np.count_nonzero(self.colours))
        self.winner = None  # None ongoing, 0 / 1 a player, -1 draw
        for who in (0, 1):
            if self._owns_clique(who):
                self.winner = who
        if self.winner is None and self.move_count == self.num_edges:
            self.winner = -1

    def _owns_clique(self, who):
        return any(all(self.colours[e] == who + 1 for e in c) for c in self.cliques)

    def copy(self):
        g = CliqueGame.__new__(CliqueGame)
        g.__dict__.update(self.__dict__)
        g.colours = self.colours.copy()
        return g

    def is_over(self):
        return self.winner is not None

    def legal_moves(self):
        return (self.colours == 0) & (not self.is_over())

    def play(self, action):
        g = self.copy()
        g.colours[action] = g.player + 1
        g.move_count += 1
        if g._owns_clique(g.player):
            g.winner = g.player
        elif g.move_count == g.num_edges:
            g.winner = -1
        g.player = 1 - g.player
        return g

    def terminal_value(self):
        """The outcome for the player to move: +1 won, -1 lost, 0 draw (or not over)."""
        if self.winner is None or self.winner == -1:
            return 0.0
        return 1.0 if self.winner == self.player else -1.0

    def encode(self):
        """(edge_index (2, 2E), edge_attr (2E, 3)): both directions of each edge next to each other."""
        src, dst, attr = [], [], []
        for (u, v), c in zip(self.edges, self.colours):
            onehot = np.eye(3, dtype=np.float32)[c]
            src += [u, v]
            dst += [v, u]
            attr += [onehot, onehot]
        return np.array([src, dst], np.int64), np.stack(attr)
