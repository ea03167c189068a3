"""Batched AlphaZero MCTS in JAX: the components of spec.py on fixed-size arrays, ``lax`` loops, ``jit`` on
the game and budget only.

The config is split (``_split``) into a static key -- game, node budget bucket, evaluator -- and traced
settings (``_settings``: c_puct, q_mode, u_mode, tie-break, backup sign, terminal detection and weight,
noise scope / clip / weight / schedule, number of reads): every variant of a setting is computed exactly as
it would be alone and the configured one selected with ``jnp.where``, so a drift (a negative control)
reuses the compiled program and gives the same bits. The search of ONE game is written on a fixed-size
``Tree`` (its phases ``simulate``, ``expand``, ``backward``) and ``vmap``-ed over the batch. Verified: root
visit counts equal the oracle's exactly (parity_tests/test_mcts_batched.py), and mctx.muzero_policy's for
profile ``classic`` (checks/mcts/mctx.py). The checks' programs compile at XLA's lowest backend optimisation
(compile time dominates them); ``_run(..., optimized=True)`` is the same program at the default level
(bench/bench_mcts.py).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from harness.tap import tap
from reference.mcts import config as config_lib
from reference.mcts.game import jax_ref as game_jax
from reference.mcts.game.spec import STATE_KEYS
from reference.mcts.search import spec, tables

_NEG_INF = -jnp.inf
FAST_COMPILE = {"xla_backend_optimization_level": 0}  # XLA options of the programs the checks compile


# ------------------------------------------------------------------------------------------ helpers


def _check_config(config, where: str):
    if not isinstance(config, config_lib.MCTSConfig):
        raise ValueError(f"{where}: config must be an MCTSConfig, got config={type(config).__name__}")
    if config.tie_break == "random":
        raise NotImplementedError(f"{where}: tie_break='random' is a drift only the numpy oracle implements")


def _lookup(table: np.ndarray, move_count):
    """table[clip(move_count, 0, E)] (the tables are host constants: no float division on device)."""
    m = jnp.clip(jnp.asarray(move_count, jnp.int32), 0, table.shape[0] - 1)
    return jnp.asarray(table)[m]


def _settings(config) -> dict:
    """Every setting the search reads, as NumPy scalars: the searches take them as TRACED values, so one
    compiled program serves every drift of a config (see ``_split``); the components take them as
    constants. noise_clip None is clip_on False (the bounds are then unused)."""
    if config.tie_break == "random":
        raise NotImplementedError("tie_break='random' is a drift only the numpy oracle implements")
    clip = config.noise_clip if config.noise_clip is not None else (0.0, 1.0)
    return {
        "c_puct": np.float32(config.c_puct),
        "q_mean": np.bool_(config.q_mode == "mean"),
        "u_mode": np.int32(config_lib.U_MODES.index(config.u_mode)),
        "tie_last": np.bool_(config.tie_break == "last"),
        "backup_alt": np.bool_(config.backup_sign == "alternating"),
        "term_det": np.bool_(config.terminal_detection),
        "terminal_weight": np.float32(config.terminal_weight),
        "eps": np.float32(config.prior_uniform_eps),
        "root_noise": np.bool_(config.root_noise),
        "scope_valid": np.bool_(config.noise_scope == "valid"),
        "clip_on": np.bool_(config.noise_clip is not None),
        "clip_lo": np.float32(clip[0]),
        "clip_hi": np.float32(clip[1]),
        "noise_weight": np.float32(config.noise_weight),
        "decay": np.bool_(config.noise_weight_schedule == "decay"),
        "persp_fixed": np.bool_(config.perspective == "fixed"),
        "num_sims": np.int32(config.num_reads - 1 if config.reads_include_root else config.num_reads),
    }


def _argmax(scores, tie_last):
    """argmax over the last axis; ties: first index, or the last index where ``tie_last``."""
    e = scores.shape[-1]
    first = jnp.argmax(scores, axis=-1).astype(jnp.int32)
    last = (e - 1 - jnp.argmax(jnp.flip(scores, axis=-1), axis=-1)).astype(jnp.int32)
    return jnp.where(tie_last, last, first)


def _mask_renorm(p, valid, eps):
    """p * valid / sum(p * valid); uniform over valid where that sum < eps."""
    valid_f = valid.astype(p.dtype)
    pm = p * valid_f
    total = jnp.sum(pm, axis=-1, keepdims=True)
    n_valid = jnp.maximum(jnp.sum(valid_f, axis=-1, keepdims=True), 1.0)
    return jnp.where(total < eps, valid_f / n_valid, pm / jnp.where(total < eps, 1.0, total))


# ------------------------------------------------------------------------------------------ components


def puct_scores(w, n, priors, valid, node_n, config):
    """Q + U over valid actions, -inf elsewhere: scores (B, E) of a node's children.

    JAX: float32, any leading shape; the settings as constants (the search traces them: ``_puct``)."""
    return _puct(w, n, priors, valid, node_n, _settings(config))


def _puct(w, n, priors, valid, node_n, st):
    """puct_scores with the settings ``st`` (``_settings``; traced inside the search). Each variant is
    computed exactly as alone and the configured one selected, so every drift gives the same bits."""
    w = jnp.asarray(w, jnp.float32)
    n_i = jnp.asarray(n, jnp.int32)
    n_f = n_i.astype(jnp.float32)
    priors = jnp.asarray(priors, jnp.float32)
    q = jnp.where(st["q_mean"], jnp.where(n_i > 0, w / jnp.maximum(n_f, 1.0), 0.0), w / (1.0 + n_f))
    total = jnp.sum(n_i, axis=-1).astype(jnp.float32)
    s = jnp.where(st["u_mode"] == 0, jnp.sqrt(jnp.maximum(1.0, jnp.asarray(node_n, jnp.int32).astype(jnp.float32))),
                  jnp.where(st["u_mode"] == 1, jnp.sqrt(1.0 + total), jnp.sqrt(total)))
    u = jnp.asarray(st["c_puct"], jnp.float32) * priors * s[..., None] / (1.0 + n_f)
    return jnp.where(jnp.asarray(valid, bool), q + u, _NEG_INF)


def backup(leaf_value, depth, is_terminal, config):
    """(dw float (B, E), dn int32 (B, E)): the increments of W and N along each path, edge 0 = the root's.

    JAX: float32 (the search traces the settings: ``_backup``)."""
    return _backup(leaf_value, depth, is_terminal, config.num_edges, _settings(config))


def _backup(leaf_value, depth, is_terminal, e, st):
    """backup with the settings ``st`` (traced inside the search)."""
    v = jnp.asarray(leaf_value, jnp.float32)
    depth = jnp.asarray(depth, jnp.int32)
    i = jnp.arange(e, dtype=jnp.int32)
    on_path = i < depth[..., None]
    alt = jnp.where((depth[..., None] - i) % 2 == 0, 1.0, -1.0).astype(jnp.float32)
    sign = jnp.where(st["backup_alt"], alt, jnp.float32(1.0))
    detected = jnp.asarray(is_terminal, bool) & st["term_det"]
    weight = jnp.where(detected, jnp.asarray(st["terminal_weight"], jnp.float32), jnp.float32(1.0))
    dw = jnp.where(on_path, sign * (weight * v)[..., None], 0.0).astype(jnp.float32)
    return dw, on_path.astype(jnp.int32)


def mix_noise(priors, noise, valid, move_count, config):
    """The root priors after noise (B, E): masked to valid, sum 1.

    scope valid: P = _mask_renorm(priors), n = clip(noise) on valid; P' = (1 - w) P + w n, masked, renormalised.
    scope all:   P' = (1 - w) priors + w clip(noise); _mask_renorm(P').  w = w0 (1 - m / E) or w0.
    """
    return _mix_noise(priors, noise, valid, move_count, config.num_edges, _settings(config))


def _mix_noise(priors, noise, valid, move_count, e, st):
    """mix_noise with the settings ``st`` (traced inside the search)."""
    priors = jnp.asarray(priors, jnp.float32)
    valid = jnp.asarray(valid, bool)
    eps = st["eps"]
    base = _mask_renorm(priors, valid, eps)
    noise = jnp.asarray(noise, jnp.float32)
    noise = jnp.where(st["clip_on"], jnp.clip(noise, jnp.asarray(st["clip_lo"], jnp.float32),
                                              jnp.asarray(st["clip_hi"], jnp.float32)), noise)
    decay = jnp.where(st["decay"], _lookup(tables.one_minus_progress(e), move_count), jnp.float32(1.0))
    w = (jnp.asarray(st["noise_weight"], jnp.float32) * decay)[..., None]
    mixed_v = ((1.0 - w) * base + w * jnp.where(valid, noise, 0.0)) * valid.astype(jnp.float32)
    out_v = mixed_v / jnp.sum(mixed_v, axis=-1, keepdims=True)
    out_a = _mask_renorm((1.0 - w) * priors + w * noise, valid, eps)
    return jnp.where(st["root_noise"], jnp.where(st["scope_valid"], out_v, out_a), base)


def noise_alpha(num_valid, config):
    """Dirichlet alpha float32 (B,) by the number of valid actions."""
    k = jnp.asarray(num_valid, jnp.int32)
    if config.alpha_mode == "fixed":
        return jnp.full(k.shape, config.alpha_default, jnp.float32)
    return jnp.where(k < config.alpha_few_below, jnp.float32(config.alpha_few),
                     jnp.where(k > config.alpha_many_above, jnp.float32(config.alpha_many),
                               jnp.float32(config.alpha_default)))


def _sample_noise_impl(key, support, alpha):
    # log-space gamma (as jax.random.dirichlet does): no 0 / 0 when every gamma underflows
    log_g = jax.random.loggamma(key, jnp.broadcast_to(alpha[..., None], support.shape), dtype=jnp.float32)
    log_g = jnp.where(support, log_g, _NEG_INF)
    out = jax.nn.softmax(log_g, axis=-1)
    return jnp.where(support, out, 0.0)


# alpha is traced: config drifts (alpha_mode, alpha values) reuse the program; one compile per shape
# (~5 s on the loaded box: the gamma rejection sampler; XLA's lowest optimisation level compiles no faster)
_sample_noise = jax.jit(_sample_noise_impl)


def sample_noise(seed, valid, config):
    """float32 (B, E): Dirichlet(alpha(#valid)) over the valid actions (0 elsewhere), or over all E actions.

    JAX: log-space gamma (``jax.random.loggamma``) and a masked softmax (no 0 / 0 at small alpha);
    alpha traced, one compile per shape."""
    valid = jnp.asarray(valid, bool)
    support = valid if config.noise_scope == "valid" else jnp.ones_like(valid)
    alpha = noise_alpha(jnp.sum(support, axis=-1), config)
    return _sample_noise(jax.random.key(int(seed)), support, alpha)


def temperature(move_count, config):
    """T (B,) by progress p = move_count / E: annealed or fixed.

    JAX: looked up by move count in a host table computed in float64 as the oracle does (XLA's float32
    division is not correctly rounded, and p sits exactly on a threshold for m / E in {0.2, 0.4, ...})."""
    return _lookup(tables.temperature(config), move_count)


def target_policy(visits, valid, temp, config):
    """pi (B, E) proportional to (N + target_eps)^(1/T), masked to valid actions, normalised.

    JAX: float32."""
    n = jnp.asarray(visits).astype(jnp.float32)
    valid = jnp.asarray(valid, bool)
    t = jnp.asarray(temp, jnp.float32)[..., None]
    eps = jnp.float32(config.target_eps)
    nmax = jnp.max(jnp.where(valid, n, 0.0), axis=-1, keepdims=True)
    x = jnp.where(valid, ((n + eps) / (nmax + eps)) ** (1.0 / t), 0.0)
    return x / jnp.sum(x, axis=-1, keepdims=True)


def select_move(visits, valid, config):
    """int32 (B,): argmax of root visits over valid actions (tie_break; first index by default)."""
    n = jnp.where(jnp.asarray(valid, bool), jnp.asarray(visits).astype(jnp.int32), -1)
    return _argmax(n, _settings(config)["tie_last"])


def default_config(name="alphazero_clique"):
    """The port's default MCTSConfig for profile ``name`` (compared field by field to the spec's profile)."""
    return config_lib.default_config(name)


# ------------------------------------------------------------------------------------------ evaluators


def _mix(x):
    k = jnp.uint32(spec.K_MIX)
    x = x ^ (x >> 16)
    x = x * k
    x = x ^ (x >> 16)
    x = x * k
    return x ^ (x >> 16)


def table_evaluator(state, game=None):
    """(priors float32 (B, E), value float32 (B,)): the table evaluator (module docstring), bit-identical.

    JAX: jit-able, traceable inside a search; uint32 arithmetic (x64 off)."""
    c = jnp.asarray(state["colours"]).astype(jnp.uint32)
    e = c.shape[-1]
    spec._check_edges(e)
    m = jnp.asarray(np.array(spec.TABLE_M[:e], dtype=np.uint32))
    tp = jnp.asarray(state["to_play"]).astype(jnp.uint32)
    h = jnp.sum(c * m, axis=-1, dtype=jnp.uint32) + (tp + jnp.uint32(1)) * jnp.uint32(spec.TABLE_M[spec.E_MAX])
    a = jnp.asarray(np.array(spec.TABLE_A[:e], dtype=np.uint32))
    w = jnp.uint32(1) + (_mix(h[..., None] ^ a) >> 8) % jnp.uint32(spec.PRIOR_LEVELS)
    lv = (_mix(h ^ jnp.uint32(spec.TABLE_V)) >> 8) % jnp.uint32(spec.VALUE_LEVELS)
    total = jnp.sum(w, axis=-1, keepdims=True, dtype=jnp.uint32)
    q = (w << spec.PRIOR_BITS) // total
    priors = q.astype(jnp.float32) * jnp.float32(2.0 ** -spec.PRIOR_BITS)
    value = (lv.astype(jnp.float32) - jnp.float32(127)) * jnp.float32(2.0 ** -7)
    return priors, value


def _network_evaluator(state, game, params):
    """The quantised network evaluator (spec.py), traceable: (softmax(logits_q) (B, E), value_q (B,))
    float32; ``params`` = flax variables."""
    from reference.nets import jax_ref as nets

    enc = game_jax.encode(state, game)
    logits, value = nets.policy_value(params, enc["edge_index"], enc["edge_attr"],
                                      jnp.asarray(state["to_play"]).reshape(-1))
    lq = jnp.floor(logits / spec.LOGIT_GRID) * spec.LOGIT_GRID
    vq = jnp.floor(value / spec.VALUE_GRID) * spec.VALUE_GRID
    return jax.nn.softmax(lq, axis=-1), vq


# ------------------------------------------------------------------------------------------ search


def _b(state):
    return {k: v[None] for k, v in state.items()}


def _ub(state):
    return {k: v[0] for k, v in state.items()}


class Path(NamedTuple):
    """The outcome of ``Tree.simulate`` (one game; D = E = the deepest path)."""

    node: jax.Array  # int32 []: the node reached (the leaf, unless ``new``: then its parent)
    parent: jax.Array  # int32 []: the last node a selection was made at
    action: jax.Array  # int32 []: the action selected there
    depth: jax.Array  # int32 []: the number of edges on the path
    path_nodes: jax.Array  # int32 [D]: the node at each depth (0 beyond ``depth``)
    path_actions: jax.Array  # int32 [D]: the action taken there
    new: jax.Array  # bool []: the last edge leads to a child not created yet
    go: jax.Array  # bool []: the descent continues (internal to the loop)


class Tree(NamedTuple):
    """The search tree of ONE game on fixed-size arrays: N = bucket + 1 >= num_reads + 1 node slots (a read
    creates at most one node), E actions; node 0 is the root."""

    colours: jax.Array  # int32 [N, E]: the node's game state ...
    to_play: jax.Array  # int32 [N]
    move_count: jax.Array  # int32 [N]
    outcome: jax.Array  # int32 [N]
    priors: jax.Array  # float32 [N, E]: masked, renormalised priors (root: after noise)
    expanded: jax.Array  # bool [N]: evaluated and given priors (terminal nodes never are)
    children: jax.Array  # int32 [N, E]: node index of child (s, a), -1 if not created yet
    edge_n: jax.Array  # int32 [N, E]: N(s, a)
    edge_w: jax.Array  # float32 [N, E]: W(s, a), from the perspective of the player to move at s
    node_n: jax.Array  # int32 [N]: N(s), the node's own visit count (= 1 + sum_a N(s, a) once expanded)
    next_node: jax.Array  # int32 []: the next free slot

    @classmethod
    def with_root(cls, root, root_priors, num_nodes, e):
        """A tree whose root (slot 0) holds ``root`` (unbatched state), expanded with ``root_priors``."""
        tree = cls(colours=jnp.zeros((num_nodes, e), jnp.int32), to_play=jnp.zeros((num_nodes,), jnp.int32),
                   move_count=jnp.zeros((num_nodes,), jnp.int32), outcome=jnp.zeros((num_nodes,), jnp.int32),
                   priors=jnp.zeros((num_nodes, e), jnp.float32), expanded=jnp.zeros((num_nodes,), bool),
                   children=jnp.full((num_nodes, e), -1, jnp.int32),
                   edge_n=jnp.zeros((num_nodes, e), jnp.int32), edge_w=jnp.zeros((num_nodes, e), jnp.float32),
                   node_n=jnp.zeros((num_nodes,), jnp.int32), next_node=jnp.int32(1))
        tree = tree.set_state(0, root)
        return tree._replace(priors=tree.priors.at[0].set(root_priors), expanded=tree.expanded.at[0].set(True),
                             node_n=tree.node_n.at[0].set(1))

    def state(self, i):
        """The game state of node ``i`` (unbatched)."""
        return {"colours": self.colours[i], "to_play": self.to_play[i], "move_count": self.move_count[i],
                "outcome": self.outcome[i]}

    def set_state(self, i, s):
        return self._replace(colours=self.colours.at[i].set(s["colours"]), to_play=self.to_play.at[i].set(s["to_play"]),
                             move_count=self.move_count.at[i].set(s["move_count"]),
                             outcome=self.outcome.at[i].set(s["outcome"]))

    def simulate(self, nums, searched):
        """Path: descend from the root while the child is expanded, by argmax of Q + U (``_puct``,
        tie_break) over the node's valid actions; stops at a child not created yet or not expanded (a seen
        terminal node). ``searched`` False (a terminal root): no descent (depth 0)."""
        e = self.colours.shape[-1]

        def body(c):
            node = c.node
            s = self.state(node)
            valid = (s["colours"] == 0) & (s["outcome"] == 0)
            scores = _puct(self.edge_w[node], self.edge_n[node], self.priors[node], valid, self.node_n[node], nums)
            a = _argmax(scores, nums["tie_last"])
            child = self.children[node, a]
            d = c.depth
            go = (child >= 0) & self.expanded[jnp.maximum(child, 0)]
            return Path(node=jnp.where(child >= 0, child, node), parent=node, action=a, depth=d + 1,
                        path_nodes=c.path_nodes.at[d].set(node), path_actions=c.path_actions.at[d].set(a),
                        new=child < 0, go=go)

        init = Path(node=jnp.int32(0), parent=jnp.int32(0), action=jnp.int32(0), depth=jnp.int32(0),
                    path_nodes=jnp.zeros((e,), jnp.int32), path_actions=jnp.zeros((e,), jnp.int32),
                    new=jnp.bool_(False), go=searched)
        return jax.lax.while_loop(lambda c: c.go, body, init)

    def expand(self, path, evaluate, game, nums):
        """(tree, leaf, value, done): the leaf -- a new child (state = apply_move of the parent's, given
        the next slot) or a seen terminal node -- evaluated by ``evaluate`` (exact value of a terminal leaf
        if terminal_detection); a non-terminal leaf gets its masked priors and is expanded."""
        new = path.new
        parent_state = self.state(path.parent)
        child_state = _ub(game_jax.apply_move(_b(parent_state), path.action[None], game))
        slot = self.next_node
        leaf = jnp.where(new, slot, path.node)
        leaf_state = jax.tree.map(lambda a, b: jnp.where(new, a, b), child_state, self.state(path.node))
        tree = self.set_state(leaf, leaf_state)
        tree = tree._replace(
            children=tree.children.at[path.parent, path.action].set(
                jnp.where(new, slot, tree.children[path.parent, path.action])),
            next_node=slot + new.astype(jnp.int32))

        p, v, tv, done = evaluate(leaf_state)
        v = jnp.where(done & nums["term_det"], tv, v)
        valid = (leaf_state["colours"] == 0) & (leaf_state["outcome"] == 0)
        tree = tree._replace(
            priors=tree.priors.at[leaf].set(jnp.where(done, tree.priors[leaf], _mask_renorm(p, valid, nums["eps"]))),
            expanded=tree.expanded.at[leaf].set(~done))
        return tree, leaf, v, done

    def backward(self, path, leaf, value, done, nums):
        """(tree, dw): ``backup`` of the leaf's value along the path (W += dw, N += dn per edge); every node
        on the path, root included, counts the visit."""
        dw, dn = _backup(value, path.depth, done, self.colours.shape[-1], nums)
        tree = self._replace(edge_w=self.edge_w.at[path.path_nodes, path.path_actions].add(dw),
                             edge_n=self.edge_n.at[path.path_nodes, path.path_actions].add(dn),
                             node_n=self.node_n.at[path.path_nodes].add(dn).at[leaf].add(1))
        return tree, dw


def _evaluate(state, game, params, nums, evaluator=None):
    """(priors (E,), evaluator value, terminal value, done) for one unbatched state; the table evaluator
    when ``params`` is None, else the quantised policy-value network, or the caller's ``evaluator(one state)
    -> (priors (E,), value)``. Perspective ``fixed``: the evaluator's value is player one's, turned into the
    mover's: v * (1 - 2 to_play)."""
    if evaluator is not None:
        p, v = evaluator(state)
        p, v = jnp.reshape(jnp.asarray(p, jnp.float32), (1, -1)), jnp.reshape(jnp.asarray(v, jnp.float32), (1,))
    elif params is None:
        p, v = table_evaluator(_b(state), game)
    else:
        p, v = _network_evaluator(_b(state), game, params)
    v = jnp.where(nums["persp_fixed"], v * (1.0 - 2.0 * state["to_play"].astype(jnp.float32)), v)
    tv, done = game_jax.terminal_value(_b(state), game)
    return p[0], v[0], tv[0], done[0]


