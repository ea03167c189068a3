"""UCT search: a node class with child_Q / child_U / best_child / expand / backup, root noise drawn with
np.random.dirichlet inside expand. W and N are float32 arrays, as in the seed trainer."""

from __future__ import annotations

import math

import numpy as np

from harness import tap

C_PUCT = 3.0
TERMINAL_WEIGHT = 2.0


class UCTNode:
    c_puct = C_PUCT

    def __init__(self, game, move=None, parent=None):
        self.game, self.move, self.parent = game, move, parent
        self.is_expanded = False
        self.children = {}
        self.visits = 0
        e = game.num_edges
        self.child_priors = np.zeros(e, np.float32)
        self.child_total_value = np.zeros(e, np.float32)
        self.child_number_visits = np.zeros(e, np.float32)
        self.valid = game.legal_moves()

    def child_Q(self):
        return self.child_total_value / (1.0 + self.child_number_visits)

    def child_U(self):
        return self.c_puct * math.sqrt(max(1, self.visits)) * np.abs(self.child_priors) / (1.0 + self.child_number_visits)

    def best_child(self):
        scores = np.where(self.valid, self.child_Q() + self.child_U(), -np.inf)
        return int(np.argmax(scores))

    def select_leaf(self):
        current, path = self, []
        while current.is_expanded:
            a = current.best_child()
            path.append(a)
            if a not in current.children:
                current.children[a] = UCTNode(current.game.play(a), a, current)
            current = current.children[a]
        if path:
            tap("mcts.select.path", np.array(path + [-1] * (self.game.num_edges - len(path)), np.int32))
        return current

    def expand(self, child_priors):
        self.is_expanded = True
        p = np.where(self.valid, child_priors, 0.0)
        p = p / p.sum() if p.sum() >= 1e-8 else self.valid / self.valid.sum()
        if self.parent is None:  # root: Dirichlet noise over the legal moves, weight decaying with progress
            idx = np.flatnonzero(self.valid)
            alpha = 0.15 if len(idx) < 5 else (0.4 if len(idx) > 15 else 0.3)
            noise = np.clip(np.random.dirichlet([alpha] * len(idx)), 0.01, 0.99)
            w = 0.25 * (1.0 - self.game.move_count / self.game.num_edges)
            mixed = (1.0 - w) * p
            mixed[idx] += w * noise
            p = mixed / mixed.sum()
        self.child_priors = p.astype(np.float32)

    def backup(self, value_estimate, weight=1.0):
        """value_estimate is for the player to move at this node; each ply up flips the sign."""
        current, v, increments = self, value_estimate * weight, []
        current.visits += 1
        while current.parent is not None:
            v = -v
            parent = current.parent
            parent.child_total_value[current.move] += v
            parent.child_number_visits[current.move] += 1
            parent.visits += 1
            increments.append(v)
            current = parent
        if increments:  # a simulation (the read that expands the root is not one)
            tap("mcts.evaluate.leaf_value", np.float64(value_estimate))
            tap("mcts.backup.values", np.array(increments[::-1] + [0.0] * (self.game.num_edges - len(increments))))


def UCT_search(game, num_reads, net, node_cls=UCTNode):
    """``net(game) -> (priors (E,), value for the player to move)``. Returns the root."""
    root = node_cls(game)
    for _ in range(num_reads):
        leaf = root.select_leaf()
        if leaf.game.is_over():
            leaf.backup(leaf.game.terminal_value(), TERMINAL_WEIGHT)
        else:
            priors, value = net(leaf.game)
            leaf.expand(np.asarray(priors, np.float64))
            leaf.backup(float(value))
        if leaf is not root:
            tap("mcts.root.visits", root.child_number_visits.astype(np.int32))
    return root


def get_policy(root, temperature):
    n = np.where(root.valid, (root.child_number_visits + 1e-8) ** (1.0 / temperature), 0.0)
    return n / n.sum()
