"""MCTS, part 2: the search on the clique game (spec: /work/shared/spec/mcts.md).

Written three times with the same names, argument order and docstrings: ``np_ref.py`` (the readable
float64 oracle: a dict-of-nodes tree, one game at a time), ``jax_ref.py`` (fixed-size arrays, ``lax``
loops, ``vmap`` over the batch, jit on the game and budget only) and ``torch_ref.py`` (every game of the
batch in lockstep on flat tensors). Each search is its phases over a typed ``Tree`` (mctx style):
``Tree.simulate`` (select a path from the root to a leaf), ``Tree.expand`` (evaluate the leaf; give a
non-terminal one its priors) and ``Tree.backward`` (back the leaf's value up the path); ``search``
composes them. ``tables.py``: host-side tables by move count (jax / torch); ``mctx_oracle.py``: profile
``classic`` through DeepMind's ``mctx.muzero_policy`` (an external oracle).

Config. Every convention is a field of ``reference.mcts.config.MCTSConfig`` (its docstring documents each:
num_reads, reads_include_root, c_puct, q_mode, u_mode, tie_break, backup_sign, terminal_detection,
terminal_weight, prior_uniform_eps, root_noise, noise_scope, alpha settings, noise_clip, noise_weight and
its schedule, temperature schedule, target_eps, perspective, evaluator); ``profile(name, **overrides)``
builds profile ``alphazero_clique`` (the seed's PyTorch semantics, the default) or ``classic`` (mctx's
``muzero_policy``); ``cfg.replace(...)`` plants a drift. Negative controls run a port with a drifted config
against the oracle with the right one. ``tie_break="random"`` is implemented by the NumPy oracle only
(jax / torch raise NotImplementedError).

All arrays are batched (leading axis B); ``config`` is an MCTSConfig (the game is ``config.game``); float
outputs are float32 in jax / torch (float64 in the oracle). ``mask_renorm(p, valid)`` below is
p * valid / sum(p * valid), uniform over valid where that sum < prior_uniform_eps.

One read (simulation) of ``search``
  1. simulate: node = root; while the node is expanded (terminal nodes never are): a = argmax over valid
     actions of Q + U (``puct_scores``, tie_break), the child (s, a) is created on first visit (state =
     apply_move, not expanded) and becomes the node. The node reached is the leaf.
  2. expand: a terminal leaf (outcome != 0) is valued by its exact terminal value for its player to move
     if terminal_detection (weight terminal_weight), else by the evaluator (weight 1); it is never
     expanded. Else (P, v) = evaluator(state), node priors = mask_renorm(P) (the root's: ``mix_noise`` of
     P with the injected noise), node expanded.
  3. backward: ``backup(v, len(path), terminal, config)``: path edge i gets W += dw[i], N += dn[i]; every
     node on the path (root included) gets its own visit count N(s) += 1.
Budget: reads_include_root -> num_reads reads in total, the first one expands the root (its children end
with num_reads - 1 visits); else the root is expanded first (not counted) and num_reads simulations follow.
Root N(s) = 1 + sum of the children's N either way. The noise is used only at the root, only through
``mix_noise``; the harness gives noise from the NumPy ``sample_noise`` (zeros at invalid actions for scope
valid). A terminal root is not searched: visits 0, q 0, value = its exact terminal value.
Taps per simulation (harness.tap; the same names and order in the three searches, games of a batch one
after another): ``mcts.select.path`` (actions from the root, -1 padded to E), ``mcts.evaluate.leaf_value``
(the leaf's value for its mover, before the terminal weight), ``mcts.backup.values`` (dw per path edge),
``mcts.root.visits`` (the root's visit counts after it).

Table evaluator (``table_evaluator``: bit-identical in NumPy, JAX and torch). Priors and value are a pure
function of the state, computed from integers only, dyadic rationals exact in float32 (XLA's CPU float32
division is NOT correctly rounded -- 23% of w / S quotients off by an ulp against NumPy -- so no float
division)::

    h      = (sum_e colours[e] M[e] + (to_play + 1) M[E_MAX]) mod 2^32           M = TABLE_M, odd, < 2^31
    mix(x) = x ^= x >> 16; x = x K mod 2^32; x ^= x >> 16; x = x K mod 2^32; x ^= x >> 16    (K = K_MIX)
    w[a]   = 1 + (mix(h ^ A[a]) >> 8) mod 64                  integers in [1, 64]      A = TABLE_A
    q[a]   = floor(w[a] 2^20 / sum_b w[b])                    (integer division; equal w -> equal q)
    prior  = float32(q[a]) 2^-20                              over ALL E actions, all > 0
    value  = (float32((mix(h ^ V) >> 8) mod 255) - 127) 2^-7  in [-127/128, 127/128]    V = TABLE_V

Values are multiples of 1/128, so W sums are exact in float32 and float64: with the same injected noise,
root visit counts agree EXACTLY across implementations.

Network evaluator (``search_network``). The policy-value network of reference/nets; graph automorphisms
give symmetric edges equal outputs in exact arithmetic, which float rounding turns into last-bit near-ties
that flip PUCT decisions between frameworks. So the raw outputs are quantised on a coarse dyadic grid
(exact scalings, floor) -- symmetric outputs tie exactly again, identical bits in every framework -- and
the NumPy evaluator records how close a raw output came to a grid boundary (a near-tie detector, NET_DELTA)::

    logits_q = floor(logits / LOGIT_GRID) LOGIT_GRID      value_q = floor(value / VALUE_GRID) VALUE_GRID
    priors   = softmax(logits_q) over ALL E actions (the search masks), value = value_q, role = to_play
"""

