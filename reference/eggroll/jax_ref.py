"""EGGROLL, JAX (+ optax) reference: the official semantics (the contract, equations and layouts: spec.py).

Keys are accepted as typed keys or uint32 key data (..., 2) and returned as uint32 key data, so the
three references exchange the same arrays. Everything is jitted at module level with shapes and ranks
static (group size G and noise reuse R are traced: one compile serves every G and R); float32 throughout.
The epoch is one jitted program per static config (population, rank, sigma, roles, optimiser).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import optax

from harness.tap import tap
from reference.eggroll.config import static_key, trainable_role, validate_config, validate_optimizer
from reference.eggroll.spec import FITNESS_EPS, _tap_noise


def _key(k):
    """Typed key from a typed key or uint32 key data (..., 2)."""
    if jnp.issubdtype(k.dtype, jax.dtypes.prng_key):
        return k
    return jax.random.wrap_key_data(jnp.asarray(k).astype(jnp.uint32))


# ---------------------------------------------------------------------------------------------- noise


def noise_epoch(epoch, noise_reuse):
    """tau(t) = 0 if R == 0 else t // R   (R = 0: one fixed noise set for every epoch)."""
    epoch = jnp.asarray(epoch, jnp.int32)
    noise_reuse = jnp.asarray(noise_reuse, jnp.int32)
    return jnp.where(noise_reuse == 0, 0, epoch // jnp.maximum(noise_reuse, 1)).astype(jnp.int32)


@functools.partial(jax.jit, static_argnums=0)
def pair_index_sign(population):
    """Thread-id alternation: k_i = i // 2, s_i = +1 (i even) / -1 (i odd); pairs (2k, 2k+1) interleaved."""
    i = jnp.arange(population, dtype=jnp.int32)
    return i // 2, jnp.where(i % 2 == 0, 1.0, -1.0).astype(jnp.float32)


@functools.partial(jax.jit, static_argnums=1)
def _member_keys(es_key, num_params, tau, pair_index):
    base = jax.random.split(_key(es_key), num_params)  # (P,) in pytree order
    epoch_keys = jax.vmap(lambda k: jax.random.fold_in(k, tau))(base)
    per = jax.vmap(lambda ek: jax.vmap(lambda i: jax.random.fold_in(ek, i))(pair_index))(epoch_keys)
    return jax.random.key_data(per)  # (P, N, 2) uint32


# Compile-time economy. Every program holding Threefry / erf_inv takes seconds to compile on XLA:CPU, so
# the public components below draw through a few programs shared across shapes: key counts are padded to
# a bucket (the extra rows are discarded) and draws are made at a bucketed length and cut -- both exact,
# because the stream's counter is the flat index: split(k, n)[i] and normal(k, (L,))[:m] do not depend on
# n or L (partitionable Threefry, spec rng.md). The epoch keeps the literal jax.random calls inside its jit.


def _bucket(n, minimum):
    return max(minimum, 1 << (int(n) - 1).bit_length())


def _data(keys):
    keys = jnp.asarray(keys) if not hasattr(keys, "dtype") else keys
    if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(keys)
    return keys.astype(jnp.uint32)


def _pad_rows(x, rows):
    return x if x.shape[0] == rows else jnp.concatenate([x, jnp.zeros((rows - x.shape[0],) + x.shape[1:], x.dtype)])


@functools.partial(jax.jit, static_argnums=1)
def _split_data(key, num):
    return jax.random.key_data(jax.random.split(_key(key), num))


@jax.jit
def _fold_in_rows(keys, data):
    return jax.random.key_data(jax.vmap(jax.random.fold_in)(_key(keys), data))


@functools.partial(jax.jit, static_argnums=1)
def _normal_rows(keys, length):
    return jax.vmap(lambda k: jax.random.normal(k, (length,), jnp.float32))(_key(keys))


def _fold_in(keys, data):
    """fold_in(keys[i], data[i]) for (K, 2) key data, through the bucketed program."""
    k = keys.shape[0]
    kb = _bucket(k, 8)
    return _fold_in_rows(_pad_rows(keys, kb), _pad_rows(jnp.asarray(data, jnp.uint32), kb))[:k]


def _draw(keys, n):
    """normal(keys[i], (n,)) float32 for (K, 2) key data -> (K, n), through the bucketed program."""
    k = keys.shape[0]
    return _normal_rows(_pad_rows(_data(keys), _bucket(k, 8)), _bucket(n, 32))[:k, :n]


def member_keys(es_key, num_params, tau, pair_index):
    """key[p, i] = fold_in(fold_in(split(es_key, P)[p], tau), k_i)  -> (P, N, 2) uint32 key data."""
    p = int(num_params)
    k = jnp.asarray(pair_index).astype(jnp.uint32)
    n = k.shape[0]
    base = _split_data(_data(es_key), _bucket(p, 8))[:p]  # split(key, P)[p] for p < P
    epoch_keys = _fold_in(base, jnp.full((p,), jnp.asarray(tau, jnp.uint32)))
    return _fold_in(jnp.repeat(epoch_keys, n, axis=0), jnp.tile(k, p)).reshape(p, n, 2)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _lowrank_from_z(z, signs, shape, rank, sigma):
    a, b = shape
    z = z.reshape(z.shape[0], a + b, rank)
    scale = sigma * signs.astype(jnp.float32) / jnp.float32(math.sqrt(rank))
    return z[:, b:, :] * scale[:, None, None], z[:, :b, :]


def lowrank_noise(keys, signs, shape, rank, sigma):
    """Z_i = normal(key_i, (a + b, r)); B_i = Z_i[:b]; A_i = (sigma s_i / sqrt(r)) Z_i[b:].  -> (A, B)."""
    a, b = (int(d) for d in shape)
    z = _draw(_data(keys), (a + b) * int(rank))
    return _lowrank_from_z(z, jnp.asarray(signs), (a, b), int(rank), jnp.float32(sigma))


@functools.partial(jax.jit, static_argnums=2)
def _fullrank_from_z(z, signs, shape, sigma):
    eps = z.reshape((z.shape[0],) + shape)
    return eps * (sigma * signs.astype(jnp.float32)).reshape((-1,) + (1,) * len(shape))


def fullrank_noise(keys, signs, shape, sigma):
    """E_i = sigma s_i eps_i, eps_i = normal(key_i, shape) (no 1/sqrt(r))."""
    shape = tuple(int(d) for d in shape)
    return _fullrank_from_z(_draw(_data(keys), math.prod(shape)), jnp.asarray(signs), shape, jnp.float32(sigma))


# -------------------------------------------------------------------------------------------- forward


def _expand(xv, u):
    """(x_i V_i) U_i^T from xv = (x_i V_i) (N, M, r) and U (N, d, r) -> (N, M, d). Rank 1: one multiply per
    entry, (N, M, 1) * (N, 1, d), the same numbers as the k = 1 dot, which XLA:CPU runs as N tiny batched
    dots (measured at d 1024, N 256, M 1, one CPU: forward 0.88 -> 0.94 of plain inference, paired)."""
    if u.shape[-1] == 1:
        return xv * jnp.swapaxes(u, 1, 2)
    return jnp.einsum("nmr,nir->nmi", xv, u)


@jax.jit
def forward(x, w, a, b):
    """y_i = x_i W^T + (x_i B_i) A_i^T   (A scaled; A_i B_i^T is never formed).  x (N, M, b) -> (N, M, a)."""
    return jnp.einsum("nmj,ij->nmi", x, w) + _expand(jnp.einsum("nmj,njr->nmr", x, b), a)


@jax.jit
def forward_xw(x, w, a, b):
    """For W used as x W, W (in, out) = (a, b):  y_i = x_i W + (x_i A_i) B_i^T.  x (N, M, a) -> (N, M, b)."""
    return jnp.einsum("nmi,ij->nmj", x, w) + _expand(jnp.einsum("nmi,nir->nmr", x, a), b)


# -------------------------------------------------------------------------------------------- fitness


def _shape_fitness(f, group_size):
    """Traceable in ``group_size`` (one compile per N serves every G): the block mean is a segment mean
    over blocks i // G (G = 0: one block of N)."""
    n = f.shape[0]
    denom = jnp.sqrt(jnp.var(f) + FITNESS_EPS)
    g = jnp.asarray(group_size, jnp.int32)
    seg = jnp.arange(n, dtype=jnp.int32) // jnp.where(g == 0, n, g)
    sums = jax.ops.segment_sum(f, seg, num_segments=n)
    counts = jax.ops.segment_sum(jnp.ones_like(f), seg, num_segments=n)
    return (f - sums[seg] / counts[seg]) / denom


_shape_fitness_jit = jax.jit(_shape_fitness)


def shape_fitness(fitness, group_size):
    """G = 0: f = (F - mean F) / sqrt(var F + 1e-5); G > 0: F_i minus the mean of its block of G
    consecutive members, over the GLOBAL std (ddof 0, eps inside the sqrt)."""
    return _shape_fitness_jit(jnp.asarray(fitness, jnp.float32), jnp.int32(group_size))


# --------------------------------------------------------------------------------------------- update


@jax.jit
def lowrank_update(shaped, a, b):
    """g_W = -sqrt(N) einsum('nir,njr->ij', f[:, None, None] * A, B) / N."""
    n = shaped.shape[0]
    return -jnp.float32(math.sqrt(n)) * jnp.einsum("nir,njr->ij", shaped[:, None, None] * a, b) / n


@jax.jit
def fullrank_update(shaped, e):
    """g_P = -(1/sqrt(N)) sum_i f_i E_i."""
    n = shaped.shape[0]
    return -jnp.tensordot(shaped, e, axes=(0, 0)) / jnp.float32(math.sqrt(n))


# ------------------------------------------------------------------------------------------ optimiser


def _make_optimizer(opt) -> optax.GradientTransformation:
    """optax transformation with every hyper-parameter explicit (never optax's defaults)."""
    opt = validate_optimizer(opt)
    if opt["name"] == "sgd":
        return optax.sgd(opt["lr"], momentum=opt["momentum"] or None, nesterov=opt["nesterov"])
    if opt["name"] == "adam":
        return optax.adam(opt["lr"], b1=opt["b1"], b2=opt["b2"], eps=opt["eps"], eps_root=0.0)
    return optax.adamw(opt["lr"], b1=opt["b1"], b2=opt["b2"], eps=opt["eps"], eps_root=0.0,
                       weight_decay=opt["weight_decay"])


def optimizer_init(params, opt):
    """Optimiser state for ``params`` (dict): the optax state of ``_make_optimizer(opt)``."""
    return _make_optimizer(opt).init({k: jnp.asarray(v, jnp.float32) for k, v in params.items()})


@functools.cache
def _step_fn(opt_key):
    import json

    tx = _make_optimizer(json.loads(opt_key))

    @jax.jit
    def step(params, grads, state):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def optimizer_step(params, grads, state, opt):
    """One minimisation step (optax): updates, state = tx.update(g, state, params); params += updates."""
    params = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    grads = {k: jnp.asarray(grads[k], jnp.float32) for k in params}
    return _step_fn(static_key(validate_optimizer(opt)))(params, grads, state)


# ------------------------------------------------------------------------------------------ the epoch


def _linear(x, w, noise):
    if noise is None:
        return jnp.einsum("nmj,ij->nmi", x, w)
    if len(noise) == 2:
        return forward(x, w, *noise)
    return jnp.einsum("nmj,nij->nmi", x, w[None] + noise[0])


def _bias(b, noise):
    return b[None, None, :] if noise is None else (b[None] + noise[0])[:, None, :]


@jax.jit
def _mlp_fitness(params, noise, data):
    """F_i = -mean((out_scale * (W2 tanh(W1 x + b1) + b2) - y)^2) for member i's perturbed weights."""
    x, y = data["x"], data["y"]
    n = jax.tree_util.tree_leaves(noise)[0].shape[0]
    h = jnp.broadcast_to(x, (n,) + x.shape)
    h = jnp.tanh(_linear(h, params["w1"], noise.get("w1")) + _bias(params["b1"], noise.get("b1")))
    out = (_linear(h, params["w2"], noise.get("w2")) + _bias(params["b2"], noise.get("b2"))) * params["out_scale"]
    return -jnp.mean((out - y) ** 2, axis=(1, 2))


def _all_noise(keys, signs, shapes, cfg, member_pair):
    """Every parameter's noise from ONE vmapped normal draw of the longest length L, per PAIR: ``keys``
    (P, N/2, 2) are the pair keys and member i takes its pair's draw ``member_pair[i]`` (antithetic partners
    share a key, so this is the same as drawing per member, at half the Threefry / erf_inv work).

    The counter of JAX's (partitionable) stream is the flat index, so normal(key, (L,))[:n] reshaped is
    bit-identical to normal(key, shape) with prod(shape) = n (spec rng.md). Same values as calling
    lowrank_noise / fullrank_noise per parameter, but one Threefry + erf_inv in the program instead of one
    per parameter (XLA:CPU compile time grows with each copy)."""
    names = sorted(shapes)
    r, sigma = cfg["rank"], jnp.float32(cfg["sigma"])
    size = {}
    for name in names:
        role = trainable_role(cfg, name)
        if role == "lowrank":
            size[name] = (shapes[name][0] + shapes[name][1]) * r
        elif role == "fullrank":
            size[name] = math.prod(shapes[name])
    if not size:
        return {}
    rows = [names.index(n) for n in size]
    length = max(size.values())
    z_all = jax.vmap(jax.vmap(lambda kk: jax.random.normal(kk, (length,), jnp.float32)))(
        _key(keys[jnp.asarray(rows)]))[:, member_pair]  # (P', N/2, L) -> (P', N, L)
    n = signs.shape[0]
    noise = {}
    for i, name in enumerate(size):
        z = z_all[i, :, :size[name]]
        if len(shapes[name]) == 2 and trainable_role(cfg, name) == "lowrank":
            a, b = shapes[name]
            z = z.reshape(n, a + b, r)
            scale = sigma * signs.astype(jnp.float32) / jnp.float32(math.sqrt(r))
            noise[name] = (z[:, b:, :] * scale[:, None, None], z[:, :b, :])
        else:
            e = z.reshape((n,) + shapes[name])
            noise[name] = (e * (sigma * signs.astype(jnp.float32)).reshape((-1,) + (1,) * len(shapes[name])),)
    return noise


@functools.cache
def _epoch_fn(cfg_key):
    import json

    cfg = json.loads(cfg_key)
    tx = _make_optimizer(cfg["optimizer"])

    @jax.jit
    def run(params, opt_state, es_key, t, noise_reuse, group_size, data):
        names = sorted(params)
        tau = noise_epoch(t, noise_reuse)
        k, s = pair_index_sign(cfg["population"])  # k_i = i // 2 in [0, N/2)
        pairs = jnp.arange(cfg["population"] // 2, dtype=jnp.uint32)
        keys = _member_keys(es_key, len(names), tau.astype(jnp.uint32), pairs)  # (P, N/2, 2)
        noise = _all_noise(keys, s, {n: tuple(params[n].shape) for n in names}, cfg, k)
        fit = _mlp_fitness(params, noise, data)
        f = _shape_fitness(fit, group_size)
        grads = {name: lowrank_update(f, *nz) if len(nz) == 2 else fullrank_update(f, nz[0])
                 for name, nz in noise.items()}
        trainable = {name: params[name] for name in grads}
        updates, opt_state = tx.update(grads, opt_state, trainable)
        new = dict(params)
        new.update(optax.apply_updates(trainable, updates))
        return new, opt_state, fit

    return run


def epoch(params, opt_state, es_key, epoch, data, config):
    """One EGGROLL epoch on the small MLP (see np_ref.epoch). ``opt_state`` None starts a fresh optax state.
    Returns (params, opt_state, fitness (N,))."""
    cfg = validate_config(config)
    params = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    if opt_state is None:
        trainable = {n: params[n] for n in sorted(params) if trainable_role(cfg, n) != "excluded"}
        opt_state = optimizer_init(trainable, cfg["optimizer"])
    static = dict(cfg, noise_reuse=0, group_size=0)  # R and G are traced: one compile serves every R and G
    data = {"x": jnp.asarray(data["x"], jnp.float32), "y": jnp.asarray(data["y"], jnp.float32)}
    return _epoch_fn(static_key(static))(params, opt_state, jnp.asarray(es_key), jnp.int32(epoch),
                                         jnp.int32(cfg["noise_reuse"]), jnp.int32(cfg["group_size"]), data)


@functools.cache
def _step_noise_fn(cfg_key):
    """The noise of one epoch, jitted per static config (R traced), with its taps inside the program."""
    import json

    cfg = json.loads(cfg_key)

    @functools.partial(jax.jit, static_argnums=1)
    def noise_of(es_key, shapes, t, noise_reuse):
        names = [n for n, _ in shapes]
        tau = noise_epoch(t, noise_reuse)
        k, s = pair_index_sign(cfg["population"])
        pairs = jnp.arange(cfg["population"] // 2, dtype=jnp.uint32)
        keys = _member_keys(es_key, len(names), tau.astype(jnp.uint32), pairs)  # (P, N/2, 2)
        tap("eggroll.keys.member", keys[:, k])
        noise = _all_noise(keys, s, dict(shapes), cfg, k)
        _tap_noise(noise)  # framework-free: the same tap lines as np_ref / torch_ref
        tap("eggroll.sigma.signed", jnp.float32(cfg["sigma"]) * s)
        return noise

    return noise_of


@jax.jit
def _member_params(params, noise):
    """Every member's perturbed parameters (N, ...): W + A_i B_i^T, P + E_i, P (broadcast)."""
    n = jax.tree_util.tree_leaves(noise)[0].shape[0]
    out = {}
    for name, value in params.items():
        nz = noise.get(name)
        if nz is None:
            out[name] = jnp.broadcast_to(value, (n,) + value.shape)
        elif len(nz) == 2:
            out[name] = value[None] + jnp.einsum("nir,njr->nij", nz[0], nz[1])
        else:
            out[name] = value[None] + nz[0]
    return out


@jax.jit
def _step_update(fit, noise, group_size):
    f = tap("eggroll.fitness.shaped", _shape_fitness(fit, group_size))
    return tap("eggroll.grad", {name: lowrank_update(f, *nz) if len(nz) == 2 else fullrank_update(f, nz[0])
                                for name, nz in noise.items()})


def step(params, apply_fn, fitness_fn, es_key, epoch, config, opt_state=None):
    """One EGGROLL epoch on the CALLER's model (see np_ref.step): F_i = fitness_fn(apply_fn(member i's
    parameters)), vmapped over the members (apply_fn / fitness_fn must be JAX-traceable); the same noise as
    ``epoch``. The noise program and the update are jitted (their taps staged inside: harness.tap).
    Returns (params, opt_state, fitness (N,)); the same taps as np_ref.step."""
    cfg = validate_config(config)
    names = sorted(params)
    params = {k: jnp.asarray(params[k], jnp.float32) for k in names}
    # the noise program depends on neither R, G (traced) nor the optimiser: one compile serves them all
    static = {k: v for k, v in cfg.items() if k not in ("noise_reuse", "group_size", "optimizer")}
    shapes = tuple((n, tuple(params[n].shape)) for n in names)
    noise = _step_noise_fn(static_key(static))(jnp.asarray(es_key), shapes, jnp.int32(epoch),
                                               jnp.int32(cfg["noise_reuse"]))
    members = _member_params(params, noise)
    fit = tap("eggroll.fitness.raw", jax.vmap(lambda p: jnp.reshape(fitness_fn(apply_fn(p)), ()))(members))
    grads = _step_update(fit.astype(jnp.float32), noise, jnp.int32(cfg["group_size"]))
    trainable = {name: params[name] for name in grads}
    if opt_state is None:
        opt_state = optimizer_init(trainable, cfg["optimizer"])
    new, opt_state = optimizer_step(trainable, grads, opt_state, cfg["optimizer"])
    out = dict(params)
    out.update(new)
    return tap("eggroll.params", out), opt_state, fit

