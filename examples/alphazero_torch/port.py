"""Glue: the trainer's own classes reached as harness components (the trainer is not changed)."""
import functools
import types

import numpy as np
import torch

from harness import Implementation, intercept, recording
from reference.mcts.search.np_ref import table_evaluator as table_evaluator_np

from . import mcts
from .clique import CliqueGame
from .trainer import Trainer

CODE = {None: 0, 0: 1, 1: 2, -1: 3}  # CliqueGame.winner -> the harness's outcome code


def games(s, cfg):
    return [CliqueGame(cfg.n, cfg.k, c, p) for c, p in zip(np.asarray(s["colours"]), np.asarray(s["to_play"]))]


def games_state(gs):
    return {"colours": np.int32([g.colours for g in gs]), "to_play": np.int32([g.player for g in gs]),
            "move_count": np.int32([g.move_count for g in gs]), "outcome": np.int32([CODE[g.winner] for g in gs])}


def search_with_evaluator(state, evaluator, noise, config, node_cls=mcts.UCTNode):
    g, root_value = games({k: np.asarray(v)[None] for k, v in state.items()}, config.game)[0], []
    def net(game):
        p, v = (np.asarray(x, np.float64) for x in evaluator({k: v[0] for k, v in games_state([game]).items()}))
        return p, root_value.append(float(v)) or float(v)
    # np.random.dirichlet inside expand returns the harness's noise (restored afterwards)
    with intercept.np_dirichlet([np.asarray(noise, np.float64)[g.legal_moves()]]):
        root = mcts.UCT_search(g, config.num_reads, net, node_cls)
    w, n = root.child_total_value, root.child_number_visits
    return {"visits": n.astype(np.int32), "q": w / (1 + n), "value": (root_value[0] + w.sum()) / (1 + n.sum())}


def search(states, noise, config, node_cls=mcts.UCTNode):  # batched, with the harness's table evaluator
    table = lambda s: [x[0] for x in table_evaluator_np({k: np.asarray(v)[None] for k, v in s.items()})]
    outs = [search_with_evaluator({k: np.asarray(v)[b] for k, v in states.items()}, table, z, config, node_cls)
            for b, z in enumerate(np.asarray(noise))]
    return {k: np.stack([o[k] for o in outs]) for k in outs[0]}


def puct_scores(w, n, priors, valid, node_n, config, node_cls=mcts.UCTNode):
    rows = [types.SimpleNamespace(child_total_value=a, child_number_visits=b, child_priors=c, valid=d, visits=int(e),
                                  c_puct=node_cls.c_puct)
                                  for a, b, c, d, e in zip(*map(np.asarray, (w, n, priors, valid, node_n)))]
    return np.stack([np.where(r.valid, node_cls.child_Q(r) + node_cls.child_U(r), -np.inf) for r in rows])


def total_loss(params, logits, value_output, policy_target, value_target, *weights):  # one step of the inline loss
    net = torch.nn.Module()
    net.p = torch.nn.ParameterDict({k.replace(".", "_"): torch.nn.Parameter(v.clone()) for k, v in params.items()})
    net.forward = lambda board: (logits, value_output)
    with recording() as trace:
        Trainer(net).train_network([(None, policy_target, value_target)])
    return trace.values("losses.total")[0]


def make(name, node_cls):  # one port per node class: the trainer's UCTNode, or the drifted one
    return Implementation(name, "torch", {
        "mcts.legal_moves": lambda s, cfg: np.stack([g.legal_moves() for g in games(s, cfg)]),
        "mcts.apply_move": lambda s, a, cfg: games_state([g.play(int(x)) for g, x in zip(games(s, cfg), a)]),
        "mcts.terminal_value": lambda s, cfg: (np.float32([g.terminal_value() for g in games(s, cfg)]),
                                               np.array([g.is_over() for g in games(s, cfg)])),
        "mcts.encode": lambda s, cfg: {"edge_index": games(s, cfg)[0].encode()[0],
                                       "edge_attr": np.stack([g.encode()[1] for g in games(s, cfg)])},
        "mcts.puct_scores": functools.partial(puct_scores, node_cls=node_cls),
        "mcts.search": functools.partial(search, node_cls=node_cls),
        "mcts.search_with_evaluator": functools.partial(search_with_evaluator, node_cls=node_cls),
        "losses.total": total_loss,
    }, profiles=("alphazero_clique", "symmetric"), fixed={"c_puct": 3.0, "policy_weight": 1.0, "value_weight": 1.0,
                                                          "perspective": "alternating"})


PORT = make("alphazero_torch", mcts.UCTNode)
DRIFTED = make("alphazero_torch_drifted", type("DriftedNode", (mcts.UCTNode,), {"c_puct": 1.0}))  # c_puct 1.0 in the code
