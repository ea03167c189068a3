"""Batched AlphaZero MCTS in PyTorch: the components of spec.py; every game of the batch searched in lockstep
on fixed-size tensors.

Same semantics as np_ref.py (the oracle) and jax_ref.py: node slots ``num_reads + 1`` per game; per read,
every game descends its own tree (games that reached their leaf wait, masked), creates at most one node,
evaluates it and backs up along its path -- the ``Tree``'s phases ``simulate``, ``expand``, ``backward``.
Float32 throughout (the oracle is float64; with the table evaluator only near-ties could differ).
Eager CPU: per read ~20 small tensor ops per tree level, so a single game is slower than the NumPy oracle
and the batch pays for itself from ~4 games (bench/bench_mcts.py).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from harness.tap import active as tap_active
from harness.tap import tap
from reference.mcts import config as config_lib
from reference.mcts.game import torch_ref as game_torch
from reference.mcts.game.spec import STATE_KEYS
from reference.mcts.search import spec, tables


def _check_config(config, where: str):
    if not isinstance(config, config_lib.MCTSConfig):
        raise ValueError(f"{where}: config must be an MCTSConfig, got config={type(config).__name__}")
    if config.tie_break == "random":
        raise NotImplementedError(f"{where}: tie_break='random' is a drift only the numpy oracle implements")


def _t(x, dtype=None):
    """x as a tensor (of ``dtype`` if given); a tensor of that dtype is returned as it is."""
    if isinstance(x, torch.Tensor) and (dtype is None or x.dtype == dtype):
        return x
    return torch.as_tensor(np.asarray(x) if isinstance(x, np.generic) else x, dtype=dtype)


def _lookup(table: np.ndarray, move_count):
    m = torch.clamp(_t(move_count).to(torch.int64), 0, table.shape[0] - 1)
    return torch.as_tensor(table)[m]


def _argmax(scores, config):
    """argmax over the last axis; ties: first index (``first``) or last index (``last``).
    (torch.argmax returns the first maximal index on CPU.)"""
    if config.tie_break == "last":
        e = scores.shape[-1]
        return e - 1 - torch.argmax(torch.flip(scores, dims=[-1]), dim=-1)
    return torch.argmax(scores, dim=-1)


def _mask_renorm(p, valid, eps):
    """p * valid / sum(p * valid); uniform over valid where that sum < eps."""
    valid_f = valid.to(p.dtype)
    pm = p * valid_f
    total = pm.sum(-1, keepdim=True)
    n_valid = torch.clamp(valid_f.sum(-1, keepdim=True), min=1.0)
    small = total < eps
    return torch.where(small, valid_f / n_valid, pm / torch.where(small, torch.ones_like(total), total))


# ------------------------------------------------------------------------------------------ components


def puct_scores(w, n, priors, valid, node_n, config):
    """Q + U over valid actions, -inf elsewhere: scores (B, E) of a node's children."""
    n_f = _t(n, torch.int64).to(torch.float32)
    return _puct(_t(w, torch.float32), n_f, _t(priors, torch.float32), _t(valid, torch.bool), node_n, config)


def _q(w, n_f, config):
    """Q of each edge from W and N (visit counts as exact float32 integers): W / (1 + N), or the mean W / N
    (0 where N = 0)."""
    if config.q_mode == "w_over_1_plus_n":
        return w / (1.0 + n_f)
    return torch.where(n_f > 0, w / torch.clamp(n_f, min=1.0), 0.0)


def _puct(w, n_f, priors, valid, node_n, config):
    """``puct_scores`` on float32 tensors, N as exact float32 integers: the search's selection calls it on the
    gathered rows of its tables, so the checks of ``puct_scores`` test the very code the search runs."""
    if config.u_mode == "sqrt_max1_node":
        s = torch.sqrt(torch.clamp(_t(node_n, torch.float32), min=1.0))
    elif config.u_mode == "sqrt_1_plus_sum":
        s = torch.sqrt(1.0 + n_f.sum(-1))  # integer sums, exact in float32
    else:
        s = torch.sqrt(n_f.sum(-1))
    u = float(config.c_puct) * priors * s[..., None] / (1.0 + n_f)
    return torch.where(valid, _q(w, n_f, config) + u, -torch.inf)


