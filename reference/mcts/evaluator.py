"""Table evaluator: priors and value a pure function of the state, bit-identical in NumPy, JAX and torch.

Computed from integers only (a 32-bit hash of the board); priors and value are dyadic rationals, exact in
float32 (XLA's CPU float32 division is NOT correctly rounded -- measured 23% of w / S quotients off by an
ulp against NumPy -- so the priors use an integer division instead of a float one):

    h      = (sum_e colours[e] * M[e] + (to_play + 1) * M[E_MAX]) mod 2^32
    mix(x) = x ^= x >> 16; x = x * K mod 2^32; x ^= x >> 16; x = x * K mod 2^32; x ^= x >> 16   (K = 0x45d9f3b)
    w[a]   = 1 + (mix(h ^ A[a]) >> 8) mod 64                     integers in [1, 64]
    q[a]   = floor(w[a] 2^20 / sum_b w[b])                       (integer division; equal w -> equal q)
    prior  = float32(q[a]) * 2^-20                               over ALL E actions, all > 0, sum in (1 - E 2^-20, 1]
    value  = (float32((mix(h ^ V) >> 8) mod 255) - 127) * 2^-7  in [-127/128, 127/128], player to move

Integer sums, integer division and modular products are order-independent, so any reduction order gives the same bits. Products
stay below 2^63 (K < 2^27, M < 2^31), so torch computes them in int64; JAX in uint32 (x64 off).
``table_evaluator_np`` / ``_jax`` / ``_torch`` take a batched state dict (INTERFACE.md) and return
``(priors float32 (B, E), value float32 (B,))``; the numpy one also takes an unbatched state.
"""

from __future__ import annotations

import functools

import numpy as np

E_MAX = 66  # n <= 12
MASK32 = 0xFFFFFFFF
K_MIX = 0x45D9F3B


def _constants(count: int, seed: int) -> tuple[int, ...]:
    """Fixed odd constants < 2^31 from a 64-bit LCG (Knuth's MMIX multiplier)."""
    x, out = seed, []
    for _ in range(count):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append(((x >> 33) & 0x7FFFFFFF) | 1)
    return tuple(out)


TABLE_M = _constants(E_MAX + 1, seed=20261124)  # per-edge multipliers; TABLE_M[E_MAX] for the player to move
TABLE_A = _constants(E_MAX, seed=5)  # per-action salts
TABLE_V = 0x2545F491  # value salt
PRIOR_LEVELS = 64
VALUE_LEVELS = 255
PRIOR_BITS = 20  # priors are multiples of 2^-20 (w 2^20 <= 2^26 fits int32)


def _check_edges(e: int) -> None:
    if not 1 <= e <= E_MAX:
        raise ValueError(f"table_evaluator: E must be in [1, {E_MAX}], got E={e}")


# ---------------------------------------------------------------------------------------------- NumPy


def _mix_np(x):
    x = x & MASK32
    x = x ^ (x >> 16)
    x = (x * K_MIX) & MASK32
    x = x ^ (x >> 16)
    x = (x * K_MIX) & MASK32
    return x ^ (x >> 16)


def table_hash_np(state) -> np.ndarray:
    """uint64 (...): h = (sum_e colours[e] M[e] + (to_play + 1) M[E_MAX]) mod 2^32."""
    c = np.asarray(state["colours"]).astype(np.uint64)
    e = c.shape[-1]
    _check_edges(e)
    m = np.array(TABLE_M[:e], dtype=np.uint64)
    h = np.sum(c * m, axis=-1) + (np.asarray(state["to_play"]).astype(np.uint64) + 1) * np.uint64(TABLE_M[E_MAX])
    return h & np.uint64(MASK32)


def table_weights_np(state) -> tuple[np.ndarray, np.ndarray]:
    """(w int64 (..., E) in [1, 64], value level int64 (...) in [0, 254])."""
    h = table_hash_np(state)
    e = np.shape(state["colours"])[-1]
    a = np.array(TABLE_A[:e], dtype=np.uint64)
    w = 1 + (_mix_np(h[..., None] ^ a) >> np.uint64(8)) % np.uint64(PRIOR_LEVELS)
    lv = (_mix_np(h ^ np.uint64(TABLE_V)) >> np.uint64(8)) % np.uint64(VALUE_LEVELS)
    return w.astype(np.int64), lv.astype(np.int64)


