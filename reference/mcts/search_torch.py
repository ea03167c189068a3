"""Batched AlphaZero MCTS in PyTorch: every game of the batch searched in lockstep on fixed-size tensors.

Same semantics and tree layout as search_jax.py (read its docstring) and search_np.py (the oracle):
node slots ``num_reads + 1`` per game; per read, every game descends its own tree (games that reached
their leaf wait, masked), creates at most one node, evaluates it and backs up along its path. Float32
throughout (the oracle is float64; with the table evaluator only near-ties could differ).

Components here (same names / signatures as np_ref.py): puct_scores, backup, mix_noise, noise_alpha,
sample_noise, temperature, target_policy, select_move, search, search_network, default_config.
Eager CPU: per read ~20 small tensor ops per tree level, so a single game is slower than the NumPy
oracle and the batch pays for itself from ~4 games (bench/bench_mcts.py).
"""

from __future__ import annotations

import numpy as np
import torch

from harness.tap import active as tap_active
from harness.tap import tap
from reference.mcts import config as config_lib
from reference.mcts import game_torch, tables
from reference.mcts.evaluator import network_evaluator_torch, table_evaluator_torch

STATE_KEYS = ("colours", "to_play", "move_count", "outcome")


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


def mask_renorm(p, valid, eps):
    """p * valid / sum(p * valid); uniform over valid where that sum < eps."""
    valid_f = valid.to(p.dtype)
    pm = p * valid_f
    total = pm.sum(-1, keepdim=True)
    n_valid = torch.clamp(valid_f.sum(-1, keepdim=True), min=1.0)
    small = total < eps
    return torch.where(small, valid_f / n_valid, pm / torch.where(small, torch.ones_like(total), total))


# ------------------------------------------------------------------------------------------ components


def puct_scores(w, n, priors, valid, node_n, config):
    """Q + U over valid actions, -inf elsewhere (see search_jax.puct_scores for the equations)."""
    w = _t(w, torch.float32)
    n_i = _t(n, torch.int64)
    n_f = n_i.to(torch.float32)
    priors = _t(priors, torch.float32)
    if config.q_mode == "w_over_1_plus_n":
        q = w / (1.0 + n_f)
    else:
        q = torch.where(n_i > 0, w / torch.clamp(n_f, min=1.0), torch.zeros_like(w))
    if config.u_mode == "sqrt_max1_node":
        s = torch.sqrt(torch.clamp(_t(node_n, torch.float32), min=1.0))
    elif config.u_mode == "sqrt_1_plus_sum":
        s = torch.sqrt(1.0 + n_i.sum(-1).to(torch.float32))
    else:
        s = torch.sqrt(n_i.sum(-1).to(torch.float32))
    u = float(config.c_puct) * priors * s[..., None] / (1.0 + n_f)
    return torch.where(_t(valid, torch.bool), q + u, torch.full_like(q, -torch.inf))


def backup(leaf_value, depth, is_terminal, config):
    """(dw float32 (..., E), dn int32 (..., E)): path edge i < depth gets dw = sign_i * weight * v, dn = 1;
    sign_i = (-1)^(depth - i) (alternating) or +1 (same); weight = terminal_weight for a detected terminal."""
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
    """Root priors after noise (masked, sum 1): see INTERFACE.md ``mcts.mix_noise``."""
    priors = _t(priors).to(torch.float32)
    valid = _t(valid).to(torch.bool)
    eps = config.prior_uniform_eps
    if not config.root_noise:
        return mask_renorm(priors, valid, eps)
    noise = _t(noise).to(torch.float32)
    if config.noise_clip is not None:
        noise = torch.clamp(noise, config.noise_clip[0], config.noise_clip[1])
    w = config.noise_weight * _lookup(tables.one_minus_progress(config.num_edges), move_count)
    if config.noise_weight_schedule == "fixed":
        w = torch.full(w.shape, config.noise_weight, dtype=torch.float32)
    w = w.to(torch.float32)[..., None]
    if config.noise_scope == "valid":
        p = mask_renorm(priors, valid, eps)
        mixed = ((1.0 - w) * p + w * torch.where(valid, noise, 0.0)) * valid.to(torch.float32)
        return mixed / mixed.sum(-1, keepdim=True)
    mixed = (1.0 - w) * priors + w * noise
    return mask_renorm(mixed, valid, eps)