def backup(leaf_value, depth, is_terminal, config):
    """(dw float (B, E), dn int32 (B, E)): the increments of W and N along each path, edge 0 = the root's.

    torch: float32."""
    e = config.num_edges
    v = _t(leaf_value).to(torch.float32)
    depth = _t(depth).to(torch.int64)
    i = torch.arange(e)
    on_path = i < depth[..., None]
    if config.backup_sign == "alternating":
        sign = torch.where((depth[..., None] - i) % 2 == 0, 1.0, -1.0).to(torch.float32)
    else:
        sign = torch.ones(on_path.shape, dtype=torch.float32)
    if config.terminal_detection:
        weight = torch.where(_t(is_terminal).to(torch.bool), float(config.terminal_weight), 1.0).to(torch.float32)
    else:
        weight = torch.ones_like(v)
    dw = torch.where(on_path, sign * (weight * v)[..., None], torch.zeros((), dtype=torch.float32))
    return dw, on_path.to(torch.int32)


def mix_noise(priors, noise, valid, move_count, config):
    """The root priors after noise (B, E): masked to valid, sum 1."""
    priors = _t(priors).to(torch.float32)
    valid = _t(valid).to(torch.bool)
    eps = config.prior_uniform_eps
    if not config.root_noise:
        return _mask_renorm(priors, valid, eps)
    noise = _t(noise).to(torch.float32)
    if config.noise_clip is not None:
        noise = torch.clamp(noise, config.noise_clip[0], config.noise_clip[1])
    w = config.noise_weight * _lookup(tables.one_minus_progress(config.num_edges), move_count)
    if config.noise_weight_schedule == "fixed":
        w = torch.full(w.shape, config.noise_weight, dtype=torch.float32)
    w = w.to(torch.float32)[..., None]
    if config.noise_scope == "valid":
        p = _mask_renorm(priors, valid, eps)
        mixed = ((1.0 - w) * p + w * torch.where(valid, noise, 0.0)) * valid.to(torch.float32)
        return mixed / mixed.sum(-1, keepdim=True)
    mixed = (1.0 - w) * priors + w * noise
    return _mask_renorm(mixed, valid, eps)


def noise_alpha(num_valid, config):
    """Dirichlet alpha float32 (B,) by the number of valid actions."""
    k = _t(num_valid).to(torch.int64)
    if config.alpha_mode == "fixed":
        return torch.full(k.shape, config.alpha_default, dtype=torch.float32)
    return torch.where(k < config.alpha_few_below, config.alpha_few,
                       torch.where(k > config.alpha_many_above, config.alpha_many,
                                   config.alpha_default)).to(torch.float32)


def sample_noise(seed, valid, config):
    """float32 (B, E): Dirichlet(alpha(#valid)) over the valid actions (0 elsewhere), or over all E actions.

    torch: Gamma draws in float64 under ``torch.random.fork_rng`` (no underflow of every draw at small
    alpha), normalised, then cast."""
    valid = _t(valid).to(torch.bool)
    support = valid if config.noise_scope == "valid" else torch.ones_like(valid)
    alpha = noise_alpha(support.sum(-1), config).to(torch.float64)
    conc = alpha[..., None].expand(support.shape).contiguous()
    with torch.random.fork_rng(devices=[]):  # torch's own Gamma sampler, seeded, global state untouched
        torch.manual_seed(int(seed))
        g = torch.distributions.Gamma(conc, torch.ones_like(conc)).sample()
    g = torch.where(support, g, torch.zeros_like(g))
    total = g.sum(-1, keepdim=True)
    out = torch.where(total > 0, g / torch.where(total > 0, total, torch.ones_like(total)),
                      support.to(torch.float64) / torch.clamp(support.sum(-1, keepdim=True), min=1))
    return out.to(torch.float32)


def temperature(move_count, config):
    """T (B,) by progress p = move_count / E: annealed or fixed.

    torch: looked up by move count in a host table computed in float64 (``tables``)."""
    return _lookup(tables.temperature(config), move_count)