def table_evaluator_np(state, game=None):
    """(priors float32 (..., E), value float32 (...)): see the module docstring."""
    w, lv = table_weights_np(state)
    q = (w << PRIOR_BITS) // np.sum(w, axis=-1, keepdims=True)
    priors = q.astype(np.float32) * np.float32(2.0 ** -PRIOR_BITS)
    value = (lv.astype(np.float32) - np.float32(127)) * np.float32(2.0 ** -7)
    return priors.astype(np.float32), np.asarray(value, dtype=np.float32)


# ---------------------------------------------------------------------------------------------- JAX


def _mix_jax(x):
    import jax.numpy as jnp

    k = jnp.uint32(K_MIX)
    x = x ^ (x >> 16)
    x = x * k
    x = x ^ (x >> 16)
    x = x * k
    return x ^ (x >> 16)


def table_evaluator_jax(state, game=None):
    """JAX (jit-able, traceable inside a search): same bits as ``table_evaluator_np``."""
    import jax.numpy as jnp

    c = jnp.asarray(state["colours"]).astype(jnp.uint32)
    e = c.shape[-1]
    _check_edges(e)
    m = jnp.asarray(np.array(TABLE_M[:e], dtype=np.uint32))
    tp = jnp.asarray(state["to_play"]).astype(jnp.uint32)
    h = jnp.sum(c * m, axis=-1, dtype=jnp.uint32) + (tp + jnp.uint32(1)) * jnp.uint32(TABLE_M[E_MAX])
    a = jnp.asarray(np.array(TABLE_A[:e], dtype=np.uint32))
    w = jnp.uint32(1) + (_mix_jax(h[..., None] ^ a) >> 8) % jnp.uint32(PRIOR_LEVELS)
    lv = (_mix_jax(h ^ jnp.uint32(TABLE_V)) >> 8) % jnp.uint32(VALUE_LEVELS)
    total = jnp.sum(w, axis=-1, keepdims=True, dtype=jnp.uint32)
    q = (w << PRIOR_BITS) // total
    priors = q.astype(jnp.float32) * jnp.float32(2.0 ** -PRIOR_BITS)
    value = (lv.astype(jnp.float32) - jnp.float32(127)) * jnp.float32(2.0 ** -7)
    return priors, value


# ---------------------------------------------------------------------------------------------- torch


def _mix_torch(x):
    x = x ^ (x >> 16)
    x = (x * K_MIX) & MASK32
    x = x ^ (x >> 16)
    x = (x * K_MIX) & MASK32
    return x ^ (x >> 16)


@functools.cache
def _torch_constants(e: int, device):
    """(M[:e], A[:e]) as int64 tensors, made once per (E, device): the search calls the evaluator per simulation."""
    import torch

    return (torch.tensor(TABLE_M[:e], dtype=torch.int64, device=device),
            torch.tensor(TABLE_A[:e], dtype=torch.int64, device=device))


def table_evaluator_torch(state, game=None):
    """torch: same bits as ``table_evaluator_np`` (int64 arithmetic masked to 32 bits)."""
    import torch

    c = torch.as_tensor(state["colours"]).to(torch.int64)
    e = c.shape[-1]
    _check_edges(e)
    m, a = _torch_constants(e, c.device)
    tp = torch.as_tensor(state["to_play"]).to(torch.int64)
    h = (torch.sum(c * m, dim=-1) + (tp + 1) * TABLE_M[E_MAX]) & MASK32
    w = 1 + (_mix_torch(h[..., None] ^ a) >> 8) % PRIOR_LEVELS
    lv = (_mix_torch(h ^ TABLE_V) >> 8) % VALUE_LEVELS
    q = torch.div(w << PRIOR_BITS, torch.sum(w, dim=-1, keepdim=True), rounding_mode="floor")
    priors = q.to(torch.float32) * (2.0 ** -PRIOR_BITS)
    value = (lv.to(torch.float32) - 127.0) * (2.0 ** -7)
    return priors, value


