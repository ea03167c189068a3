"""EGGROLL, NumPy float64 oracle: the equations of spec/eggroll.md, written plainly (contract and layouts: spec.py).

Noise is JAX's own stream (Threefry-2x32 keys, float32 normals, via ``reference.rng.np_ref``), drawn in
float32 exactly as JAX draws it and cast to float64 afterwards; everything else is float64.
"""

from __future__ import annotations

import math

import numpy as np

from harness.tap import tap
from reference.eggroll import _rng
from reference.eggroll.config import trainable_role, validate_config
from reference.eggroll.spec import FITNESS_EPS, _member_params, _tap_noise

F64 = np.float64


# ---------------------------------------------------------------------------------------------- noise


def noise_epoch(epoch, noise_reuse):
    """tau(t) = 0 if R == 0 else t // R   (R = 0: one fixed noise set for every epoch)."""
    epoch, noise_reuse = int(epoch), int(noise_reuse)
    return np.int32(0 if noise_reuse == 0 else epoch // noise_reuse)


def pair_index_sign(population):
    """Thread-id alternation: k_i = i // 2, s_i = +1 (i even) / -1 (i odd); pairs (2k, 2k+1) interleaved."""
    i = np.arange(int(population))
    return (i // 2).astype(np.int32), np.where(i % 2 == 0, 1.0, -1.0).astype(F64)


def member_keys(es_key, num_params, tau, pair_index):
    """key[p, i] = fold_in(fold_in(split(es_key, P)[p], tau), k_i)  -> (P, N, 2) uint32 key data."""
    base = _rng.np_split(np.asarray(es_key, np.uint32), int(num_params))  # (P, 2)
    epoch_keys = _rng.np_fold_in(base, np.int64(tau))  # (P, 2)
    k = np.asarray(pair_index).astype(np.int64)
    return _rng.np_fold_in(epoch_keys[:, None, :], k[None, :])  # (P, N, 2)


def lowrank_noise(keys, signs, shape, rank, sigma):
    """Z_i = normal(key_i, (a + b, r)) in float32; B_i = Z_i[:b]; A_i = (sigma s_i / sqrt(r)) Z_i[b:].

    Returns (A (N, a, r), B (N, b, r)) in float64.
    """
    a, b = (int(d) for d in shape)
    z = _rng.np_normal(keys, (a + b, int(rank))).astype(F64)  # (N, a + b, r)
    scale = float(sigma) * np.asarray(signs, F64) / math.sqrt(int(rank))
    return z[:, b:, :] * scale[:, None, None], z[:, :b, :]


def fullrank_noise(keys, signs, shape, sigma):
    """E_i = sigma s_i eps_i, eps_i = normal(key_i, shape) in float32 (no 1/sqrt(r))."""
    shape = tuple(int(d) for d in shape)
    eps = _rng.np_normal(keys, shape).astype(F64)
    scale = float(sigma) * np.asarray(signs, F64)
    return eps * scale.reshape((-1,) + (1,) * len(shape))


# -------------------------------------------------------------------------------------------- forward


def forward(x, w, a, b):
    """y_i = x_i W^T + (x_i B_i) A_i^T   (A scaled; A_i B_i^T is never formed).  x (N, M, b) -> (N, M, a)."""
    x, w, a, b = (np.asarray(t, F64) for t in (x, w, a, b))
    return np.einsum("nmj,ij->nmi", x, w) + np.einsum("nmr,nir->nmi", np.einsum("nmj,njr->nmr", x, b), a)


def forward_xw(x, w, a, b):
    """For W used as x W, W (in, out) = (a, b):  y_i = x_i W + (x_i A_i) B_i^T.  x (N, M, a) -> (N, M, b)."""
    x, w, a, b = (np.asarray(t, F64) for t in (x, w, a, b))
    return np.einsum("nmi,ij->nmj", x, w) + np.einsum("nmr,njr->nmj", np.einsum("nmi,nir->nmr", x, a), b)


# -------------------------------------------------------------------------------------------- fitness


def shape_fitness(fitness, group_size):
    """G = 0: f = (F - mean F) / sqrt(var F + 1e-5); G > 0: F_i minus the mean of its block of G
    consecutive members, over the GLOBAL std.  var is the population variance (ddof 0), eps inside the sqrt.
    """
    f = np.asarray(fitness, F64)
    g = int(group_size)
    denom = np.sqrt(np.var(f) + FITNESS_EPS)
    if g == 0:
        centred = f - np.mean(f)
    else:
        blocks = f.reshape(-1, g)
        centred = (blocks - blocks.mean(axis=1, keepdims=True)).reshape(-1)
    return centred / denom


# --------------------------------------------------------------------------------------------- update


def lowrank_update(shaped, a, b):
    """g_W = -sqrt(N) einsum('nir,njr->ij', f[:, None, None] * A, B) / N = -(sigma/sqrt(rN)) sum f_i s_i A_i B_i^T."""
    f, a, b = (np.asarray(t, F64) for t in (shaped, a, b))
    n = f.shape[0]
    return -math.sqrt(n) * np.einsum("nir,njr->ij", f[:, None, None] * a, b) / n


def fullrank_update(shaped, e):
    """g_P = -(1/sqrt(N)) sum_i f_i E_i = -(sigma/sqrt(N)) sum_i f_i s_i eps_i."""
    f, e = np.asarray(shaped, F64), np.asarray(e, F64)
    n = f.shape[0]
    return -np.tensordot(f, e, axes=(0, 0)) / math.sqrt(n)


# ------------------------------------------------------------------------------------------ optimiser


def optimizer_init(params, opt):
    """Optimiser state for ``params`` (dict): step count and zero moments."""
    zeros = {k: np.zeros(np.shape(v), F64) for k, v in params.items()}
    return {"count": 0, "m": zeros, "v": {k: z.copy() for k, z in zeros.items()}}


def optimizer_step(params, grads, state, opt):
    """One minimisation step.  sgd: buf = mu buf + g (buf_1 = g), d = g + mu buf if nesterov else buf,
    p -= lr d.  adam: m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, p -= lr m^/(sqrt(v^) + eps) with
    m^ = m/(1-b1^t), v^ = v/(1-b2^t).  adamw: additionally p -= lr wd p (decoupled, on the old p).
    Returns (params, state).
    """
    t = state["count"] + 1
    new_p, new_m, new_v = {}, {}, {}
    for k in sorted(params):
        p, g = np.asarray(params[k], F64), np.asarray(grads[k], F64)
        m, v = state["m"][k], state["v"][k]
        if opt["name"] == "sgd":
            mu = opt["momentum"]
            m = g.copy() if t == 1 else mu * m + g
            d = g + mu * m if opt["nesterov"] else m
            p = p - opt["lr"] * d
        else:
            m = opt["b1"] * m + (1 - opt["b1"]) * g
            v = opt["b2"] * v + (1 - opt["b2"]) * g * g
            mhat = m / (1 - opt["b1"] ** t)
            vhat = v / (1 - opt["b2"] ** t)
            u = mhat / (np.sqrt(vhat) + opt["eps"])
            if opt["name"] == "adamw":
                u = u + opt["weight_decay"] * p
            p = p - opt["lr"] * u
        new_p[k], new_m[k], new_v[k] = p, m, v
    return new_p, {"count": t, "m": new_m, "v": new_v}


# ------------------------------------------------------------------------------------------ the epoch


def _linear(x, w, noise):
    """x W^T for every member, W perturbed by its noise (low rank (A, B), full rank E, or none)."""
    if noise is None:
        return np.einsum("nmj,ij->nmi", x, w)
    if len(noise) == 2:
        return forward(x, w, *noise)
    return np.einsum("nmj,nij->nmi", x, w[None] + noise[0])


def _bias(b, noise):
    return b[None, None, :] if noise is None else (b[None] + noise[0])[:, None, :]


def _mlp_fitness(params, noise, data):
    """F_i = -mean((out_scale * (W2 tanh(W1 x + b1) + b2) - y)^2) for member i's perturbed weights.

    params: w1 (H, D), b1 (H,), w2 (O, H), b2 (O,), out_scale (O,); noise: name -> (A, B) | (E,) | absent.
    """
    p = {k: np.asarray(v, F64) for k, v in params.items()}
    x, y = np.asarray(data["x"], F64), np.asarray(data["y"], F64)
    n = next(iter(noise.values()))[0].shape[0]
    h = np.broadcast_to(x, (n,) + x.shape)
    h = np.tanh(_linear(h, p["w1"], noise.get("w1")) + _bias(p["b1"], noise.get("b1")))
    out = (_linear(h, p["w2"], noise.get("w2")) + _bias(p["b2"], noise.get("b2"))) * p["out_scale"]
    return -np.mean((out - y) ** 2, axis=(1, 2))


def _epoch_noise(params, es_key, epoch, cfg):
    """(member keys (P, N, 2), signs (N,), noise name -> (A, B) | (E,)) of epoch ``epoch``."""
    names = sorted(params)
    tau = noise_epoch(epoch, cfg["noise_reuse"])
    k, s = pair_index_sign(cfg["population"])
    keys = member_keys(es_key, len(names), tau, k)
    noise = {}
    for j, name in enumerate(names):
        role = trainable_role(cfg, name)
        if role == "lowrank":
            noise[name] = lowrank_noise(keys[j], s, np.shape(params[name]), cfg["rank"], cfg["sigma"])
        elif role == "fullrank":
            noise[name] = (fullrank_noise(keys[j], s, np.shape(params[name]), cfg["sigma"]),)
    return keys, s, noise


def epoch(params, opt_state, es_key, epoch, data, config):
    """One EGGROLL epoch on the small MLP: noise for epoch ``epoch`` -> population fitness -> shaped f ->
    ES gradient per parameter (by role) -> one optimiser step on the trainable parameters.

    ``opt_state`` None starts a fresh optimiser. Returns (params, opt_state, fitness (N,)).
    """
    cfg = validate_config(config)
    names = sorted(params)
    _, s, noise = _epoch_noise(params, es_key, epoch, cfg)
    fit = _mlp_fitness(params, noise, data)
    f = shape_fitness(fit, cfg["group_size"])
    grads = {name: lowrank_update(f, *nz) if len(nz) == 2 else fullrank_update(f, nz[0])
             for name, nz in noise.items()}
    trainable = {name: np.asarray(params[name], F64) for name in grads}
    if opt_state is None:
        opt_state = optimizer_init(trainable, cfg["optimizer"])
    new, opt_state = optimizer_step(trainable, grads, opt_state, cfg["optimizer"])
    out = {name: np.asarray(params[name], F64) for name in names}
    out.update(new)
    return out, opt_state, fit


def step(params, apply_fn, fitness_fn, es_key, epoch, config, opt_state=None):
    """One EGGROLL epoch on the CALLER's model: F_i = fitness_fn(apply_fn(member i's parameters)), where
    member i's parameters are W + A_i B_i^T (low rank), P + E_i (full rank), P (excluded), with the noise of
    epoch ``epoch`` from (es_key, tau, pair index) exactly as ``epoch`` draws it; then shaped fitness, ES
    gradient per parameter and one optimiser step. ``opt_state`` None starts a fresh optimiser.
    Returns (params, opt_state, fitness (N,)). Taps: eggroll.keys.member (P, N, 2), eggroll.noise.A / .B / .E,
    eggroll.sigma.signed (N,), eggroll.fitness.raw / .shaped (N,), eggroll.grad, eggroll.params."""
    cfg = validate_config(config)
    names = sorted(params)
    params = {k: np.asarray(params[k], F64) for k in names}
    keys, s, noise = _epoch_noise(params, es_key, epoch, cfg)
    tap("eggroll.keys.member", keys)
    _tap_noise(noise)
    tap("eggroll.sigma.signed", cfg["sigma"] * s)
    fit = tap("eggroll.fitness.raw", np.array([float(np.asarray(fitness_fn(apply_fn(_member_params(params, noise, i)))))
                                               for i in range(cfg["population"])], F64))
    f = tap("eggroll.fitness.shaped", shape_fitness(fit, cfg["group_size"]))
    grads = tap("eggroll.grad", {name: lowrank_update(f, *nz) if len(nz) == 2 else fullrank_update(f, nz[0])
                                 for name, nz in noise.items()})
    trainable = {name: params[name] for name in grads}
    if opt_state is None:
        opt_state = optimizer_init(trainable, cfg["optimizer"])
    new, opt_state = optimizer_step(trainable, grads, opt_state, cfg["optimizer"])
    out = dict(params)
    out.update(new)
    return tap("eggroll.params", out), opt_state, fit