from __future__ import annotations

AREA = "mcts"


def _constants(count: int, seed: int) -> tuple[int, ...]:
    """Fixed odd constants < 2^31 from a 64-bit LCG (Knuth's MMIX multiplier)."""
    x, out = seed, []
    for _ in range(count):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append(((x >> 33) & 0x7FFFFFFF) | 1)
    return tuple(out)


# table evaluator
E_MAX = 66  # n <= 12
MASK32 = 0xFFFFFFFF
K_MIX = 0x45D9F3B
TABLE_M = _constants(E_MAX + 1, seed=20261124)  # per-edge multipliers; TABLE_M[E_MAX] for the player to move
TABLE_A = _constants(E_MAX, seed=5)  # per-action salts
TABLE_V = 0x2545F491  # value salt
PRIOR_LEVELS = 64
VALUE_LEVELS = 255
PRIOR_BITS = 20  # priors are multiples of 2^-20 (w 2^20 <= 2^26 fits int32)

# network evaluator
LOGIT_GRID = 2.0 ** -6
VALUE_GRID = 2.0 ** -7
NET_DELTA = 1e-6  # 10x the measured float32-vs-float64 error of the network outputs (<= 9e-8)


def _check_edges(e: int) -> None:
    """ValueError unless the table evaluator has constants for E edges."""
    if not 1 <= e <= E_MAX:
        raise ValueError(f"table_evaluator: E must be in [1, {E_MAX}], got E={e}")


def table_evaluator(state, game=None):
    """(priors float32 (B, E), value float32 (B,)): the table evaluator (module docstring), bit-identical.

    Priors over ALL E actions (not masked: masking is the search's job), every prior > 0; value for the
    player to move. Products stay below 2^63 (K_MIX < 2^27, TABLE_M < 2^31): int64 in NumPy / torch,
    uint32 in JAX (x64 off).
    """
    ...


def puct_scores(w, n, priors, valid, node_n, config):
    """Q + U over valid actions, -inf elsewhere: scores (B, E) of a node's children.

    Q = W / (1 + N)                    (q_mode w_over_1_plus_n; unvisited: 0)
      = W / N, 0 where N = 0           (q_mode mean)
    U = c_puct * P * S / (1 + N),  S = sqrt(max(1, N(s))) | sqrt(1 + sum_b N_b) | sqrt(sum_b N_b)
    (u_mode sqrt_max1_node | sqrt_1_plus_sum | sqrt_sum). w float (B, E), n int (B, E), priors (B, E) the
    node's (already masked) priors, valid bool (B, E), node_n int (B,) = N(s), the node's own visit count.
    """
    ...