def noise_alpha(num_valid, config):
    """alpha float32 (...): by_legal_moves (alpha_few below few_below, alpha_many above many_above,
    else alpha_default) or fixed alpha_default."""
    k = _t(num_valid).to(torch.int64)
    if config.alpha_mode == "fixed":
        return torch.full(k.shape, config.alpha_default, dtype=torch.float32)
    return torch.where(k < config.alpha_few_below, config.alpha_few,
                       torch.where(k > config.alpha_many_above, config.alpha_many,
                                   config.alpha_default)).to(torch.float32)


def sample_noise(seed, valid, config):
    """float32 (B, E): Dirichlet over the valid actions (scope valid, 0 elsewhere) or all E (scope all),
    alpha from ``noise_alpha``; torch.manual_seed(seed) inside fork_rng. Gamma draws in float64 (no
    underflow of every draw at small alpha), normalised, then cast. Compared by distribution only."""
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
    """T float32 (...): annealed schedule by progress p = m / E (strict thresholds; host table, exact),
    or temperature_fixed."""
    return _lookup(tables.temperature(config), move_count)


def target_policy(visits, valid, temperature_, config):
    """pi (B, E) proportional to (N + eps)^(1/T) masked to valid, computed as ((N + eps) / (max + eps))^(1/T)."""
    n = _t(visits).to(torch.float32)
    valid = _t(valid).to(torch.bool)
    t = _t(temperature_).to(torch.float32)[..., None]
    eps = float(config.target_eps)
    nmax = torch.where(valid, n, torch.zeros_like(n)).amax(-1, keepdim=True)
    x = torch.where(valid, ((n + eps) / (nmax + eps)) ** (1.0 / t), torch.zeros_like(n))
    return x / x.sum(-1, keepdim=True)


def select_move(visits, valid, config):
    """int32 (B,): argmax of root visits over valid actions (first index on ties by default)."""
    n = torch.where(_t(valid).to(torch.bool), _t(visits).to(torch.int64), torch.full((), -1, dtype=torch.int64))
    return _argmax(n, config).to(torch.int32)


def default_config(name="alphazero_clique"):
    """The torch port's defaults for profile ``name`` (the reference profile itself)."""
    return config_lib.default_config(name)


# ------------------------------------------------------------------------------------------ search


def _evaluate(state, game, params, config, evaluator=None):
    """Table evaluator (params None), the quantised policy-value network (evaluator.network_evaluator_torch),
    or the caller's ``evaluator(one state) -> (priors (E,), value)`` game by game. ``config.perspective``
    ``fixed``: the evaluator's value is player one's, turned into the mover's: v * (1 - 2 to_play)."""
    if evaluator is not None:
        outs = [evaluator({k: state[k][i] for k in STATE_KEYS}) for i in range(state["colours"].shape[0])]
        p = torch.stack([_t(o[0], torch.float32).reshape(-1) for o in outs])
        v = torch.stack([_t(o[1], torch.float32).reshape(()) for o in outs])
    elif params is None:
        p, v = table_evaluator_torch(state, game)
    else:
        p, v = network_evaluator_torch(state, game, params)
    if config.perspective == "fixed":
        v = v * (1.0 - 2.0 * state["to_play"].to(torch.float32))
    tv, done = game_torch.terminal_value(state, game)
    return p, v, tv, done


def _scores(st, legal, node_n, config):
    """``puct_scores`` of the gathered nodes, op for op (the same float32 values): ``st`` (B, 3, E) holds W, N
    (visit counts as exact float32 integers) and P, ``legal`` (B, E), ``node_n`` (B,) float32."""
    w, n_f, priors = st[:, 0], st[:, 1], st[:, 2]
    one_n = 1.0 + n_f
    if config.q_mode == "w_over_1_plus_n":
        q = w / one_n
    else:
        q = torch.where(n_f > 0, w / torch.clamp(n_f, min=1.0), 0.0)
    if config.u_mode == "sqrt_max1_node":
        s = torch.sqrt(torch.clamp(node_n, min=1.0))
    elif config.u_mode == "sqrt_1_plus_sum":
        s = torch.sqrt(1.0 + n_f.sum(-1))  # integer sums, exact in float32
    else:
        s = torch.sqrt(n_f.sum(-1))
    u = float(config.c_puct) * priors * s[:, None] / one_n
    return torch.where(legal, q + u, -torch.inf)


def _backup_tables(e, config):
    """Rows indexed by the path depth d: on_path[d, i] = i < d and sign[d, i] (``backup``'s sign of edge i)."""
    i, d = torch.arange(e), torch.arange(e + 1)[:, None]
    on_path = i < d
    if config.backup_sign == "alternating":
        sign = torch.where((d - i) % 2 == 0, 1.0, -1.0).to(torch.float32)
    else:
        sign = torch.ones(on_path.shape, dtype=torch.float32)
    return on_path, sign


