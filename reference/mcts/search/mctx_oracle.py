"""Profile ``classic`` through DeepMind's ``mctx.muzero_policy``: an external oracle for the searches.

The spec's mapping (spec/mcts.md, profile ``classic``; search/spec.py):

* root: ``prior_logits = log(P')`` with P' = (1 - w) P + w noise over ALL actions (the injected noise,
  w = noise_weight), ``dirichlet_fraction=0`` (mctx's own noise is switched off), ``invalid_actions`` =
  the illegal edges (mctx masks them and renormalises by its softmax); value = the evaluator's.
* ``recurrent_fn`` from a non-terminal state: apply the move; reward 0, discount -1 (the value flips
  sign each ply); value = the exact outcome if the new state is terminal, else the evaluator's value;
  prior logits = log(priors) on legal edges, finfo.min elsewhere. From a terminal state (the search
  re-visits a terminal leaf): reward = the exact value for that state's mover, discount 0 -- so every
  visit of a terminal leaf backs up its exact value, as the oracle does.
* ``pb_c_init = c_puct``, ``pb_c_base = 1e30`` (pb_c == pb_c_init exactly in float32),
  U = pb_c sqrt(N(s)) P / (1 + N(s, a)) with N(s) = 1 + sum_b N(s, b), Q = mean backed-up value.
* ``qtransform``: the raw Q of visited children, 0 for unvisited ones, -inf for illegal edges of
  interior nodes (mctx masks illegal actions only at the root; an illegal action has prior 0 and Q 0 and
  could otherwise beat legal actions with negative Q + U).
  Tie-break: mctx adds 1e-7 x uniform noise to every score; the oracle breaks ties at the FIRST index.
  Table priors tie often (64 levels), so the qtransform adds TIE_BONUS = 1e-5 to the first-index argmax
  of mctx's own score (recomputed with mctx's formula): an exact tie goes to the first index, a leader
  only leads by more; 1e-5 exceeds the noise (1e-7) and float32 rounding of scores below 16 (< 2e-6).

Only configs mctx can express are accepted (``classic`` with any c_puct / num_reads / noise_weight):
anything else raises ValueError naming the field.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from reference.mcts import config as config_lib
from reference.mcts.game import jax_ref as game_jax
from reference.mcts.game.spec import STATE_KEYS
from reference.mcts.search.jax_ref import FAST_COMPILE, table_evaluator

PB_C_BASE = 1e30
TIE_BONUS = 1e-5

_REQUIRED = dict(reads_include_root=False, q_mode="mean", u_mode="sqrt_1_plus_sum", tie_break="first",
                 backup_sign="alternating", terminal_detection=True, terminal_weight=1.0, root_noise=True,
                 noise_scope="all", noise_clip=None, noise_weight_schedule="fixed", evaluator="table")


def check_expressible(config) -> None:
    """ValueError naming the first setting mctx.muzero_policy cannot reproduce."""
    if not isinstance(config, config_lib.MCTSConfig):
        raise ValueError(f"mctx_oracle: config must be an MCTSConfig, got config={type(config).__name__}")
    for name, want in _REQUIRED.items():
        got = getattr(config, name)
        if got != want:
            raise ValueError(f"mctx_oracle: mctx.muzero_policy reproduces profile 'classic' only: "
                             f"{name} must be {want!r}, got {name}={got!r}")


def _legal(state):
    return (state["colours"] == 0) & (state["outcome"] == 0)[..., None]


def _masked_log_priors(priors, legal):
    return jnp.where(legal, jnp.log(priors), jnp.finfo(jnp.float32).min)


def _recurrent_fn(game):
    def recurrent_fn(params, rng_key, action, embedding):
        del params, rng_key
        state = embedding
        tv_here, done_here = game_jax.terminal_value(state, game)
        # a move from a terminal state is never applied (the absorbing step re-uses the state)
        safe_action = jnp.where(done_here, 0, action)
        nxt = game_jax.apply_move(state, safe_action, game)
        nxt = jax.tree.map(lambda a, b: jnp.where(done_here.reshape((-1,) + (1,) * (a.ndim - 1)), b, a),
                           nxt, state)
        priors, value = table_evaluator(nxt, game)
        tv, done = game_jax.terminal_value(nxt, game)
        value = jnp.where(done, tv, value)
        out = mctx().RecurrentFnOutput(
            reward=jnp.where(done_here, tv_here, 0.0).astype(jnp.float32),
            discount=jnp.where(done_here, 0.0, -1.0).astype(jnp.float32),
            prior_logits=_masked_log_priors(priors, _legal(nxt)),
            value=jnp.where(done_here, 0.0, value).astype(jnp.float32))
        return out, nxt

    return recurrent_fn


def _qtransform(c_puct):
    def qtransform(tree, node_index):
        """Raw Q (visited), 0 (unvisited), -inf (illegal); + TIE_BONUS on the first-index argmax of
        mctx's own score Q + pb_c sqrt(N(s)) P / (1 + N(s, a)) over legal actions."""
        q = tree.qvalues(node_index)
        n = tree.children_visits[node_index]
        value = jnp.where(n > 0, q, 0.0)
        state = jax.tree.map(lambda x: x[node_index], tree.embeddings)
        legal = (state["colours"] == 0) & (state["outcome"] == 0)
        node_visit = tree.node_visits[node_index]
        pb_c = c_puct + jnp.log((node_visit + PB_C_BASE + 1.0) / PB_C_BASE)
        prior = jax.nn.softmax(tree.children_prior_logits[node_index])
        score = value + jnp.sqrt(node_visit) * pb_c * prior / (n + 1)
        first = jnp.argmax(jnp.where(legal, score, -jnp.inf))
        bonus = jnp.where(jnp.arange(q.shape[-1]) == first, TIE_BONUS, 0.0)
        return jnp.where(legal, value + bonus, -jnp.inf)

    return qtransform