def target_policy(visits, valid, temp, config):
    """pi (B, E) proportional to (N + target_eps)^(1/T), masked to valid actions, normalised.

    torch: float32."""
    n = _t(visits).to(torch.float32)
    valid = _t(valid).to(torch.bool)
    t = _t(temp).to(torch.float32)[..., None]
    eps = float(config.target_eps)
    nmax = torch.where(valid, n, torch.zeros_like(n)).amax(-1, keepdim=True)
    x = torch.where(valid, ((n + eps) / (nmax + eps)) ** (1.0 / t), torch.zeros_like(n))
    return x / x.sum(-1, keepdim=True)


def select_move(visits, valid, config):
    """int32 (B,): argmax of root visits over valid actions (tie_break; first index by default)."""
    n = torch.where(_t(valid).to(torch.bool), _t(visits).to(torch.int64), torch.full((), -1, dtype=torch.int64))
    return _argmax(n, config).to(torch.int32)


def default_config(name="alphazero_clique"):
    """The port's default MCTSConfig for profile ``name`` (compared field by field to the spec's profile)."""
    return config_lib.default_config(name)


# ------------------------------------------------------------------------------------------ evaluators


def _mix(x):
    x = x ^ (x >> 16)
    x = (x * spec.K_MIX) & spec.MASK32
    x = x ^ (x >> 16)
    x = (x * spec.K_MIX) & spec.MASK32
    return x ^ (x >> 16)


@functools.cache
def _table_constants(e: int, device):
    """(M[:e], A[:e]) as int64 tensors, made once per (E, device): the search calls the evaluator per simulation."""
    return (torch.tensor(spec.TABLE_M[:e], dtype=torch.int64, device=device),
            torch.tensor(spec.TABLE_A[:e], dtype=torch.int64, device=device))


def table_evaluator(state, game=None):
    """(priors float32 (B, E), value float32 (B,)): the table evaluator (module docstring), bit-identical.

    torch: int64 arithmetic masked to 32 bits."""
    c = torch.as_tensor(state["colours"]).to(torch.int64)
    e = c.shape[-1]
    spec._check_edges(e)
    m, a = _table_constants(e, c.device)
    tp = torch.as_tensor(state["to_play"]).to(torch.int64)
    h = (torch.sum(c * m, dim=-1) + (tp + 1) * spec.TABLE_M[spec.E_MAX]) & spec.MASK32
    w = 1 + (_mix(h[..., None] ^ a) >> 8) % spec.PRIOR_LEVELS
    lv = (_mix(h ^ spec.TABLE_V) >> 8) % spec.VALUE_LEVELS
    q = torch.div(w << spec.PRIOR_BITS, torch.sum(w, dim=-1, keepdim=True), rounding_mode="floor")
    priors = q.to(torch.float32) * (2.0 ** -spec.PRIOR_BITS)
    value = (lv.to(torch.float32) - 127.0) * (2.0 ** -7)
    return priors, value


def _network_evaluator(state, game, params):
    """The quantised network evaluator (spec.py): (softmax(logits_q) (B, E), value_q (B,)) float32;
    ``params`` = a nets.torch_ref.PolicyValueNet."""
    from reference.nets import torch_ref as nets

    enc = game_torch.encode(state, game)
    with torch.no_grad():
        logits, value = nets.policy_value(params, enc["edge_index"], enc["edge_attr"],
                                          torch.as_tensor(state["to_play"]).reshape(-1))
    lq = torch.floor(logits / spec.LOGIT_GRID) * spec.LOGIT_GRID
    vq = torch.floor(value / spec.VALUE_GRID) * spec.VALUE_GRID
    return torch.softmax(lq, dim=-1), vq


# ------------------------------------------------------------------------------------------ search


def _evaluate(state, game, params, config, evaluator=None):
    """Table evaluator (params None), the quantised policy-value network (``_network_evaluator``), or the
    caller's ``evaluator(one state) -> (priors (E,), value)`` game by game. ``config.perspective``
    ``fixed``: the evaluator's value is player one's, turned into the mover's: v * (1 - 2 to_play)."""
    if evaluator is not None:
        outs = [evaluator({k: state[k][i] for k in STATE_KEYS}) for i in range(state["colours"].shape[0])]
        p = torch.stack([_t(o[0], torch.float32).reshape(-1) for o in outs])
        v = torch.stack([_t(o[1], torch.float32).reshape(()) for o in outs])
    elif params is None:
        p, v = table_evaluator(state, game)
    else:
        p, v = _network_evaluator(state, game, params)
    if config.perspective == "fixed":
        v = v * (1.0 - 2.0 * state["to_play"].to(torch.float32))
    tv, done = game_torch.terminal_value(state, game)
    return p, v, tv, done


