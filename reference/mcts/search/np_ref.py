"""The oracle MCTS, NumPy float64: the components of spec.py; reads like the spec.

Small pure functions first (each a component, batched over a leading axis B), then the evaluators, then the
search: a plain dict-of-nodes ``Tree`` of ONE game whose phases (``simulate``, ``expand``, ``backward``)
``search`` composes, game after game. Inputs are cast to float64 inside; the table evaluator's float32
outputs are exact, so the oracle's only rounding is float64's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from harness.tap import tap
from reference.mcts import config as config_lib
from reference.mcts.game import np_ref as game_np
from reference.mcts.game import states as game_states
from reference.mcts.search import spec

F = np.float64


# ------------------------------------------------------------------------------------------------------
# Small components (batched: leading axis B)
# ------------------------------------------------------------------------------------------------------


def _mask_renorm(priors, valid, config):
    """P * valid / sum(P * valid); uniform over valid actions where that sum < prior_uniform_eps."""
    p = np.asarray(priors, F) * np.asarray(valid)
    v = np.asarray(valid, F)
    s = np.sum(p, axis=-1, keepdims=True)
    uniform = v / np.maximum(np.sum(v, axis=-1, keepdims=True), 1.0)
    return np.where(s < config.prior_uniform_eps, uniform, p / np.where(s > 0, s, 1.0))


def _puct_terms(w, n, priors, node_n, config):
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
    """Q + U over valid actions, -inf elsewhere: scores (B, E) of a node's children.

    NumPy: float64."""
    q, u = _puct_terms(w, n, priors, node_n, config)
    return np.where(np.asarray(valid, bool), q + u, -np.inf)


def _argmax_tie(x, config, rng=None):
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
    """(dw float (B, E), dn int32 (B, E)): the increments of W and N along each path, edge 0 = the root's.

    NumPy: dw float64."""
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


def _noise_weight(move_count, config):
    """w = noise_weight * (1 - p) (decay), noise_weight (fixed); p = move_count / E."""
    p = np.asarray(move_count, F) / config.num_edges
    if config.noise_weight_schedule == "decay":
        return config.noise_weight * (1.0 - p)
    return np.full(np.shape(p), float(config.noise_weight))


def mix_noise(priors, noise, valid, move_count, config):
    """The root priors after noise (B, E): masked to valid, sum 1.

    NumPy: float64; a row without any valid action gives NaN, as jax / torch."""
    valid = np.asarray(valid, bool)
    if not config.root_noise:
        return _mask_renorm(priors, valid, config)
    n = np.asarray(noise, F)
    if config.noise_clip is not None:
        n = np.clip(n, config.noise_clip[0], config.noise_clip[1])
    w = _noise_weight(move_count, config)[..., None]
    if config.noise_scope == "valid":
        p = _mask_renorm(priors, valid, config)
        mixed = ((1.0 - w) * p + w * n) * valid
        with np.errstate(invalid="ignore", divide="ignore"):  # no valid action (a finished game): NaN, as jax/torch
            return mixed / np.sum(mixed, axis=-1, keepdims=True)
    mixed = (1.0 - w) * np.asarray(priors, F) + w * n
    return _mask_renorm(mixed, valid, config)


def noise_alpha(num_valid, config):
    """Dirichlet alpha float32 (B,) by the number of valid actions."""
    nv = np.asarray(num_valid)
    if config.alpha_mode == "fixed":
        return np.full(nv.shape, config.alpha_default, np.float32)
    a = np.where(nv < config.alpha_few_below, config.alpha_few,
                 np.where(nv > config.alpha_many_above, config.alpha_many, config.alpha_default))
    return a.astype(np.float32)


def sample_noise(seed, valid, config):
    """float32 (B, E): Dirichlet(alpha(#valid)) over the valid actions (0 elsewhere), or over all E actions.

    NumPy: Generator(PCG64(seed)), one Dirichlet draw per row."""
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
    """T (B,) by progress p = move_count / E: annealed or fixed.

    NumPy: p = move_count / E in float64."""
    mc = np.asarray(move_count)
    if config.temperature_schedule == "fixed":
        return np.full(mc.shape, config.temperature_fixed, F)
    p = mc.astype(F) / config.num_edges
    out = np.full(mc.shape, config.temperature_values[-1], F)
    for t, v in reversed(list(zip(config.temperature_thresholds, config.temperature_values))):
        out = np.where(p < t, v, out)
    return out


def target_policy(visits, valid, temp, config):
    """pi (B, E) proportional to (N + target_eps)^(1/T), masked to valid actions, normalised.

    NumPy: float64."""
    n = np.asarray(visits, F) + config.target_eps
    valid = np.asarray(valid, bool)
    top = np.max(np.where(valid, n, 0.0), axis=-1, keepdims=True)
    x = np.where(valid, (n / top) ** (1.0 / np.asarray(temp, F)[..., None]), 0.0)
    return x / np.sum(x, axis=-1, keepdims=True)


def select_move(visits, valid, config):
    """int32 (B,): argmax of root visits over valid actions (tie_break; first index by default)."""
    n = np.where(np.asarray(valid, bool), np.asarray(visits, np.int64), -1)
    return _argmax_tie(n, config).astype(np.int32)


def default_config(name="alphazero_clique"):
    """The port's default MCTSConfig for profile ``name`` (compared field by field to the spec's profile)."""
    return config_lib.default_config(name)


# ------------------------------------------------------------------------------------------------------
# Evaluators: (states (B, ...), game) -> (priors (B, E), value (B,)) for the player to move
# ------------------------------------------------------------------------------------------------------


def _mix(x):
    x = x & spec.MASK32
    x = x ^ (x >> 16)
    x = (x * spec.K_MIX) & spec.MASK32
    x = x ^ (x >> 16)
    x = (x * spec.K_MIX) & spec.MASK32
    return x ^ (x >> 16)


def table_evaluator(state, game=None):
    """(priors float32 (B, E), value float32 (B,)): the table evaluator (module docstring), bit-identical.

    NumPy: also a single game (no leading axis); uint64 arithmetic masked to 32 bits."""
    c = np.asarray(state["colours"]).astype(np.uint64)
    e = c.shape[-1]
    spec._check_edges(e)
    m = np.array(spec.TABLE_M[:e], dtype=np.uint64)
    h = np.sum(c * m, axis=-1) + (np.asarray(state["to_play"]).astype(np.uint64) + 1) * np.uint64(spec.TABLE_M[spec.E_MAX])
    h = h & np.uint64(spec.MASK32)
    a = np.array(spec.TABLE_A[:e], dtype=np.uint64)
    w = (1 + (_mix(h[..., None] ^ a) >> np.uint64(8)) % np.uint64(spec.PRIOR_LEVELS)).astype(np.int64)
    lv = ((_mix(h ^ np.uint64(spec.TABLE_V)) >> np.uint64(8)) % np.uint64(spec.VALUE_LEVELS)).astype(np.int64)
    q = (w << spec.PRIOR_BITS) // np.sum(w, axis=-1, keepdims=True)
    priors = q.astype(np.float32) * np.float32(2.0 ** -spec.PRIOR_BITS)
    value = (lv.astype(np.float32) - np.float32(127)) * np.float32(2.0 ** -7)
    return priors.astype(np.float32), np.asarray(value, dtype=np.float32)


def _boundary_distance(x, grid):
    f = x / grid - np.floor(x / grid)
    return float(np.min(np.minimum(f, 1.0 - f)) * grid) if np.size(x) else np.inf


class NetworkEvaluator:
    """The quantised policy-value network evaluator (spec.py) from canonical net params, float64; records
    ``min_boundary_distance``, the smallest distance of a raw output to its quantisation boundary (a near-tie
    when below spec.NET_DELTA)."""

    def __init__(self, params):
        from reference.nets import np_ref as nets

        self._nets = nets
        self.params = params
        self.min_boundary_distance = np.inf

    def __call__(self, state, game=None):
        from reference.nets import encoding

        ei, ea = encoding.encode(np.asarray(state["colours"]))
        logits, value = self._nets.policy_value(self.params, ei, ea, np.asarray(state["to_play"]).reshape(-1))
        self.min_boundary_distance = min(self.min_boundary_distance, _boundary_distance(logits, spec.LOGIT_GRID),
                                         _boundary_distance(value, spec.VALUE_GRID))
        lq = np.floor(logits / spec.LOGIT_GRID) * spec.LOGIT_GRID
        vq = np.floor(value / spec.VALUE_GRID) * spec.VALUE_GRID
        p = np.exp(lq - lq.max(-1, keepdims=True))
        return p / p.sum(-1, keepdims=True), vq


def _plain(x):
    """NumPy from a NumPy, JAX or torch array (a user's evaluator may answer in any framework)."""
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def _user_evaluator(evaluator):
    """Adapt ``evaluator(state) -> (priors (E,), value)`` on ONE state (any framework's arrays out) to the
    batched ``(states, game) -> (priors (1, E), value (1,))`` form of ``Oracle``."""
    def batched(states, game):
        p, v = evaluator(game_states.take(states, 0))
        return _plain(p).astype(F)[None], np.reshape(_plain(v).astype(F), (1,))
    return batched


# ------------------------------------------------------------------------------------------------------
# The search: a Tree of one game, its phases, the Oracle that composes them over a batch
# ------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Node:
    """A tree node: its state, and per action the edge statistics W (mover's perspective) and N.

    state     the game state (unbatched arrays)          expanded  evaluated and given priors (bool)
    visits    N(s), the node's own visit count (int)     priors    float64 (E,) masked priors (root: after noise)
    valid     bool (E,) legal moves (once expanded)      children  {action: Node} (created on first visit)
    W         float64 (E,) W(s, a)                       N         int64 (E,) N(s, a)
    """

    state: dict
    num_edges: int
    expanded: bool = False
    visits: int = 0
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
        q, u = _puct_terms(node.W[None], node.N[None], node.priors[None], np.array([node.visits]), config)
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


@dataclasses.dataclass
class Tree:
    """The search tree of ONE game and the three phases of a read over it.

    root        Node: the searched position
    noise       float64 (E,): the root's Dirichlet sample (mixed in when the root is expanded)
    config      MCTSConfig
    evaluator   (states (1, ...), game) -> (priors (1, E), value (1,)) for the player to move
    diagnostics Diagnostics | None: records every PUCT decision (near-ties)
    rng         the generator of tie_break ``random`` (seeded with config.random_tie_seed)
    root_value  float: the evaluator's value of the root (set by its expansion)
    """

    root: Node
    noise: np.ndarray
    config: config_lib.MCTSConfig
    evaluator: object
    diagnostics: Diagnostics | None = None
    rng: np.random.Generator | None = None
    root_value: float | None = None

    def __post_init__(self):
        self.rng = np.random.default_rng(self.config.random_tie_seed)

    def simulate(self):
        """(path [(node, action)], leaf): descend from the root while the node is expanded (terminal nodes
        never are), by argmax of ``puct_scores`` (tie_break); a child is created on its first visit."""
        node, path = self.root, []
        while node.expanded:
            scores = puct_scores(node.W[None], node.N[None], node.priors[None], node.valid[None],
                                 np.array([node.visits]), self.config)[0]
            if self.diagnostics is not None:
                self.diagnostics.record(node, self.config)
            a = int(_argmax_tie(scores[None], self.config, self.rng)[0])
            path.append((node, a))
            if a not in node.children:
                node.children[a] = Node(game_np.apply_move(node.state, np.int64(a), self.config.game),
                                        self.root.num_edges)
            node = node.children[a]
        return path, node

    def _evaluate(self, state):
        """(priors (E,), value for the player to move); perspective ``fixed``: the evaluator's value is
        player one's, v * (1 - 2 to_play)."""
        priors, value = self.evaluator(game_states.stack([state]), self.config.game)
        v = float(np.asarray(value)[0])
        if self.config.perspective == "fixed":
            v = v * (1.0 - 2.0 * int(state["to_play"]))
        return np.asarray(priors, F)[0], v

    def expand(self, leaf):
        """(value for the leaf's player to move, terminal): a terminal leaf's exact value if
        terminal_detection, else the evaluator's; a non-terminal leaf gets its masked priors (the root:
        after noise) and is expanded."""
        config = self.config
        tv, done = game_np.terminal_value(leaf.state, config.game)
        if done:
            terminal = bool(config.terminal_detection)
            return (float(tv) if terminal else self._evaluate(leaf.state)[1]), terminal
        p, v = self._evaluate(leaf.state)
        valid = game_np.legal_moves(leaf.state, config.game)
        if leaf is self.root:
            self.root_value = v
            leaf.priors = mix_noise(p[None], self.noise[None], valid[None],
                                    np.asarray([leaf.state["move_count"]]), config)[0]
        else:
            leaf.priors = _mask_renorm(p[None], valid[None], config)[0]
        leaf.valid = valid
        leaf.expanded = True
        return v, False

    def backward(self, path, leaf, value, terminal):
        """dw (E,): ``backup`` of the leaf's value along the path (W += dw, N += dn per edge); every node on
        the path, root included, counts the visit."""
        dw, dn = backup(np.array([value]), np.array([len(path)]), np.array([terminal]), self.config)
        for i, (parent, a) in enumerate(path):
            parent.W[a] += dw[0, i]
            parent.N[a] += dn[0, i]
            parent.visits += 1
        leaf.visits += 1
        return dw[0]

    def root_statistics(self):
        """(visits, q, w, value, priors) of the root (spec.search)."""
        root = self.root
        n = root.N
        if self.config.q_mode == "w_over_1_plus_n":
            q = root.W / (1.0 + n)
        else:
            q = np.where(n > 0, root.W / np.maximum(n, 1), 0.0)
        value = (self.root_value + root.W.sum()) / (1.0 + n.sum())
        return n, q, root.W.copy(), value, root.priors


def _tap_simulation(actions, leaf_value, dw, root_visits):
    """The taps of one simulation (the same in jax_ref / torch_ref): the selected path (actions from the
    root, -1 padded to E), the leaf's value for its mover (exact outcome if terminal, before the terminal
    weight), the backed-up increments of W per path edge, the root's visit counts after it."""
    e = len(dw)
    tap("mcts.select.path", np.array(list(actions) + [-1] * (e - len(actions)), np.int32))
    tap("mcts.evaluate.leaf_value", np.float64(leaf_value))
    tap("mcts.backup.values", np.asarray(dw, F))
    tap("mcts.root.visits", np.asarray(root_visits, np.int32))


@dataclasses.dataclass
class Oracle:
    """The oracle search with a chosen evaluator ``(states, game) -> (priors, value)`` (default: the table
    evaluator) and an optional near-tie recorder: ``Oracle(evaluator, diagnostics).search(states, noise,
    config)`` is ``search`` (spec.py) with them."""

    evaluator: object = None
    diagnostics: Diagnostics | None = None

    def search_one(self, state, noise, config):
        """(visits, q, w, value, root priors) of one game (unbatched state, noise (E,))."""
        e = config.num_edges
        tv, done = game_np.terminal_value(state, config.game)
        if done:
            z = np.zeros(e)
            return np.zeros(e, np.int64), z, z, float(tv), z
        tree = Tree(Node(state, e), np.asarray(noise, F), config, self.evaluator or table_evaluator,
                    self.diagnostics)
        reads = config.num_reads if config.reads_include_root else config.num_reads + 1
        for _ in range(reads):
            path, leaf = tree.simulate()
            value, terminal = tree.expand(leaf)
            dw = tree.backward(path, leaf, value, terminal)
            if path:  # one simulation (the read that expands the root is not one)
                _tap_simulation([a for _, a in path], value, dw, tree.root.N)
        return tree.root_statistics()

    def search(self, states, noise, config):
        """Batched (loops over the batch): the root statistics of spec.search."""
        colours = np.asarray(states["colours"])
        if colours.ndim != 2 or colours.shape[1] != config.num_edges:
            raise ValueError(f"search: states['colours'] must have shape (B, {config.num_edges}), got {colours.shape}")
        noise = np.asarray(noise, F)
        if noise.shape != colours.shape:
            raise ValueError(f"search: noise must have shape {colours.shape}, got noise.shape={noise.shape}")
        outs = [self.search_one(game_states.take(states, b), noise[b], config) for b in range(colours.shape[0])]
        return {"visits": np.stack([o[0] for o in outs]).astype(np.int32),
                "q": np.stack([o[1] for o in outs]),
                "w": np.stack([o[2] for o in outs]),
                "value": np.array([o[3] for o in outs], F),
                "priors": np.stack([o[4] for o in outs])}


def search(states, noise, config):
    """Root statistics of an MCTS from each state with the table evaluator: a dict of arrays.

    NumPy: one game after another (``Oracle``), float64."""
    return Oracle().search(states, noise, config)


def search_network(states, noise, config, params):
    """``search`` with the quantised policy-value network evaluator (module docstring) instead of the table.

    NumPy: params = canonical net params (``NetworkEvaluator``)."""
    return Oracle(NetworkEvaluator(params)).search(states, noise, config)


def search_with_evaluator(state, evaluator, noise, config):
    """The whole search of ONE game with the caller's ``evaluator(state) -> (priors (E,), value)``.

    NumPy: state arrays of shape (E,) and (); returns {"visits" int32 (E,), "q" (E,), "w" (E,), "value" (),
    "priors" (E,)}."""
    batched = game_states.stack([{k: np.asarray(v) for k, v in state.items()}])
    out = Oracle(_user_evaluator(evaluator)).search(batched, np.asarray(noise, F)[None], config)
    return {k: v[0] for k, v in out.items()}
