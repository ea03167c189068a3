"""Self-play and training: the temperature schedule, value targets and the loss live inline."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from harness import tap

from .mcts import UCT_search, get_policy


def self_play(game, net, num_reads=64):
    """One game; returns the seed's examples (board, policy, value from the mover's perspective)."""
    history = []
    while not game.is_over():
        p = game.move_count / game.num_edges
        temperature = tap("mcts.temperature", 1.0 if p < 0.2 else 0.8 if p < 0.4 else 0.5 if p < 0.6
                          else 0.2 if p < 0.8 else 0.1)
        root = UCT_search(game, num_reads, net)
        history.append((game, get_policy(root, temperature)))
        game = game.play(int(np.argmax(np.where(root.valid, root.child_number_visits, -1))))
    winner = game.winner
    out = []
    for g, pi in history:
        ei, ea = g.encode()
        v = 0.0 if winner == -1 else (1.0 if winner == g.player else -1.0)
        out.append({"board_state": {"edge_index": ei, "edge_attr": ea}, "policy": pi, "value": v,
                    "player_role": g.player})
    return out


class Trainer:
    def __init__(self, net, lr=1e-3):
        self.net = net
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)

    def train_network(self, batches):
        self.net.train()
        for board, policy_target, value_target in batches:
            logits, value = self.net(board)
            probs = torch.softmax(logits, dim=-1)
            mask = (policy_target > 1e-7).float()
            policy_loss = tap("losses.policy", (-policy_target * torch.log(probs + 1e-8) * mask).sum(-1).mean())
            value_loss = tap("losses.value", F.smooth_l1_loss(value.squeeze(-1), value_target * 0.9, beta=1.0))
            l2 = tap("losses.l2", 1e-5 * sum(torch.norm(p) for p in self.net.parameters()))
            loss = tap("losses.total", 1.0 * policy_loss + 1.0 * value_loss + l2)
            self.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
            self.optimizer.step()