def _backup_tables(e, config):
    """Rows indexed by the path depth d: on_path[d, i] = i < d and sign[d, i] (``backup``'s sign of edge i)."""
    i, d = torch.arange(e), torch.arange(e + 1)[:, None]
    on_path = i < d
    if config.backup_sign == "alternating":
        sign = torch.where((d - i) % 2 == 0, 1.0, -1.0).to(torch.float32)
    else:
        sign = torch.ones(on_path.shape, dtype=torch.float32)
    return on_path, sign


class Tree:
    """The search trees of a batch of B games, on flat tables (for speed in eager torch: few, whole-batch ops
    per tree level). Node slot ``i`` of game ``g`` is row ``g (R + 1) + i`` (R = num_reads), so one
    ``index_select`` gathers a level for every game; a last row (``sink``) takes the writes of games that
    are not searched (terminal roots), so no write needs a mask. M = B (R + 1) + 1 rows:

        colours    int32 [M, E]; to_play, move_count, outcome int32 [M]    the node's game state
        stats      float32 [M, 3, E]   per edge: W, N (visit counts: exact float32 integers), P (the node's
                                       masked priors; the root's after noise)
        legal      bool [M, E]         the node's legal moves (set when it is created)
        children   int64 [M E]         row of the child of (node, action) at ``row * E + action``, -1: none yet
        expanded   bool [M]            evaluated and given priors (terminal nodes never are)
        node_n     float32 [M]         N(s), the node's own visit count
        base       int64 [B]           each game's root row;  nxt  int64 [B]  each game's next free row
        path_f, path_a  int64 [B, E + 1], path_on bool [B, E + 1]   per level of the last simulation: the
                                       node, the action taken there, whether the game was descending
    """

    def __init__(self, b, e, num_reads):
        nn = num_reads + 1
        self.e = e
        self.sink = sink = b * nn
        self.base = torch.arange(b, dtype=torch.int64) * nn
        self.state = {"colours": torch.zeros((sink + 1, e), dtype=torch.int32)}
        self.state.update({k: torch.zeros((sink + 1,), dtype=torch.int32) for k in STATE_KEYS[1:]})
        self.stats = torch.zeros((sink + 1, 3, e), dtype=torch.float32)
        self.legal = torch.zeros((sink + 1, e), dtype=torch.bool)
        self.children = torch.full(((sink + 1) * e,), -1, dtype=torch.int64)
        self.expanded = torch.zeros((sink + 1,), dtype=torch.bool)
        self.node_n = torch.zeros((sink + 1,), dtype=torch.float32)
        self.nxt = self.base + 1
        self.path_f = torch.zeros((b, e + 1), dtype=torch.int64)
        self.path_a = torch.zeros((b, e + 1), dtype=torch.int64)
        self.path_on = torch.zeros((b, e + 1), dtype=torch.bool)
        self.zero = torch.zeros((), dtype=torch.int64)

    def expand_root(self, root, valid, priors):
        """Write the roots' states, legal moves and priors (after noise); the roots are expanded, N(s) = 1."""
        base = self.base
        for k in STATE_KEYS:
            self.state[k].index_copy_(0, base, root[k])
        self.legal.index_copy_(0, base, valid)
        self.stats[:, 2].index_copy_(0, base, priors)
        self.expanded[base] = True
        self.node_n[base] = 1.0

    def simulate(self, active, config):
        """(level, f, depth, parent, action, edge, new): every game descends its tree in lockstep, one level per
        pass, by argmax of Q + U (``_puct``, tie_break), while the child is expanded (finished descents wait,
        masked); the path goes to path_f / path_a / path_on. f: the row reached; depth: edges on the path;
        (parent, action): the last edge, ``edge`` its flat index; new: that child is not created yet."""
        e, children = self.e, self.children
        f = self.base
        go = active
        level = 0
        while bool(go.any()):
            st = self.stats.index_select(0, f)  # (B, 3, E): W, N, P
            a = _argmax(_puct(st[:, 0], st[:, 1], st[:, 2], self.legal.index_select(0, f),
                              self.node_n.index_select(0, f), config), config)
            self.path_f[:, level] = f
            self.path_a[:, level] = a
            self.path_on[:, level] = go
            child = children.index_select(0, a.add_(f, alpha=e))
            cont = go & (child >= 0)
            f = torch.where(cont, child, f)
            go = cont & self.expanded.index_select(0, child.clamp(min=0))
            level += 1
        depth = self.path_on[:, :level].sum(1)
        last = (depth - 1).clamp_(min=0)[:, None]
        parent = self.path_f.gather(1, last).squeeze(1)
        action = self.path_a.gather(1, last).squeeze(1)
        edge = parent * e + action
        new = active & (children.index_select(0, edge) < 0)
        return level, f, depth, parent, action, edge, new

    def expand(self, sim, evaluate, active, searched, config):
        """(row, value, done): the leaf of each game -- a new child (state = apply_move of the parent's, in the
        game's next free row) or a seen terminal node -- evaluated (exact value of a terminal leaf if
        terminal_detection); a non-terminal leaf gets its masked priors and is expanded. ``row``: the leaf's
        row (the sink for a game not searched)."""
        _, f, _, parent, action, edge, new = sim
        state, e, sink = self.state, self.e, self.sink
        parent_state = {k: state[k].index_select(0, parent) for k in STATE_KEYS}
        child_state = game_torch.apply_move(parent_state, torch.where(new, action, self.zero), config.game)
        leaf = torch.where(new, self.nxt, f)
        born = torch.where(new, self.nxt, sink)  # rows that receive a new state
        for k in STATE_KEYS:
            state[k].index_copy_(0, born, child_state[k])
        if bool(new.all()):  # every game made a new node: its state is the one just made
            leaf_state = child_state
        else:
            leaf_state = {k: state[k].index_select(0, leaf) for k in STATE_KEYS}
        self.children.index_copy_(0, torch.where(new, edge, sink * e), self.nxt)
        self.nxt = self.nxt + new

        p, v, tv, done = evaluate(leaf_state)
        if config.terminal_detection:
            v = torch.where(done, tv, v)
        valid = (leaf_state["colours"] == 0) & (leaf_state["outcome"] == 0)[:, None]
        row = leaf if searched is self.base else torch.where(active, leaf, sink)
        self.legal.index_copy_(0, row, valid)
        self.stats[:, 2].index_copy_(0, row, _mask_renorm(p, valid, config.prior_uniform_eps))  # read once expanded
        self.expanded.index_copy_(0, row, ~done)
        return row, v, done

    def backward(self, sim, row, value, done, active, backup_tables, config):
        """``backup`` of each leaf's value along its path (the same float32 values: weight * v, times the sign,
        0 off the path): W += dw, N += dn per edge; every node on the path, root included, counts the visit.
        Taps per simulation, as np_ref._tap_simulation (games of a batch one after another)."""
        level, _, depth = sim[:3]
        e = self.e
        on_path_at, sign_at = backup_tables
        wv = torch.where(done, value * float(config.terminal_weight), value) if config.terminal_detection else value
        on_path = on_path_at.index_select(0, depth)[:, :level]
        dw = torch.where(on_path, sign_at.index_select(0, depth)[:, :level] * wv[:, None], 0.0)
        pf, pos = self.path_f[:, :level], self.path_f[:, :level] * (3 * e) + self.path_a[:, :level]
        flat = self.stats.view(-1)
        flat.index_put_((pos,), dw, accumulate=True)
        dn_f = on_path.to(torch.float32)
        flat.index_put_((pos + e,), dn_f, accumulate=True)
        self.node_n.index_put_((pf,), dn_f, accumulate=True)
        self.node_n.index_put_((row,), active.to(torch.float32), accumulate=True)
        if tap_active():
            on_full = on_path_at.index_select(0, depth)  # (B, E): the path's edges
            pa = self.path_a[:, :e]
            dw_full = torch.where(on_full, sign_at.index_select(0, depth) * wv[:, None], 0.0)
            root_n = self.stats.index_select(0, self.base)[:, 1].to(torch.int32)
            for i in range(pa.shape[0]):
                tap("mcts.select.path", torch.where(on_full[i], pa[i], -1).to(torch.int32))
                tap("mcts.evaluate.leaf_value", value[i])
                tap("mcts.backup.values", dw_full[i])
                tap("mcts.root.visits", root_n[i])


