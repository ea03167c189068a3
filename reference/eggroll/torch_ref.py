"""EGGROLL, PyTorch (+ torch.optim) reference (the contract, equations and layouts: spec.py).

Draws JAX's own stream through ``reference.rng.torch_ref`` (Threefry-2x32 keys and float32 normals), so
given the same seed it follows the JAX reference's trajectory. Keys are int32 tensors (..., 2) holding
the uint32 bits. float32 throughout; optimisers are torch.optim with every hyper-parameter explicit.
Products are written with matmul / bmm rather than torch.einsum: on this CPU build einsum's per-call
overhead (path planning) was ~0.7 ms against ~10 us for the same small matmul.
"""

from __future__ import annotations

import math

import torch

from harness.tap import active as tap_active
from harness.tap import tap
from reference.eggroll import _rng
from reference.eggroll.config import trainable_role, validate_config, validate_optimizer
from reference.eggroll.spec import FITNESS_EPS, _member_params, _tap_noise

F32 = torch.float32


def _t(x, dtype=F32):
    return torch.as_tensor(x).to(dtype)


# ---------------------------------------------------------------------------------------------- noise


def noise_epoch(epoch, noise_reuse):
    """tau(t) = 0 if R == 0 else t // R   (R = 0: one fixed noise set for every epoch)."""
    epoch, noise_reuse = int(epoch), int(noise_reuse)
    return torch.tensor(0 if noise_reuse == 0 else epoch // noise_reuse, dtype=torch.int32)


def pair_index_sign(population):
    """Thread-id alternation: k_i = i // 2, s_i = +1 (i even) / -1 (i odd); pairs (2k, 2k+1) interleaved."""
    i = torch.arange(int(population), dtype=torch.int32)
    return i // 2, torch.where(i % 2 == 0, 1.0, -1.0).to(F32)


def member_keys(es_key, num_params, tau, pair_index):
    """key[p, i] = fold_in(fold_in(split(es_key, P)[p], tau), k_i)  -> (P, N, 2) int32 key bits."""
    base = _rng.torch_split(es_key, int(num_params))  # (P, 2)
    epoch_keys = _rng.torch_fold_in(base, torch.as_tensor(tau, dtype=torch.int64))  # (P, 2)
    k = torch.as_tensor(pair_index).to(torch.int64)
    return _rng.torch_fold_in(epoch_keys[:, None, :], k[None, :])  # (P, N, 2)


def lowrank_noise(keys, signs, shape, rank, sigma):
    """Z_i = normal(key_i, (a + b, r)); B_i = Z_i[:b]; A_i = (sigma s_i / sqrt(r)) Z_i[b:].  -> (A, B)."""
    a, b = (int(d) for d in shape)
    return _lowrank_from_z(_rng.torch_normal(keys, (a + b, int(rank))), signs, b, rank, sigma)


def _lowrank_from_z(z, signs, b, rank, sigma):
    """(A, B) from Z (N, a + b, r): B = Z[:, :b], A = (sigma s / sqrt(r)) Z[:, b:]."""
    scale = torch.tensor(float(sigma), dtype=F32) * _t(signs) / torch.tensor(math.sqrt(int(rank)), dtype=F32)
    return z[:, b:, :] * scale[:, None, None], z[:, :b, :]


def fullrank_noise(keys, signs, shape, sigma):
    """E_i = sigma s_i eps_i, eps_i = normal(key_i, shape) (no 1/sqrt(r))."""
    shape = tuple(int(d) for d in shape)
    return _fullrank_from_eps(_rng.torch_normal(keys, shape), signs, sigma)


def _fullrank_from_eps(eps, signs, sigma):
    scale = torch.tensor(float(sigma), dtype=F32) * _t(signs)
    return eps * scale.reshape((-1,) + (1,) * (eps.dim() - 1))


# -------------------------------------------------------------------------------------------- forward


def forward(x, w, a, b):
    """y_i = x_i W^T + (x_i B_i) A_i^T   (A scaled; A_i B_i^T is never formed).  x (N, M, b) -> (N, M, a).
    The low-rank term is accumulated into the fresh x W^T in place (baddbmm_: no temporary, no extra add)."""
    return torch.matmul(x, w.T).baddbmm_(torch.bmm(x, b), a.transpose(1, 2))


def forward_xw(x, w, a, b):
    """For W used as x W, W (in, out) = (a, b):  y_i = x_i W + (x_i A_i) B_i^T.  x (N, M, a) -> (N, M, b)."""
    return torch.matmul(x, w).baddbmm_(torch.bmm(x, a), b.transpose(1, 2))


# -------------------------------------------------------------------------------------------- fitness


def shape_fitness(fitness, group_size):
    """G = 0: f = (F - mean F) / sqrt(var F + 1e-5); G > 0: F_i minus the mean of its block of G
    consecutive members, over the GLOBAL std (ddof 0 -- torch.var's default is ddof 1 -- eps inside the sqrt)."""
    f = _t(fitness)
    g = int(group_size)
    denom = torch.sqrt(torch.var(f, correction=0) + FITNESS_EPS)
    if g == 0:
        centred = f - f.mean()
    else:
        blocks = f.reshape(-1, g)
        centred = (blocks - blocks.mean(dim=1, keepdim=True)).reshape(-1)
    return centred / denom


# --------------------------------------------------------------------------------------------- update


def lowrank_update(shaped, a, b):
    """g_W = -sqrt(N) einsum('nir,njr->ij', f[:, None, None] * A, B) / N."""
    n, ai, r = a.shape
    fa = (shaped[:, None, None] * a).permute(1, 0, 2).reshape(ai, n * r)  # (a, N r)
    return -math.sqrt(n) * (fa @ b.permute(1, 0, 2).reshape(b.shape[1], n * r).T) / n


def fullrank_update(shaped, e):
    """g_P = -(1/sqrt(N)) sum_i f_i E_i."""
    n = shaped.shape[0]
    return -torch.tensordot(shaped, e, dims=([0], [0])) / math.sqrt(n)


# ------------------------------------------------------------------------------------------ optimiser


def _make_optimizer(tensors, opt) -> torch.optim.Optimizer:
    """torch.optim optimiser over ``tensors`` (list), every hyper-parameter explicit."""
    opt = validate_optimizer(opt)
    if opt["name"] == "sgd":
        return torch.optim.SGD(tensors, lr=opt["lr"], momentum=opt["momentum"], dampening=0.0,
                               weight_decay=0.0, nesterov=opt["nesterov"], maximize=False, foreach=False)
    if opt["name"] == "adam":
        return torch.optim.Adam(tensors, lr=opt["lr"], betas=(opt["b1"], opt["b2"]), eps=opt["eps"],
                                weight_decay=0.0, amsgrad=False, maximize=False, foreach=False)
    return torch.optim.AdamW(tensors, lr=opt["lr"], betas=(opt["b1"], opt["b2"]), eps=opt["eps"],
                             weight_decay=opt["weight_decay"], amsgrad=False, maximize=False, foreach=False)


def optimizer_init(params, opt):
    """Optimiser state for ``params`` (dict): the torch.optim optimiser and the leaf tensors it owns (one
    per parameter, sorted names)."""
    tensors = {k: _t(params[k]).detach().clone() for k in sorted(params)}
    return {"tensors": tensors, "optimizer": _make_optimizer(list(tensors.values()), opt)}


def optimizer_step(params, grads, state, opt):
    """One minimisation step (torch.optim): p.grad = g; optimizer.step().  Returns (params, state)."""
    with torch.no_grad():
        for k, t in state["tensors"].items():
            t.copy_(_t(params[k]))
            t.grad = _t(grads[k]).detach().clone()
        state["optimizer"].step()
    return {k: t.detach().clone() for k, t in state["tensors"].items()}, state


# ------------------------------------------------------------------------------------------ the epoch


def _linear(x, w, noise):
    if noise is None:
        return torch.matmul(x, w.T)
    if len(noise) == 2:
        return forward(x, w, *noise)
    return torch.bmm(x, (w[None] + noise[0]).transpose(1, 2))


def _bias(b, noise):
    return b[None, None, :] if noise is None else (b[None] + noise[0])[:, None, :]


def _mlp_fitness(params, noise, data):
    """F_i = -mean((out_scale * (W2 tanh(W1 x + b1) + b2) - y)^2) for member i's perturbed weights."""
    p = {k: _t(v) for k, v in params.items()}
    x, y = _t(data["x"]), _t(data["y"])
    n = next(iter(noise.values()))[0].shape[0]
    h = x.expand((n,) + tuple(x.shape)).contiguous()
    h = torch.tanh(_linear(h, p["w1"], noise.get("w1")) + _bias(p["b1"], noise.get("b1")))
    out = (_linear(h, p["w2"], noise.get("w2")) + _bias(p["b2"], noise.get("b2"))) * p["out_scale"]
    return -torch.mean((out - y) ** 2, dim=(1, 2))


def epoch(params, opt_state, es_key, epoch, data, config):
    """One EGGROLL epoch on the small MLP (see np_ref.epoch). ``opt_state`` None starts a fresh optimiser.
    Returns (params, opt_state, fitness (N,))."""
    cfg = validate_config(config)
    names = sorted(params)
    with torch.no_grad():
        params = {k: _t(params[k]) for k in names}
        *_, noise = _member_noise(params, names, es_key, epoch, cfg)
        fit = _mlp_fitness(params, noise, data)
        f = shape_fitness(fit, cfg["group_size"])
        grads = {name: lowrank_update(f, *nz) if len(nz) == 2 else fullrank_update(f, nz[0])
                 for name, nz in noise.items()}
        trainable = {name: params[name] for name in grads}
        if opt_state is None:
            opt_state = optimizer_init(trainable, cfg["optimizer"])
        new, opt_state = optimizer_step(trainable, grads, opt_state, cfg["optimizer"])
    out = dict(params)
    out.update(new)
    return out, opt_state, fit


def _member_noise(params, names, es_key, epoch, cfg):
    """(keys (P, N/2, 2), member -> pair index (N,), signs (N,), noise {name: factors}) of one epoch.

    Antithetic partners share a key: draw once per distinct pair index (ONE normal call per parameter for all
    pairs) and give every member its pair's draw -- the same numbers as drawing per member, at half the
    Threefry / erf_inv work."""
    tau = noise_epoch(epoch, cfg["noise_reuse"])
    k, s = pair_index_sign(cfg["population"])
    pairs, member_pair = torch.unique(k, return_inverse=True)
    keys = member_keys(es_key, len(names), tau, pairs)
    noise = {}
    for j, name in enumerate(names):
        role = trainable_role(cfg, name)
        shape = tuple(int(d) for d in params[name].shape)
        if role == "lowrank":
            z = _rng.torch_normal(keys[j], (shape[0] + shape[1], cfg["rank"]))[member_pair]
            noise[name] = _lowrank_from_z(z, s, shape[1], cfg["rank"], cfg["sigma"])
        elif role == "fullrank":
            noise[name] = (_fullrank_from_eps(_rng.torch_normal(keys[j], shape)[member_pair], s, cfg["sigma"]),)
    return keys, member_pair, s, noise


def _key_bits(keys):
    """int32 key bits as the uint32 words the other references tap."""
    return keys.numpy().view("uint32") if tap_active() else keys


def step(params, apply_fn, fitness_fn, es_key, epoch, config, opt_state=None):
    """One EGGROLL epoch on the CALLER's model (see np_ref.step): F_i = fitness_fn(apply_fn(member i's
    parameters)), members evaluated one by one; the same noise as ``epoch``. Returns (params, opt_state,
    fitness (N,)); the same taps as np_ref.step."""
    cfg = validate_config(config)
    names = sorted(params)
    with torch.no_grad():
        params = {k: _t(params[k]) for k in names}
        keys, member_pair, s, noise = _member_noise(params, names, es_key, epoch, cfg)
        tap("eggroll.keys.member", _key_bits(keys[:, member_pair]))  # the draws above tap nothing: same order
        _tap_noise(noise)
        tap("eggroll.sigma.signed", torch.tensor(float(cfg["sigma"]), dtype=F32) * s)
        fit = tap("eggroll.fitness.raw", torch.stack([
            _t(fitness_fn(apply_fn(_member_params(params, noise, i)))).reshape(()) for i in range(cfg["population"])]))
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

