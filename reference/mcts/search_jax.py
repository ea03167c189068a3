"""Batched AlphaZero MCTS in JAX: fixed-size arrays, ``lax`` loops, ``jit`` on the game and budget only.

Semantics: search_np.py (MA's readable oracle) and INTERFACE.md; every convention is a field of
``MCTSConfig``. The config is split (``_split``) into a static key -- game, node budget bucket, evaluator --
and traced settings (``_settings``: c_puct, q_mode, u_mode, tie-break, backup sign, terminal detection and
weight, noise scope / clip / weight / schedule, number of reads): every variant of a setting is computed
exactly as it would be alone and the configured one selected with ``jnp.where``, so a drift (a negative
control) reuses the compiled program and gives the same bits. The search of ONE game is written on
fixed-size arrays and ``vmap``-ed over the batch. Verified: root visit counts equal the oracle's exactly
(parity_tests/test_mcts_batched.py), and mctx.muzero_policy's for profile ``classic`` (checks/mcts_mctx.py).

Tree of one game (bucket + 1 >= num_reads + 1 node slots; a read creates at most one node):

    state arrays  colours (N, E), to_play / move_count / outcome (N,)   the node's game state
    priors (N, E)    the node's masked, renormalised priors (root: after noise)
    expanded (N,)    evaluated and given priors (terminal nodes never are)
    children (N, E)  node index of child (s, a), -1 if not created yet
    edge_n (N, E)    N(s, a) int32;  edge_w (N, E)  W(s, a) float32 (mover at s's perspective)
    node_n (N,)      N(s), the node's own visit count (= 1 + sum_a N(s, a) once expanded)

One read: select with argmax_valid(Q + U) from the root while the node is expanded; the first unseen
child is created (state = apply_move) -- the leaf; a seen terminal child is the leaf too. The leaf is
evaluated (terminal: exact value, weighted by terminal_weight, if terminal_detection), expanded if not
terminal, and ``backup`` adds dw / dn along the path; every node on the path gets N(s) += 1.

Components here (same names / signatures as np_ref.py): puct_scores, backup, mix_noise, noise_alpha,
sample_noise, temperature, target_policy, select_move, search, search_network, default_config.
``search`` compiles at XLA's lowest backend optimisation (checks: compile time dominates);
``search_optimized`` is the same program at the default level (benchmark: bench/bench_mcts.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from harness.tap import tap
from reference.mcts import config as config_lib
from reference.mcts import evaluator as evaluator_lib
from reference.mcts import game_jax, tables

_NEG_INF = -jnp.inf
STATE_KEYS = ("colours", "to_play", "move_count", "outcome")
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


def mask_renorm(p, valid, eps):
    """p * valid / sum(p * valid); uniform over valid where that sum < eps."""
    valid_f = valid.astype(p.dtype)
    pm = p * valid_f
    total = jnp.sum(pm, axis=-1, keepdims=True)
    n_valid = jnp.maximum(jnp.sum(valid_f, axis=-1, keepdims=True), 1.0)
    return jnp.where(total < eps, valid_f / n_valid, pm / jnp.where(total < eps, 1.0, total))


# ------------------------------------------------------------------------------------------ components


def puct_scores(w, n, priors, valid, node_n, config):
    """Q + U over valid actions, -inf elsewhere.

    Q = W / (1 + N) (``w_over_1_plus_n``) or W / N, 0 if N = 0 (``mean``);
    U = c_puct * P * S / (1 + N), S = sqrt(max(1, N(s))) | sqrt(1 + sum_b N(s, b)) | sqrt(sum_b N(s, b)).
    Works on any leading shape: w, n, priors, valid (..., E), node_n (...).
    """
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
    """(dw float32 (..., E), dn int32 (..., E)): path edge i < depth gets dw = sign_i * weight * v, dn = 1.

    sign_i = (-1)^(depth - i) (``alternating``) or +1 (``same``); weight = terminal_weight for a detected
    terminal leaf, else 1. Edge i is the edge from the node at depth i to the node at depth i + 1.
    """
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
    """Root priors after noise (masked, sum 1): see INTERFACE.md ``mcts.mix_noise``.

    scope valid: P = mask_renorm(priors), n = clip(noise) on valid; P' = (1 - w) P + w n, masked, renormalised.
    scope all:   P' = (1 - w) priors + w clip(noise); mask_renorm(P').  w = w0 (1 - m / E) or w0.
    """
    return _mix_noise(priors, noise, valid, move_count, config.num_edges, _settings(config))


def _mix_noise(priors, noise, valid, move_count, e, st):
    """mix_noise with the settings ``st`` (traced inside the search)."""
    priors = jnp.asarray(priors, jnp.float32)
    valid = jnp.asarray(valid, bool)
    eps = st["eps"]
    base = mask_renorm(priors, valid, eps)
    noise = jnp.asarray(noise, jnp.float32)
    noise = jnp.where(st["clip_on"], jnp.clip(noise, jnp.asarray(st["clip_lo"], jnp.float32),
                                              jnp.asarray(st["clip_hi"], jnp.float32)), noise)
    decay = jnp.where(st["decay"], _lookup(tables.one_minus_progress(e), move_count), jnp.float32(1.0))
    w = (jnp.asarray(st["noise_weight"], jnp.float32) * decay)[..., None]
    mixed_v = ((1.0 - w) * base + w * jnp.where(valid, noise, 0.0)) * valid.astype(jnp.float32)
    out_v = mixed_v / jnp.sum(mixed_v, axis=-1, keepdims=True)
    out_a = mask_renorm((1.0 - w) * priors + w * noise, valid, eps)
    return jnp.where(st["root_noise"], jnp.where(st["scope_valid"], out_v, out_a), base)


def noise_alpha(num_valid, config):
    """alpha float32 (...): by_legal_moves: alpha_few if #valid < few_below, alpha_many if > many_above,
    else alpha_default; fixed: alpha_default."""
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
    """float32 (B, E): Dirichlet(alpha(#valid)) over valid (0 elsewhere) for scope valid, Dirichlet(alpha)
    over all E for scope all; jax.random.key(seed). Compared by distribution only."""
    valid = jnp.asarray(valid, bool)
    support = valid if config.noise_scope == "valid" else jnp.ones_like(valid)
    alpha = noise_alpha(jnp.sum(support, axis=-1), config)
    return _sample_noise(jax.random.key(int(seed)), support, alpha)


def temperature(move_count, config):
    """T float32 (...): annealed: T = values[i] for the first i with p < thresholds[i] (strict), else the
    last; p = m / E evaluated on the host in float64, as the oracle (XLA's float32 division is not
    correctly rounded, and p sits exactly on a threshold for m / E in {0.2, 0.4, ...})."""
    return _lookup(tables.temperature(config), move_count)


def target_policy(visits, valid, temperature_, config):
    """pi (B, E) proportional to (N + eps)^(1/T) masked to valid, computed as ((N + eps) / (max + eps))^(1/T)."""
    n = jnp.asarray(visits).astype(jnp.float32)
    valid = jnp.asarray(valid, bool)
    t = jnp.asarray(temperature_, jnp.float32)[..., None]
    eps = jnp.float32(config.target_eps)
    nmax = jnp.max(jnp.where(valid, n, 0.0), axis=-1, keepdims=True)
    x = jnp.where(valid, ((n + eps) / (nmax + eps)) ** (1.0 / t), 0.0)
    return x / jnp.sum(x, axis=-1, keepdims=True)


def select_move(visits, valid, config):
    """int32 (B,): argmax of root visits over valid actions (config.tie_break, ``first`` by default)."""
    n = jnp.where(jnp.asarray(valid, bool), jnp.asarray(visits).astype(jnp.int32), -1)
    return _argmax(n, _settings(config)["tie_last"])


def default_config(name="alphazero_clique"):
    """The JAX port's defaults for profile ``name`` (the reference profile itself)."""
    return config_lib.default_config(name)


# ------------------------------------------------------------------------------------------ search


def _b(state):
    return {k: v[None] for k, v in state.items()}


def _ub(state):
    return {k: v[0] for k, v in state.items()}


def _node_state(tree, i):
    return {"colours": tree["colours"][i], "to_play": tree["to_play"][i],
            "move_count": tree["move_count"][i], "outcome": tree["outcome"][i]}


def _set_node_state(tree, i, s):
    return dict(tree, colours=tree["colours"].at[i].set(s["colours"]),
                to_play=tree["to_play"].at[i].set(s["to_play"]),
                move_count=tree["move_count"].at[i].set(s["move_count"]),
                outcome=tree["outcome"].at[i].set(s["outcome"]))


def _evaluate(state, game, params, nums, evaluator=None):
    """(priors (E,), evaluator value, terminal value, done) for one unbatched state; the table evaluator
    when ``params`` is None, else the quantised policy-value network (evaluator.network_evaluator_jax), or
    the caller's ``evaluator(one state) -> (priors (E,), value)``. Perspective ``fixed``: the evaluator's
    value is player one's, turned into the mover's: v * (1 - 2 to_play)."""
    if evaluator is not None:
        p, v = evaluator(state)
        p, v = jnp.reshape(jnp.asarray(p, jnp.float32), (1, -1)), jnp.reshape(jnp.asarray(v, jnp.float32), (1,))
    elif params is None:
        p, v = evaluator_lib.table_evaluator_jax(_b(state), game)
    else:
        p, v = evaluator_lib.network_evaluator_jax(_b(state), game, params)
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
    """Search one game (unbatched state dict, noise (E,)); ``key`` the static config, ``nums`` the
    traced numbers (see ``_split``), ``params`` the network's flax variables (None: table evaluator).
    Returns the root statistics."""
    game = key.game
    e = game.num_edges
    nn = key.num_reads + 1
    eps = nums["eps"]
    tree = {
        "colours": jnp.zeros((nn, e), jnp.int32), "to_play": jnp.zeros((nn,), jnp.int32),
        "move_count": jnp.zeros((nn,), jnp.int32), "outcome": jnp.zeros((nn,), jnp.int32),
        "priors": jnp.zeros((nn, e), jnp.float32), "expanded": jnp.zeros((nn,), bool),
        "children": jnp.full((nn, e), -1, jnp.int32),
        "edge_n": jnp.zeros((nn, e), jnp.int32), "edge_w": jnp.zeros((nn, e), jnp.float32),
        "node_n": jnp.zeros((nn,), jnp.int32), "next": jnp.int32(1),
    }
    root = {k: jnp.asarray(v, jnp.int32) for k, v in root.items()}
    tree = _set_node_state(tree, 0, root)

    # root expansion (the first read when reads_include_root; before the budget otherwise)
    p0, v0, tv0, done0 = _evaluate(root, game, params, nums, evaluator)
    valid0 = game_jax.legal_moves(_b(root), game)[0]
    root_priors = _mix_noise(p0, noise, valid0, root["move_count"], e, nums)
    tree["priors"] = tree["priors"].at[0].set(root_priors)
    tree["expanded"] = tree["expanded"].at[0].set(True)
    tree["node_n"] = tree["node_n"].at[0].set(1)

    def select(tree):
        def cond(c):
            return c["go"]

        def body(c):
            node = c["node"]
            s = _node_state(tree, node)
            valid = (s["colours"] == 0) & (s["outcome"] == 0)
            scores = _puct(tree["edge_w"][node], tree["edge_n"][node], tree["priors"][node], valid,
                           tree["node_n"][node], nums)
            a = _argmax(scores, nums["tie_last"])
            child = tree["children"][node, a]
            d = c["depth"]
            go = (child >= 0) & tree["expanded"][jnp.maximum(child, 0)]
            return {"node": jnp.where(child >= 0, child, node), "parent": node, "action": a,
                    "depth": d + 1, "path_nodes": c["path_nodes"].at[d].set(node),
                    "path_actions": c["path_actions"].at[d].set(a), "new": child < 0, "go": go}

        init = {"node": jnp.int32(0), "parent": jnp.int32(0), "action": jnp.int32(0), "depth": jnp.int32(0),
                "path_nodes": jnp.zeros((e,), jnp.int32), "path_actions": jnp.zeros((e,), jnp.int32),
                "new": jnp.bool_(False), "go": ~done0}
        return jax.lax.while_loop(cond, body, init)

    def one_read(_, tree):
        c = select(tree)
        new = c["new"]
        parent_state = _node_state(tree, c["parent"])
        child_state = _ub(game_jax.apply_move(_b(parent_state), c["action"][None], game))
        slot = tree["next"]
        leaf = jnp.where(new, slot, c["node"])
        leaf_state = jax.tree.map(lambda a, b: jnp.where(new, a, b), child_state, _node_state(tree, c["node"]))
        tree = _set_node_state(tree, leaf, leaf_state)
        tree["children"] = tree["children"].at[c["parent"], c["action"]].set(
            jnp.where(new, slot, tree["children"][c["parent"], c["action"]]))
        tree["next"] = slot + new.astype(jnp.int32)

        p, v, tv, done = _evaluate(leaf_state, game, params, nums, evaluator)
        v = jnp.where(done & nums["term_det"], tv, v)
        valid = (leaf_state["colours"] == 0) & (leaf_state["outcome"] == 0)
        tree["priors"] = tree["priors"].at[leaf].set(
            jnp.where(done, tree["priors"][leaf], mask_renorm(p, valid, eps)))
        tree["expanded"] = tree["expanded"].at[leaf].set(~done)

        dw, dn = _backup(v, c["depth"], done, e, nums)
        tree["edge_w"] = tree["edge_w"].at[c["path_nodes"], c["path_actions"]].add(dw)
        tree["edge_n"] = tree["edge_n"].at[c["path_nodes"], c["path_actions"]].add(dn)
        tree["node_n"] = tree["node_n"].at[c["path_nodes"]].add(dn).at[leaf].add(1)
        # taps per simulation, as search_np._tap_simulation (staged only inside a recording: harness.tap;
        # under the batch vmap JAX records game by game within each simulation)
        tap("mcts.select.path", jnp.where(jnp.arange(e) < c["depth"], c["path_actions"], -1))
        tap("mcts.evaluate.leaf_value", v)
        tap("mcts.backup.values", dw)
        tap("mcts.root.visits", tree["edge_n"][0])
        return tree

    # the trip count must not depend on the game (done0): a batched trip count makes vmap select the whole
    # tree carry every read (measured 4x slower at 128 reads); a terminal root's reads are inert (go = False)
    tree = jax.lax.fori_loop(0, nums["num_sims"], one_read, tree)

    n = tree["edge_n"][0]
    w = tree["edge_w"][0]
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
# is what ``search_optimized`` and the benchmark use.
_search = jax.jit(_search_batch, static_argnums=(3, 5), compiler_options=FAST_COMPILE)
_search_optimized = jax.jit(_search_batch, static_argnums=(3, 5))


def search(states, noise, config, optimized=False, params=None, evaluator=None):
    """Batched search: states (dict, leading axis B), noise float32 (B, E), config (MCTSConfig).

    Returns {"visits" int32 (B, E), "q" float32 (B, E), "w" float32 (B, E), "value" float32 (B,),
    "priors" float32 (B, E)} (see INTERFACE.md). One compile per (game, node bucket, evaluator, batch
    shape): every other setting is traced (``_split``).
    ``params`` (flax variables of reference/nets) switches to the network evaluator: ``search_network``;
    ``evaluator`` (hashable: it is a static argument of the compiled search) to the caller's evaluator of
    one state, traced inside the search (``search_with_evaluator`` wraps a non-JAX one in a callback)."""
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


def search_network(states, noise, config, params):
    """``search`` with the quantised policy-value network evaluator (evaluator.network_evaluator_jax);
    ``params`` = flax variables (``nets.jax_ref.to_native(canonical)``), traced (no recompile per params)."""
    if params is None:
        raise ValueError("search_network: params must be the network's flax variables, got params=None")
    return search(states, noise, config.replace(evaluator="network"), params=params)


def search_optimized(states, noise, config):
    """``search`` compiled with XLA's default optimisation (for long runs and the benchmark)."""
    return search(states, noise, config, optimized=True)



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
    """The whole search of ONE game with the caller's evaluator (see search_np.search_with_evaluator):
    ``evaluator(state) -> (priors (E,), value)`` on one state dict. A JAX-traceable evaluator runs inside
    the compiled search (it must be hashable: one compile per evaluator object); a NumPy / torch one through
    ``jax.pure_callback``. Returns the root statistics of ``search`` without the batch axis; taps per
    simulation."""
    _check_config(config, "search_with_evaluator")
    batched = {k: jnp.asarray(state[k], jnp.int32)[None] for k in STATE_KEYS}
    out = search(batched, jnp.asarray(noise, jnp.float32)[None], config,
                 evaluator=_as_traceable(evaluator, config.game))
    return {k: v[0] for k, v in out.items()}