@functools.cache
def mctx():
    """The mctx module (imported lazily: an optional oracle)."""
    import mctx as _mctx

    return _mctx


def _search_batch(states, noise, config):
    game = config.game
    priors, value = table_evaluator(states, game)
    w = jnp.float32(config.noise_weight)
    mixed = (1.0 - w) * priors + w * noise
    legal = _legal(states)
    root = mctx().RootFnOutput(prior_logits=jnp.log(mixed), value=value, embedding=states)
    out = mctx().muzero_policy(
        params=None, rng_key=jax.random.key(0), root=root, recurrent_fn=_recurrent_fn(game),
        num_simulations=config.num_reads, invalid_actions=~legal,
        qtransform=_qtransform(jnp.float32(config.c_puct)), dirichlet_fraction=0.0,
        pb_c_init=config.c_puct, pb_c_base=PB_C_BASE)
    summary = out.search_tree.summary()
    tv, done = game_jax.terminal_value(states, game)
    d = done[:, None]
    return {"visits": jnp.where(d, 0, summary.visit_counts.astype(jnp.int32)),
            "q": jnp.where(d, 0.0, jnp.where(summary.visit_counts > 0, summary.qvalues, 0.0)),
            "value": jnp.where(done, tv, summary.value)}


# as search/jax_ref.py: the oracle for the checks compiles at XLA's lowest backend optimisation (compile time
# dominates a check); the benchmark uses ``search_optimized`` (default options), the same bits.
_search = jax.jit(_search_batch, static_argnums=2, compiler_options=FAST_COMPILE)
_search_optimized = jax.jit(_search_batch, static_argnums=2)


def search(states, noise, config, optimized=False):
    """Root statistics of ``mctx.muzero_policy`` on the clique game (profile ``classic``):
    {"visits" int32 (B, E), "q" float32 (B, E), "value" float32 (B,)}; same contract as ``mcts.search``."""
    check_expressible(config)
    states = {k: jnp.asarray(np.asarray(states[k]), jnp.int32) for k in STATE_KEYS}
    noise = jnp.asarray(np.asarray(noise), jnp.float32)
    if noise.shape != states["colours"].shape or states["colours"].shape[-1] != config.num_edges:
        raise ValueError(f"mctx_oracle.search: noise must have shape {tuple(states['colours'].shape)} "
                         f"(E={config.num_edges}), got noise.shape={tuple(noise.shape)}")
    return (_search_optimized if optimized else _search)(states, noise, config)


def search_optimized(states, noise, config):
    """``search`` compiled with XLA's default optimisation (the benchmark)."""
    return search(states, noise, config, optimized=True)