def backup(leaf_value, depth, is_terminal, config):
    """(dw float (B, E), dn int32 (B, E)): the increments of W and N along each path, edge 0 = the root's.

    leaf_value (B,) is for the player to move at the leaf (node ``depth``). Edge i < depth gets
    dw[i] = sign_i * weight * leaf_value, dn[i] = 1; entries i >= depth are 0. sign_i = (-1)^(depth - i)
    (alternating: the edge into the leaf gets -v) or +1 (same); weight = terminal_weight if is_terminal and
    terminal_detection, else 1.
    """
    ...


def mix_noise(priors, noise, valid, move_count, config):
    """The root priors after noise (B, E): masked to valid, sum 1.

    scope valid: P = mask_renorm(priors); n = clip(noise) on valid, 0 elsewhere; P' = (1 - w) P + w n,
                 then P' * valid / sum.
    scope all:   P' = (1 - w) priors + w clip(noise) over all E actions, then mask_renorm(P').
    w = noise_weight * (1 - move_count / E) (decay) or noise_weight (fixed); root_noise False ->
    mask_renorm(priors). priors are the raw evaluator priors.
    """
    ...


def noise_alpha(num_valid, config):
    """Dirichlet alpha float32 (B,) by the number of valid actions.

    by_legal_moves: alpha_few if #valid < alpha_few_below, alpha_many if #valid > alpha_many_above, else
    alpha_default; fixed: alpha_default.
    """
    ...


def sample_noise(seed, valid, config):
    """float32 (B, E): Dirichlet(alpha(#valid)) over the valid actions (0 elsewhere), or over all E actions.

    Scope valid / all; each framework's own sampler (numpy Generator(PCG64(seed)), jax.random.key(seed),
    torch.manual_seed(seed)): compared by distribution only (mcts.dirichlet_stats). Nothing may take the log
    of the noise (exact zeros at small alpha).
    """
    ...


def temperature(move_count, config):
    """T (B,) by progress p = move_count / E: annealed or fixed.

    annealed: temperature_values[i] for the first i with p < temperature_thresholds[i] (strict), else the
    last value; fixed: temperature_fixed.
    """
    ...


def target_policy(visits, valid, temp, config):
    """pi (B, E) proportional to (N + target_eps)^(1/T), masked to valid actions, normalised.

    Computed as ((N + eps) / (max_valid N + eps))^(1/T), the same ratio without overflow; temp (B,).
    """
    ...


def select_move(visits, valid, config):
    """int32 (B,): argmax of root visits over valid actions (tie_break; first index by default)."""
    ...


def search(states, noise, config):
    """Root statistics of an MCTS from each state with the table evaluator: a dict of arrays.

    states: a batched game state (leading axis B); noise float32 (B, E), the root's Dirichlet sample.
    Returns {"visits" int32 (B, E) root children's visit counts, "q" (B, E) root Q per q_mode (0 where
    unvisited), "w" (B, E) root W, "value" (B,) = (v_root + sum_a W(root, a)) / (1 + sum_a N(root, a))
    (mctx's summary().value), "priors" (B, E) the root priors after noise}. Required of a port: visits, q,
    value.
    """
    ...


def search_network(states, noise, config, params):
    """``search`` with the quantised policy-value network evaluator (module docstring) instead of the table.

    params: the framework's native network (NumPy: canonical params; JAX: flax variables, traced; torch: a
    nets.torch_ref.PolicyValueNet), i.e. ``nets.<fw>_ref.to_native(canonical)``.
    """
    ...


def search_with_evaluator(state, evaluator, noise, config):
    """The whole search of ONE game with the caller's ``evaluator(state) -> (priors (E,), value)``.

    state: one unbatched state dict; the evaluator answers in NumPy, JAX or torch, value for the player to
    move (perspective ``fixed``: player one's); noise (E,). Returns ``search``'s root statistics without the
    batch axis; taps per simulation.
    """
    ...


def default_config(name="alphazero_clique"):
    """The port's default MCTSConfig for profile ``name`` (compared field by field to the spec's profile)."""
    ...
