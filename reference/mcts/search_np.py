"""The oracle MCTS, NumPy float64: a plain dict-of-nodes tree, one game at a time, reads like the spec.

Small pure functions first (each a component, batched over a leading axis B), then the search. Every
convention is a setting of ``MCTSConfig`` (reference/mcts/config.py); INTERFACE.md states the semantics.
Inputs are cast to float64 inside; the table evaluator's float32 outputs are exact, so the oracle's only
rounding is float64's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from harness.tap import tap
from reference.mcts import game_np
from reference.mcts.evaluator import table_evaluator_np

F = np.float64


# ------------------------------------------------------------------------------------------------------
# Small components (batched: leading axis B)
# ------------------------------------------------------------------------------------------------------


def mask_renorm(priors, valid, config):
    """P * valid / sum(P * valid); uniform over valid actions where that sum < prior_uniform_eps."""
    p = np.asarray(priors, F) * np.asarray(valid)
    v = np.asarray(valid, F)
    s = np.sum(p, axis=-1, keepdims=True)
    uniform = v / np.maximum(np.sum(v, axis=-1, keepdims=True), 1.0)
    return np.where(s < config.prior_uniform_eps, uniform, p / np.where(s > 0, s, 1.0))


def puct_terms(w, n, priors, node_n, config):
    """(Q, U), float64 (B, E), without the valid mask (see ``puct_scores``)."""
    w = np.asarray(w, F)
    n = np.asarray(n, F)
    p = np.asarray(priors, F)
    if config.q_mode == "w_over_1_plus_n":
        q = w / (1.0 + n)
    else:  # mean
        q = np.where(n > 0, w / np.maximum(n, 1.0), 0.0)
    total = np.sum(n, axis=-1, keepdims=True)
    if config.u_mode == "sqrt_max1_node":
        s = np.sqrt(np.maximum(1.0, np.asarray(node_n, F)))[..., None]
    elif config.u_mode == "sqrt_1_plus_sum":
        s = np.sqrt(1.0 + total)
    else:  # sqrt_sum (a drift)
        s = np.sqrt(total)
    u = config.c_puct * p * s / (1.0 + n)
    return q, u


def puct_scores(w, n, priors, valid, node_n, config):
    """Q + U over valid actions (-inf elsewhere).

    Q = W / (1 + N)                    (q_mode w_over_1_plus_n; unvisited: 0)
      = W / N, 0 where N = 0           (q_mode mean)
    U = c_puct * P * S / (1 + N),  S = sqrt(max(1, N(s))) | sqrt(1 + sum_b N_b) | sqrt(sum_b N_b)
    """
    q, u = puct_terms(w, n, priors, node_n, config)
    return np.where(np.asarray(valid, bool), q + u, -np.inf)


def argmax_tie(x, config, rng=None):
    """Index of the maximum per row; ties: first index (``first``), last (``last``), or uniform among the
    tied ones (``random``, from ``rng``)."""
    x = np.asarray(x)
    if config.tie_break == "first":
        return np.argmax(x, axis=-1)
    if config.tie_break == "last":
        return x.shape[-1] - 1 - np.argmax(x[..., ::-1], axis=-1)
    rng = rng if rng is not None else np.random.default_rng(config.random_tie_seed)
    flat = x.reshape(-1, x.shape[-1])
    out = [rng.choice(np.flatnonzero(row == row.max())) for row in flat]
    return np.array(out, dtype=np.int64).reshape(x.shape[:-1])


def backup(leaf_value, depth, is_terminal, config):
    """(dw (B, E), dn int32 (B, E)): the increments of W and N along each path, edge 0 = the root's.

    leaf_value is for the player to move at the leaf (node ``depth``). Edge i < depth gets
    dw[i] = sign_i * weight * leaf_value, dn[i] = 1, with sign_i = (-1)^(depth - i) (alternating: the
    edge into the leaf gets -v) or +1 (same); weight = terminal_weight if is_terminal and
    terminal_detection, else 1.
    """
    v = np.asarray(leaf_value, F)
    d = np.asarray(depth, np.int64)
    term = np.asarray(is_terminal, bool)
    e = config.num_edges
    i = np.arange(e)
    on_path = i < d[..., None]
    if config.backup_sign == "alternating":
        sign = np.where((d[..., None] - i) % 2 == 0, 1.0, -1.0)
    else:
        sign = np.ones((1, e))
    weight = np.where(term & config.terminal_detection, float(config.terminal_weight), 1.0)
    dw = np.where(on_path, sign * (weight * v)[..., None], 0.0)
    return dw, on_path.astype(np.int32)


def noise_weight(move_count, config):
    """w = noise_weight * (1 - p) (decay), noise_weight (fixed); p = move_count / E."""
    p = np.asarray(move_count, F) / config.num_edges
    if config.noise_weight_schedule == "decay":
        return config.noise_weight * (1.0 - p)
    return np.full(np.shape(p), float(config.noise_weight))


def mix_noise(priors, noise, valid, move_count, config):
    """The root priors after noise (masked to valid, sum 1).

    scope valid: P = mask_renorm(priors); n = clip(noise) on valid, 0 elsewhere; P' = (1-w) P + w n,
                 then P' * valid / sum.
    scope all:   P' = (1-w) priors + w clip(noise) over all E actions, then mask_renorm(P').
    """
    valid = np.asarray(valid, bool)
    if not config.root_noise:
        return mask_renorm(priors, valid, config)
    n = np.asarray(noise, F)
    if config.noise_clip is not None:
        n = np.clip(n, config.noise_clip[0], config.noise_clip[1])
    w = noise_weight(move_count, config)[..., None]
    if config.noise_scope == "valid":
        p = mask_renorm(priors, valid, config)
        mixed = ((1.0 - w) * p + w * n) * valid
        with np.errstate(invalid="ignore", divide="ignore"):  # no valid action (a finished game): NaN, as jax/torch
            return mixed / np.sum(mixed, axis=-1, keepdims=True)
    mixed = (1.0 - w) * np.asarray(priors, F) + w * n
    return mask_renorm(mixed, valid, config)


def noise_alpha(num_valid, config):
    """Dirichlet alpha: by_legal_moves -> alpha_few if #valid < alpha_few_below, alpha_many if #valid >
    alpha_many_above, else alpha_default; fixed -> alpha_default. float32 (B,)."""
    nv = np.asarray(num_valid)
    if config.alpha_mode == "fixed":
        return np.full(nv.shape, config.alpha_default, np.float32)
    a = np.where(nv < config.alpha_few_below, config.alpha_few,
                 np.where(nv > config.alpha_many_above, config.alpha_many, config.alpha_default))
    return a.astype(np.float32)


def sample_noise(seed, valid, config):
    """float32 (B, E): Dirichlet(alpha(#valid)) over the valid actions (0 elsewhere) for scope valid, over
    all E actions for scope all. numpy Generator(PCG64(seed))."""
    rng = np.random.default_rng(int(seed))
    valid = np.asarray(valid, bool)
    alpha = noise_alpha(valid.sum(-1), config)
    out = np.zeros(valid.shape, np.float64)
    for b in range(valid.shape[0]):
        idx = np.flatnonzero(valid[b]) if config.noise_scope == "valid" else np.arange(valid.shape[1])
        if idx.size:
            out[b, idx] = rng.dirichlet(np.full(idx.size, float(alpha[b])))
    return out.astype(np.float32)


def temperature(move_count, config):
    """T (B,): annealed -> temperature_values[i] for the first i with p < temperature_thresholds[i]
    (strict), else the last value; fixed -> temperature_fixed. p = move_count / E."""
    mc = np.asarray(move_count)
    if config.temperature_schedule == "fixed":
        return np.full(mc.shape, config.temperature_fixed, F)
    p = mc.astype(F) / config.num_edges
    out = np.full(mc.shape, config.temperature_values[-1], F)
    for t, v in reversed(list(zip(config.temperature_thresholds, config.temperature_values))):
        out = np.where(p < t, v, out)
    return out


def target_policy(visits, valid, temp, config):
    """pi proportional to (N + target_eps)^(1/T), masked to valid actions (computed as
    ((N + eps) / (max_valid N + eps))^(1/T), the same ratio without overflow)."""
    n = np.asarray(visits, F) + config.target_eps
    valid = np.asarray(valid, bool)
    top = np.max(np.where(valid, n, 0.0), axis=-1, keepdims=True)
    x = np.where(valid, (n / top) ** (1.0 / np.asarray(temp, F)[..., None]), 0.0)
    return x / np.sum(x, axis=-1, keepdims=True)


def select_move(visits, valid, config):
    """argmax of root visits over valid actions (tie_break; first index by default). int32 (B,)."""
    n = np.where(np.asarray(valid, bool), np.asarray(visits, np.int64), -1)
    return argmax_tie(n, config).astype(np.int32)


# ------------------------------------------------------------------------------------------------------
# The search
# ------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Node:
    """A tree node: its state, and per action the edge statistics W (mover's perspective) and N."""

    state: dict
    num_edges: int
    expanded: bool = False
    visits: int = 0  # N(s), the node's own visit count
    priors: np.ndarray | None = None
    valid: np.ndarray | None = None
    children: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.W = np.zeros(self.num_edges, F)
        self.N = np.zeros(self.num_edges, np.int64)


@dataclasses.dataclass
class Diagnostics:
    """Near-tie detector. Per decision: the score gap between the selected action and the runner-up,
    relative to |Q| + |U| of both (the scale of float32 rounding in a port's Q + U). ``structural`` ties
    (gap 0 between actions with identical W, N and P) are exact in any precision and not near-ties."""

    min_rel_margin: float = np.inf
    decisions: int = 0
    structural_ties: int = 0

    def record(self, node, config):
        q, u = puct_terms(node.W[None], node.N[None], node.priors[None], np.array([node.visits]), config)
        q, u = q[0], u[0]
        scores = np.where(node.valid, q + u, -np.inf)
        if node.valid.sum() < 2:
            return
        self.decisions += 1
        order = np.argsort(-scores, kind="stable")
        a, b = order[0], order[1]
        gap = scores[a] - scores[b]
        if gap == 0 and node.W[a] == node.W[b] and node.N[a] == node.N[b] and node.priors[a] == node.priors[b]:
            self.structural_ties += 1
            return
        scale = abs(q[a]) + abs(u[a]) + abs(q[b]) + abs(u[b]) + 1e-30
        self.min_rel_margin = min(self.min_rel_margin, float(gap / scale))


def _evaluate(state, game, evaluator, config):
    """(priors (E,), value for the player to move): ``evaluator(states (1, ...), game)``; with
    ``config.perspective == "fixed"`` the evaluator's value is player one's: v * (1 - 2 to_play)."""
    priors, value = evaluator(game_np.stack([state]), game)
    v = float(np.asarray(value)[0])
    if config.perspective == "fixed":
        v = v * (1.0 - 2.0 * int(state["to_play"]))
    return np.asarray(priors, F)[0], v


def _plain(x):
    """NumPy from a NumPy, JAX or torch array (a user's evaluator may answer in any framework)."""
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def user_evaluator(evaluator):
    """Adapt ``evaluator(state) -> (priors (E,), value)`` on ONE state (any framework's arrays out) to the
    batched ``(states, game) -> (priors (1, E), value (1,))`` form of ``search_one``."""
    def batched(states, game):
        p, v = evaluator(game_np.take(states, 0))
        return _plain(p).astype(F)[None], np.reshape(_plain(v).astype(F), (1,))
    return batched


def search_one(state, noise, config, evaluator=table_evaluator_np, diagnostics: Diagnostics | None = None):
    """Search one game from ``state`` (unbatched). Returns (visits, q, w, value, root priors)."""
    game = config.game
    e = game.num_edges
    rng = np.random.default_rng(config.random_tie_seed)
    root = Node(state, e)
    tv, done = game_np.terminal_value(state, game)
    if done:
        z = np.zeros(e)
        return np.zeros(e, np.int64), z, z, float(tv), z
    v_root = None
    reads = config.num_reads if config.reads_include_root else config.num_reads + 1
    for _ in range(reads):
        node, path = root, []
        # 1. selection: descend while the node is expanded (terminal nodes never are)
        while node.expanded:
            scores = puct_scores(node.W[None], node.N[None], node.priors[None], node.valid[None],
                                 np.array([node.visits]), config)[0]
            if diagnostics is not None:
                diagnostics.record(node, config)
            a = int(argmax_tie(scores[None], config, rng)[0])
            path.append((node, a))
            if a not in node.children:
                node.children[a] = Node(game_np.apply_move(node.state, np.int64(a), game), e)
            node = node.children[a]
        # 2. evaluation (and expansion of a non-terminal leaf)
        tv, done = game_np.terminal_value(node.state, game)
        if done:
            terminal = bool(config.terminal_detection)
            v = float(tv) if terminal else _evaluate(node.state, game, evaluator, config)[1]
        else:
            terminal = False
            p, v = _evaluate(node.state, game, evaluator, config)
            valid = game_np.legal_moves(node.state, game)
            if node is root:
                v_root = v
                node.priors = mix_noise(p[None], np.asarray(noise, F)[None], valid[None],
                                        np.asarray([node.state["move_count"]]), config)[0]
            else:
                node.priors = mask_renorm(p[None], valid[None], config)[0]
            node.valid = valid
            node.expanded = True
        # 3. backup along the path; every node on it (root included) counts the visit
        dw, dn = backup(np.array([v]), np.array([len(path)]), np.array([terminal]), config)
        for i, (parent, a) in enumerate(path):
            parent.W[a] += dw[0, i]
            parent.N[a] += dn[0, i]
            parent.visits += 1
        node.visits += 1
        if path:  # one simulation (the read that expands the root is not one)
            _tap_simulation([a for _, a in path], v, dw[0], root.N)
    n = root.N
    if config.q_mode == "w_over_1_plus_n":
        q = root.W / (1.0 + n)
    else:
        q = np.where(n > 0, root.W / np.maximum(n, 1), 0.0)
    value = (v_root + root.W.sum()) / (1.0 + n.sum())
    return n, q, root.W.copy(), value, root.priors


def _tap_simulation(actions, leaf_value, dw, root_visits):
    """The taps of one simulation (the same in search_jax / search_torch): the selected path (actions from
    the root, -1 padded to E), the leaf's value for its mover (exact outcome if terminal, before the
    terminal weight), the backed-up increments of W per path edge, the root's visit counts after it."""
    e = len(dw)
    tap("mcts.select.path", np.array(list(actions) + [-1] * (e - len(actions)), np.int32))
    tap("mcts.evaluate.leaf_value", np.float64(leaf_value))
    tap("mcts.backup.values", np.asarray(dw, F))
    tap("mcts.root.visits", np.asarray(root_visits, np.int32))


def search(states, noise, config, evaluator=None, diagnostics: Diagnostics | None = None):
    """Batched search (loops over the batch). Returns {"visits" int32 (B,E), "q" (B,E), "w" (B,E),
    "value" (B,), "priors" (B,E)} -- root statistics, see INTERFACE.md."""
    evaluator = evaluator or table_evaluator_np
    colours = np.asarray(states["colours"])
    if colours.ndim != 2 or colours.shape[1] != config.num_edges:
        raise ValueError(f"search: states['colours'] must have shape (B, {config.num_edges}), got {colours.shape}")
    noise = np.asarray(noise, F)
    if noise.shape != colours.shape:
        raise ValueError(f"search: noise must have shape {colours.shape}, got noise.shape={noise.shape}")
    outs = [search_one(game_np.take(states, b), noise[b], config, evaluator, diagnostics)
            for b in range(colours.shape[0])]
    return {"visits": np.stack([o[0] for o in outs]).astype(np.int32),
            "q": np.stack([o[1] for o in outs]),
            "w": np.stack([o[2] for o in outs]),
            "value": np.array([o[3] for o in outs], F),
            "priors": np.stack([o[4] for o in outs])}


def search_with_evaluator(state, evaluator, noise, config):
    """The whole search of ONE game with the caller's evaluator: ``evaluator(state) -> (priors (E,), value)``
    for one state dict (``colours`` (E,), ``to_play``, ``move_count``, ``outcome``), answering in NumPy, JAX
    or torch; value for the player to move (``config.perspective == "fixed"``: player one's). noise (E,).
    Returns {"visits" int32 (E,), "q" (E,), "w" (E,), "value" (), "priors" (E,)}; taps per simulation."""
    batched = game_np.stack([{k: np.asarray(v) for k, v in state.items()}])
    out = search(batched, np.asarray(noise, F)[None], config, evaluator=user_evaluator(evaluator))
    return {k: v[0] for k, v in out.items()}