def _bucket(num_reads: int) -> int:
    """Node slots are allocated for a budget rounded up to a multiple of 32 with room for one more read
    (num_reads + 2 <= bucket): drifts of num_reads by one (negative controls) reuse the compiled program."""
    return 32 * ((int(num_reads) + 2 + 31) // 32)


def _split(config):
    """(static key, traced settings). The key keeps only what shapes the program: the game, the node
    budget bucket and the evaluator; every other setting travels as a traced scalar (``_settings``), so
    drifting it (a negative control) reuses the compiled search."""
    key = config_lib.MCTSConfig(profile="custom", game=config.game, num_reads=_bucket(config.num_reads),
                                reads_include_root=False, evaluator=config.evaluator)
    return key, _settings(config)


def _search_one(root, noise, nums, key, params=None, evaluator=None):
    """Search one game (unbatched state dict, noise (E,)): the root's expansion, then ``num_sims`` reads of
    simulate / expand / backward. ``key`` the static config, ``nums`` the traced numbers (``_split``),
    ``params`` the network's flax variables (None: table evaluator). Returns the root statistics."""
    game = key.game
    e = game.num_edges
    root = {k: jnp.asarray(v, jnp.int32) for k, v in root.items()}

    def evaluate(state):
        return _evaluate(state, game, params, nums, evaluator)

    # root expansion (the first read when reads_include_root; before the budget otherwise)
    p0, v0, tv0, done0 = evaluate(root)
    valid0 = game_jax.legal_moves(_b(root), game)[0]
    root_priors = _mix_noise(p0, noise, valid0, root["move_count"], e, nums)
    tree = Tree.with_root(root, root_priors, key.num_reads + 1, e)

    def one_read(_, tree):
        path = tree.simulate(nums, ~done0)
        tree, leaf, v, done = tree.expand(path, evaluate, game, nums)
        tree, dw = tree.backward(path, leaf, v, done, nums)
        # taps per simulation, as np_ref._tap_simulation (staged only inside a recording: harness.tap;
        # under the batch vmap JAX records game by game within each simulation)
        tap("mcts.select.path", jnp.where(jnp.arange(e) < path.depth, path.path_actions, -1))
        tap("mcts.evaluate.leaf_value", v)
        tap("mcts.backup.values", dw)
        tap("mcts.root.visits", tree.edge_n[0])
        return tree

    # the trip count must not depend on the game (done0): a batched trip count makes vmap select the whole
    # tree carry every read (measured 4x slower at 128 reads); a terminal root's reads are inert (go = False)
    tree = jax.lax.fori_loop(0, nums["num_sims"], one_read, tree)

    n = tree.edge_n[0]
    w = tree.edge_w[0]
    n_f = n.astype(jnp.float32)
    q = jnp.where(nums["q_mean"], jnp.where(n > 0, w / jnp.maximum(n_f, 1.0), 0.0), w / (1.0 + n_f))
    value = (v0 + jnp.sum(w)) / (1.0 + jnp.sum(n_f))
    # a terminal root is not searched
    return {"visits": jnp.where(done0, 0, n).astype(jnp.int32), "q": jnp.where(done0, 0.0, q),
            "w": jnp.where(done0, 0.0, w), "value": jnp.where(done0, tv0, value),
            "priors": jnp.where(done0, 0.0, root_priors)}


def _search_batch(states, noise, nums, key, params=None, evaluator=None):
    return jax.vmap(lambda s, z: _search_one(s, z, nums, key, params, evaluator))(states, noise)


# Two compilations of the same program. ``_search`` (the reference used by the checks) asks XLA for its
# cheapest backend optimisation: the checks run each config on a handful of positions, where compile time
# (3.8 s -> 1.3 s measured on the loaded 2-core box) dwarfs run time (0.9 ms -> 3.5 ms for 8 games x 32
# reads). No fast-math either way, so both give the same bits; ``_search_optimized`` (default options)
# is what ``_run(..., optimized=True)`` and the benchmark use.
_search = jax.jit(_search_batch, static_argnums=(3, 5), compiler_options=FAST_COMPILE)
_search_optimized = jax.jit(_search_batch, static_argnums=(3, 5))


def _run(states, noise, config, optimized=False, params=None, evaluator=None):
    """``search`` with the program options: ``optimized`` (XLA's default optimisation, for long runs and the
    benchmark), ``params`` (flax variables of reference/nets: the network evaluator), ``evaluator`` (the
    caller's evaluator of one state, hashable: a static argument of the compiled search). One compile per
    (game, node bucket, evaluator, batch shape): every other setting is traced (``_split``)."""
    _check_config(config, "search")
    if config.evaluator == "network" and params is None:
        raise ValueError("search: config.evaluator='network' needs the network's params: call search_network")
    missing = [k for k in STATE_KEYS if k not in states]
    if missing:
        raise ValueError(f"search: states lacks keys {missing}")
    states = {k: jnp.asarray(states[k], jnp.int32) for k in STATE_KEYS}
    noise = jnp.asarray(noise, jnp.float32)
    if states["colours"].ndim != 2:
        raise ValueError(f"search: states['colours'] must have shape (B, E), got {tuple(states['colours'].shape)}")
    b, e = states["colours"].shape
    if e != config.num_edges:
        raise ValueError(f"search: states['colours'] has {e} edges, config.game has E={config.num_edges}")
    if noise.shape != (b, e):
        raise ValueError(f"search: noise must have shape {(b, e)}, got noise.shape={tuple(noise.shape)}")
    key, nums = _split(config)
    return (_search_optimized if optimized else _search)(states, noise, nums, key, params, evaluator)


def search(states, noise, config):
    """Root statistics of an MCTS from each state with the table evaluator: a dict of arrays.

    JAX: float32, compiled once per (game, node bucket, batch shape); every other setting is traced."""
    return _run(states, noise, config)


def search_network(states, noise, config, params):
    """``search`` with the quantised policy-value network evaluator (module docstring) instead of the table.

    JAX: params = flax variables (``nets.jax_ref.to_native(canonical)``), traced (no recompile per params)."""
    if params is None:
        raise ValueError("search_network: params must be the network's flax variables, got params=None")
    return _run(states, noise, config.replace(evaluator="network"), params=params)


_CALLBACKS: dict = {}  # a non-JAX evaluator -> its pure_callback wrapper (one per evaluator: one compile)


def _as_traceable(evaluator, game):
    """``evaluator`` itself if JAX can trace it, else a ``jax.pure_callback`` wrapper that hands it NumPy
    arrays and takes back NumPy, JAX or torch arrays (evaluated game by game under the batch vmap)."""
    e = game.num_edges
    probe = {"colours": jax.ShapeDtypeStruct((e,), jnp.int32),
             **{k: jax.ShapeDtypeStruct((), jnp.int32) for k in STATE_KEYS[1:]}}
    try:
        jax.eval_shape(evaluator, probe)
        return evaluator
    except Exception:  # noqa: BLE001 - anything that cannot be traced goes through the host callback
        pass
    if evaluator not in _CALLBACKS:
        def host(state):
            p, v = evaluator({k: np.array(x) for k, x in state.items()})  # writable copies (torch warns)
            conv = lambda x: np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, np.float32)
            return conv(p).reshape(e), conv(v).reshape(())

        def traced(state):
            shapes = (jax.ShapeDtypeStruct((e,), jnp.float32), jax.ShapeDtypeStruct((), jnp.float32))
            return jax.pure_callback(host, shapes, state, vmap_method="sequential")

        _CALLBACKS[evaluator] = traced
    return _CALLBACKS[evaluator]


def search_with_evaluator(state, evaluator, noise, config):
    """The whole search of ONE game with the caller's ``evaluator(state) -> (priors (E,), value)``.

    JAX: a traceable evaluator runs inside the compiled search (it must be hashable: one compile per
    evaluator object); a NumPy / torch one through ``jax.pure_callback``."""
    _check_config(config, "search_with_evaluator")
    batched = {k: jnp.asarray(state[k], jnp.int32)[None] for k in STATE_KEYS}
    out = _run(batched, jnp.asarray(noise, jnp.float32)[None], config, evaluator=_as_traceable(evaluator, config.game))
    return {k: v[0] for k, v in out.items()}
