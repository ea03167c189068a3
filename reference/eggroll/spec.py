"""EGGROLL: low-rank evolution strategies (spec eggroll.md), the contract of np_ref (float64 oracle), jax_ref
(optax) and torch_ref (torch.optim); the sharded runs are the sub-package ``sharded``.

Noise is JAX's own stream (Threefry-2x32 keys, float32 normals): every flavour draws it in float32 exactly
as JAX does. The config (population N, rank r, sigma, group size G, noise reuse R, roles, optimiser) is
validated once, in ``config.py``.

Layouts shared by the three references (np_ref / jax_ref / torch_ref):
    keys          uint32 key data (..., 2)          (torch: int32 holding the bits; JAX: key_data)
    pair_index k  (N,) int32, k_i = i // 2          sign s (N,) float, +1 for even i, -1 for odd i
    W             (a, b); for a torch Linear weight a = out, b = in
    A (scaled)    (N, a, r) = (sigma s_i / sqrt(r)) Z_i[b:]      B (N, b, r) = Z_i[:b]
    E (scaled)    (N, *shape) = sigma s_i eps_i      (full-rank parameters: no 1/sqrt(r))
    x             (N, M, b) for x W^T;  (N, M, a) for x W
    params        dict name -> array; canonical order = sorted names (JAX pytree order)
"""

from __future__ import annotations

from harness.tap import tap

AREA = "eggroll"

FITNESS_EPS = 1e-5  # inside the sqrt of the fitness shaping: (F - mean) / sqrt(var F + 1e-5)


def validate_config(config):
    """Normalised copy of the config, or ValueError naming the field (N even, G even | N, r >= 1, sigma > 0)."""
    ...


def noise_epoch(epoch, noise_reuse):
    """tau(t) = 0 if R == 0 else t // R   (R = 0: one fixed noise set for every epoch)."""
    ...


def pair_index_sign(population):
    """Thread-id alternation: k_i = i // 2, s_i = +1 (i even) / -1 (i odd); pairs (2k, 2k+1) interleaved."""
    ...


def member_keys(es_key, num_params, tau, pair_index):
    """key[p, i] = fold_in(fold_in(split(es_key, P)[p], tau), k_i)"""
    ...


def lowrank_noise(keys, signs, shape, rank, sigma):
    """Z_i = normal(key_i, (a + b, r))"""
    ...


def fullrank_noise(keys, signs, shape, sigma):
    """E_i = sigma s_i eps_i, eps_i = normal(key_i, shape)"""
    ...


def forward(x, w, a, b):
    """y_i = x_i W^T + (x_i B_i) A_i^T   (A scaled; A_i B_i^T is never formed).  x (N, M, b) -> (N, M, a)."""
    ...


def forward_xw(x, w, a, b):
    """For W used as x W, W (in, out) = (a, b):  y_i = x_i W + (x_i A_i) B_i^T.  x (N, M, a) -> (N, M, b)."""
    ...


def shape_fitness(fitness, group_size):
    """G = 0: f = (F - mean F) / sqrt(var F + 1e-5); G > 0: F_i minus the mean of its block of G"""
    ...


def lowrank_update(shaped, a, b):
    """g_W = -sqrt(N) einsum('nir,njr->ij', f[:, None, None] * A, B) / N"""
    ...


def fullrank_update(shaped, e):
    """g_P = -(1/sqrt(N)) sum_i f_i E_i"""
    ...


def optimizer_init(params, opt):
    """Optimiser state for ``params`` (dict)"""
    ...


def optimizer_step(params, grads, state, opt):
    """One minimisation step"""
    ...


def epoch(params, opt_state, es_key, epoch, data, config):
    """One EGGROLL epoch on the small MLP"""
    ...


def step(params, apply_fn, fitness_fn, es_key, epoch, config, opt_state=None):
    """One EGGROLL epoch on the CALLER's model"""
    ...


def _tap_noise(noise):
    """The noise taps of one epoch: A and B per low-rank parameter, E per full-rank one (dicts by name)."""
    low = {n: nz for n, nz in noise.items() if len(nz) == 2}
    if low:
        tap("eggroll.noise.A", {n: nz[0] for n, nz in low.items()})
        tap("eggroll.noise.B", {n: nz[1] for n, nz in low.items()})
    full = {n: nz[0] for n, nz in noise.items() if len(nz) == 1}
    if full:
        tap("eggroll.noise.E", full)


def _member_params(params, noise, i):
    """Member i's perturbed parameters: W + A_i B_i^T (low rank), P + E_i (full rank), P (excluded); NumPy
    arrays or torch tensors."""
    out = {}
    for name, value in params.items():
        nz = noise.get(name)
        if nz is None:
            out[name] = value
        elif len(nz) == 2:
            out[name] = value + nz[0][i] @ nz[1][i].T
        else:
            out[name] = value + nz[0][i]
    return out