# ---------------------------------------------------------------------------------------------- network
# The policy-value network of reference/nets (same weights in every framework through its converters).
# Graph automorphisms give symmetric edges equal logits in exact arithmetic; float rounding turns them into
# last-bit near-ties that flip PUCT decisions between frameworks. So the raw outputs are quantised on a
# coarse dyadic grid (exact scalings, floor): symmetric outputs become exact ties again, identical bits in
# every framework, and only a raw output within NET_DELTA of a grid boundary can round differently -- the
# NumPy evaluator records the smallest such distance (a near-tie detector for the checks).
#     logits_q = floor(logits / 2^-6) 2^-6,   value_q = floor(value / 2^-7) 2^-7
#     priors = softmax(logits_q) over ALL E actions (the search masks), value = value_q; role = to_play

LOGIT_GRID = 2.0 ** -6
VALUE_GRID = 2.0 ** -7
NET_DELTA = 1e-6  # 10x the measured float32-vs-float64 error of the network outputs (<= 9e-8)


def _boundary_distance(x, grid):
    f = x / grid - np.floor(x / grid)
    return float(np.min(np.minimum(f, 1.0 - f)) * grid) if np.size(x) else np.inf


class NetworkEvaluatorNP:
    """Evaluator ``(state, game) -> (priors (B, E), value (B,))`` float64 from canonical net params; records
    ``min_boundary_distance``, the smallest distance of a raw output to its quantisation boundary."""

    def __init__(self, params):
        from reference.nets import np_ref as nets

        self._nets = nets
        self.params = params
        self.min_boundary_distance = np.inf

    def __call__(self, state, game=None):
        from reference.nets import encoding

        ei, ea = encoding.encode(np.asarray(state["colours"]))
        logits, value = self._nets.policy_value(self.params, ei, ea, np.asarray(state["to_play"]).reshape(-1))
        self.min_boundary_distance = min(self.min_boundary_distance, _boundary_distance(logits, LOGIT_GRID),
                                         _boundary_distance(value, VALUE_GRID))
        lq = np.floor(logits / LOGIT_GRID) * LOGIT_GRID
        vq = np.floor(value / VALUE_GRID) * VALUE_GRID
        p = np.exp(lq - lq.max(-1, keepdims=True))
        return p / p.sum(-1, keepdims=True), vq


def network_evaluator_jax(state, game, params):
    """JAX (traceable): (softmax(logits_q) (B, E), value_q (B,)) float32; ``params`` = flax variables."""
    import jax
    import jax.numpy as jnp

    from reference.mcts import game_jax
    from reference.nets import jax_ref as nets

    enc = game_jax.encode(state, game)
    logits, value = nets.policy_value(params, enc["edge_index"], enc["edge_attr"],
                                      jnp.asarray(state["to_play"]).reshape(-1))
    lq = jnp.floor(logits / LOGIT_GRID) * LOGIT_GRID
    vq = jnp.floor(value / VALUE_GRID) * VALUE_GRID
    return jax.nn.softmax(lq, axis=-1), vq


def network_evaluator_torch(state, game, params):
    """torch: (softmax(logits_q) (B, E), value_q (B,)) float32; ``params`` = a nets.torch_ref.PolicyValueNet."""
    import torch

    from reference.mcts import game_torch
    from reference.nets import torch_ref as nets

    enc = game_torch.encode(state, game)
    with torch.no_grad():
        logits, value = nets.policy_value(params, enc["edge_index"], enc["edge_attr"],
                                          torch.as_tensor(state["to_play"]).reshape(-1))
    lq = torch.floor(logits / LOGIT_GRID) * LOGIT_GRID
    vq = torch.floor(value / VALUE_GRID) * VALUE_GRID
    return torch.softmax(lq, dim=-1), vq