@torch.no_grad()
def _run(states, noise, config, params=None, evaluator=None):
    """``search`` with the table evaluator (params None), the network (``params``: a PolicyValueNet) or the
    caller's evaluator of one state: the roots' expansion, then simulate / expand / backward per read."""
    _check_config(config, "search")
    if config.evaluator == "network" and params is None:
        raise ValueError("search: config.evaluator='network' needs the network's params: call search_network")
    game = config.game
    root = {k: _t(states[k]).to(torch.int32) for k in STATE_KEYS}
    noise = _t(noise).to(torch.float32)
    b, e = root["colours"].shape
    if e != config.num_edges:
        raise ValueError(f"search: states['colours'] has {e} edges, config.game has E={config.num_edges}")
    if tuple(noise.shape) != (b, e):
        raise ValueError(f"search: noise must have shape {(b, e)}, got noise.shape={tuple(noise.shape)}")

    def evaluate(state):
        return _evaluate(state, game, params, config, evaluator)

    tree = Tree(b, e, config.num_reads)
    base = tree.base
    # root expansion (the first read when reads_include_root; before the budget otherwise)
    p0, v0, tv0, done0 = evaluate(root)
    valid0 = game_torch.legal_moves(root, game)
    root_priors = mix_noise(p0, noise, valid0, root["move_count"], config)
    tree.expand_root(root, valid0, root_priors)
    num_sims = config.num_reads - 1 if config.reads_include_root else config.num_reads
    active = ~done0
    searched = base if not bool(done0.any()) else torch.where(active, base, tree.sink)  # a terminal root: sink
    if not bool(active.any()):
        num_sims = 0
    backup_tables = _backup_tables(e, config)  # backup(): dw = sign * weight * v on the path, dn = 1
    for _ in range(num_sims):
        sim = tree.simulate(active, config)
        row, v, done = tree.expand(sim, evaluate, active, searched, config)
        tree.backward(sim, row, v, done, active, backup_tables, config)

    top = tree.stats.index_select(0, base)
    n = top[:, 1].to(torch.int32)
    w = top[:, 0]
    n_f = top[:, 1]
    q = _q(w, n_f, config)
    value = (v0 + w.sum(-1)) / (1.0 + n_f.sum(-1))
    d0 = done0[:, None]
    return {"visits": torch.where(d0, 0, n).to(torch.int32), "q": torch.where(d0, 0.0, q),
            "w": torch.where(d0, 0.0, w), "value": torch.where(done0, tv0, value),
            "priors": torch.where(d0, 0.0, root_priors)}


def search(states, noise, config):
    """Root statistics of an MCTS from each state with the table evaluator: a dict of arrays.

    torch: float32, the games of the batch in lockstep (``Tree``)."""
    return _run(states, noise, config)


def search_network(states, noise, config, params):
    """``search`` with the quantised policy-value network evaluator (module docstring) instead of the table.

    torch: params = a ``nets.torch_ref.PolicyValueNet`` (``nets.torch_ref.to_native(canonical)``)."""
    if params is None:
        raise ValueError("search_network: params must be a PolicyValueNet, got params=None")
    return _run(states, noise, config.replace(evaluator="network"), params=params)


def search_with_evaluator(state, evaluator, noise, config):
    """The whole search of ONE game with the caller's ``evaluator(state) -> (priors (E,), value)``.

    torch: the evaluator gets one state dict of tensors and may answer in torch, NumPy or JAX."""
    batched = {k: _t(state[k]).to(torch.int32)[None] for k in STATE_KEYS}
    out = _run(batched, _t(noise).to(torch.float32)[None], config, evaluator=evaluator)
    return {k: v[0] for k, v in out.items()}