@torch.no_grad()
def search(states, noise, config, params=None, evaluator=None):
    """Batched search: states (dict, leading axis B), noise float32 (B, E), config.

    Returns {"visits" int32 (B, E), "q" float32 (B, E), "w" float32 (B, E), "value" float32 (B,),
    "priors" float32 (B, E)} (see INTERFACE.md). ``params`` (a nets.torch_ref.PolicyValueNet) switches
    to the network evaluator: ``search_network``.

    Layout (for speed in eager torch: few, whole-batch ops per tree level): node slot ``i`` of game ``g`` is row
    ``g (R + 1) + i`` of flat tables, so one ``index_select`` gathers a level for every game; the edge statistics
    of a node are one float32 block (W, N, P) (visit counts are integers, exact in float32); the path is recorded
    per level; a last row (``sink``) takes the writes of games that are not searched (terminal roots), so no
    write needs a mask."""
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
    nn = config.num_reads + 1
    eps = config.prior_uniform_eps
    sink = b * nn
    base = torch.arange(b, dtype=torch.int64) * nn  # each game's root row
    tree = {"colours": torch.zeros((sink + 1, e), dtype=torch.int32)}
    tree.update({k: torch.zeros((sink + 1,), dtype=torch.int32) for k in STATE_KEYS[1:]})
    stats = torch.zeros((sink + 1, 3, e), dtype=torch.float32)  # per node and edge: W, N, P
    legal = torch.zeros((sink + 1, e), dtype=torch.bool)  # the node's legal moves, set when it is created
    children = torch.full(((sink + 1) * e,), -1, dtype=torch.int64)  # row of the child of (node, action)
    expanded = torch.zeros((sink + 1,), dtype=torch.bool)
    node_n = torch.zeros((sink + 1,), dtype=torch.float32)
    nxt = base + 1  # row of each game's next new node
    path_f = torch.zeros((b, e + 1), dtype=torch.int64)  # per level: the node and the action taken there
    path_a = torch.zeros((b, e + 1), dtype=torch.int64)
    path_on = torch.zeros((b, e + 1), dtype=torch.bool)

    # root expansion (the first read when reads_include_root; before the budget otherwise)
    p0, v0, tv0, done0 = _evaluate(root, game, params, config, evaluator)
    valid0 = game_torch.legal_moves(root, game)
    for k in STATE_KEYS:
        tree[k].index_copy_(0, base, root[k])
    legal.index_copy_(0, base, valid0)
    root_priors = mix_noise(p0, noise, valid0, root["move_count"], config)
    stats[:, 2].index_copy_(0, base, root_priors)
    expanded[base] = True
    node_n[base] = 1.0
    num_sims = config.num_reads - 1 if config.reads_include_root else config.num_reads
    active = ~done0
    searched = base if not bool(done0.any()) else torch.where(active, base, sink)  # writes of a terminal root: sink
    if not bool(active.any()):
        num_sims = 0
    zero = torch.zeros((), dtype=torch.int64)
    on_path_at, sign_at = _backup_tables(e, config)  # backup(): dw = sign * weight * v on the path, dn = 1
    terminal_weight = float(config.terminal_weight)

    for _ in range(num_sims):
        # 1. selection, every game in lockstep, one level per pass; finished descents wait (masked)
        f = base
        go = active
        level = 0
        while bool(go.any()):
            a = _argmax(_scores(stats.index_select(0, f), legal.index_select(0, f),
                                node_n.index_select(0, f), config), config)
            path_f[:, level] = f
            path_a[:, level] = a
            path_on[:, level] = go
            child = children.index_select(0, a.add_(f, alpha=e))
            cont = go & (child >= 0)
            f = torch.where(cont, child, f)
            go = cont & expanded.index_select(0, child.clamp(min=0))
            level += 1
        depth = path_on[:, :level].sum(1)
        last = (depth - 1).clamp_(min=0)[:, None]
        parent = path_f.gather(1, last).squeeze(1)
        action = path_a.gather(1, last).squeeze(1)
        edge = parent * e + action
        new = active & (children.index_select(0, edge) < 0)

        # 2. the leaf: a new child (state = apply_move of the parent's) or a seen terminal node
        parent_state = {k: tree[k].index_select(0, parent) for k in STATE_KEYS}
        child_state = game_torch.apply_move(parent_state, torch.where(new, action, zero), game)
        leaf = torch.where(new, nxt, f)
        born = torch.where(new, nxt, sink)  # rows that receive a new state
        for k in STATE_KEYS:
            tree[k].index_copy_(0, born, child_state[k])
        if bool(new.all()):  # every game made a new node: its state is the one just made
            leaf_state = child_state
        else:
            leaf_state = {k: tree[k].index_select(0, leaf) for k in STATE_KEYS}
        children.index_copy_(0, torch.where(new, edge, sink * e), nxt)
        nxt = nxt + new

        p, v, tv, done = _evaluate(leaf_state, game, params, config, evaluator)
        if config.terminal_detection:
            v = torch.where(done, tv, v)
        valid = (leaf_state["colours"] == 0) & (leaf_state["outcome"] == 0)[:, None]
        row = leaf if searched is base else torch.where(active, leaf, sink)
        legal.index_copy_(0, row, valid)
        stats[:, 2].index_copy_(0, row, mask_renorm(p, valid, eps))  # read only once expanded (not done)
        expanded.index_copy_(0, row, ~done)

        # 3. backup along each path; every node on it (root included) counts the visit
        # (= backup(v, depth, done, config), the same float32 values: weight * v, times the sign, 0 off the path)
        wv = torch.where(done, v * terminal_weight, v) if config.terminal_detection else v
        on_path = on_path_at.index_select(0, depth)[:, :level]
        dw = torch.where(on_path, sign_at.index_select(0, depth)[:, :level] * wv[:, None], 0.0)
        pf, pos = path_f[:, :level], path_f[:, :level] * (3 * e) + path_a[:, :level]
        flat = stats.view(-1)
        flat.index_put_((pos,), dw, accumulate=True)
        dn_f = on_path.to(torch.float32)
        flat.index_put_((pos + e,), dn_f, accumulate=True)
        node_n.index_put_((pf,), dn_f, accumulate=True)
        node_n.index_put_((row,), active.to(torch.float32), accumulate=True)
        if tap_active():  # per simulation, as search_np._tap_simulation (games of a batch one after another)
            on_full = on_path_at.index_select(0, depth)  # (B, E): the path's edges
            pa = path_a[:, :e]
            dw_full = torch.where(on_full, sign_at.index_select(0, depth) * wv[:, None], 0.0)
            root_n = stats.index_select(0, base)[:, 1].to(torch.int32)
            for i in range(b):
                tap("mcts.select.path", torch.where(on_full[i], pa[i], -1).to(torch.int32))
                tap("mcts.evaluate.leaf_value", v[i])
                tap("mcts.backup.values", dw_full[i])
                tap("mcts.root.visits", root_n[i])

    top = stats.index_select(0, base)
    n = top[:, 1].to(torch.int32)
    w = top[:, 0]
    n_f = n.to(torch.float32)
    if config.q_mode == "w_over_1_plus_n":
        q = w / (1.0 + n_f)
    else:
        q = torch.where(n > 0, w / torch.clamp(n_f, min=1.0), torch.zeros_like(w))
    value = (v0 + w.sum(-1)) / (1.0 + n_f.sum(-1))
    d0 = done0[:, None]
    return {"visits": torch.where(d0, 0, n).to(torch.int32), "q": torch.where(d0, 0.0, q),
            "w": torch.where(d0, 0.0, w), "value": torch.where(done0, tv0, value),
            "priors": torch.where(d0, 0.0, root_priors)}


def search_network(states, noise, config, params):
    """``search`` with the quantised policy-value network evaluator (evaluator.network_evaluator_torch);
    ``params`` = a ``nets.torch_ref.PolicyValueNet`` (``nets.torch_ref.to_native(canonical)``)."""
    if params is None:
        raise ValueError("search_network: params must be a PolicyValueNet, got params=None")
    return search(states, noise, config.replace(evaluator="network"), params=params)


def search_with_evaluator(state, evaluator, noise, config):
    """The whole search of ONE game with the caller's evaluator (see search_np.search_with_evaluator):
    ``evaluator(state) -> (priors (E,), value)`` on one state dict of tensors, answering in torch, NumPy or
    JAX. Returns the root statistics of ``search`` without the batch axis; taps per simulation."""
    batched = {k: _t(state[k]).to(torch.int32)[None] for k in STATE_KEYS}
    out = search(batched, _t(noise).to(torch.float32)[None], config, evaluator=evaluator)
    return {k: v[0] for k, v in out.items()}
