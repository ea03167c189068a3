"""Training losses of the seed trainer, NumPy float64 oracle (reads like the equations of spec.py)."""

from __future__ import annotations

import numpy as np

from reference.losses.spec import EPS, HUBER_DELTA, L2_COEFF, LABEL_SMOOTHING, MASK_THRESHOLD, _check_value_shapes


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _softmax(z):
    z = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def policy(logits, target):
    """mean_b sum_a -t * log(softmax(z) + 1e-8) * [t > 1e-7]  (the seed's formula)."""
    z, t = _f64(logits), _f64(target)
    mask = t > MASK_THRESHOLD
    return np.mean(np.sum(-t * np.log(_softmax(z) + EPS) * mask, axis=-1))


def policy_log_softmax(logits, target):
    """mean_b sum_a -t * log_softmax(z) * [t > 1e-7]  (a variant; differs by whole units at spreads > ~20)."""
    z, t = _f64(logits), _f64(target)
    zs = z - np.max(z, axis=-1, keepdims=True)
    logp = zs - np.log(np.sum(np.exp(zs), axis=-1, keepdims=True))
    mask = t > MASK_THRESHOLD
    return np.mean(np.sum(np.where(mask, -t * logp, 0.0), axis=-1))


def value(value_output, value_target):
    """mean_b huber_1(v_b - 0.9 y_b), v = value_output squeezed on the last axis (B, 1) -> (B,)."""
    _check_value_shapes(np.shape(value_output), np.shape(value_target))
    d = _f64(value_output)[:, 0] - (1.0 - LABEL_SMOOTHING) * _f64(value_target)
    a = np.abs(d)
    return np.mean(np.where(a <= HUBER_DELTA, 0.5 * d * d, HUBER_DELTA * (a - 0.5 * HUBER_DELTA)))


def l2(params, coeff=L2_COEFF):
    """coeff * sum over every parameter p of the Frobenius norm ||p||, not squared."""
    return coeff * sum(np.sqrt(np.sum(_f64(p) ** 2)) for p in params.values())


def total(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """policy_weight * policy + value_weight * value + l2(params)."""
    return (policy_weight * policy(logits, policy_target)
            + value_weight * value(value_output, value_target) + l2(params))


def grad(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """(total, {"params", "logits", "value_output"}: d total / d each), derived by hand:

    d/dz_b   = policy_weight / B * p_b * (g_b - <g_b, p_b>),  g_ba = -t_ba [t_ba > 1e-7] / (p_ba + 1e-8)
    d/dv_b   = value_weight / B * clip(v_b - 0.9 y_b, -1, 1)
    d/dp     = 1e-5 * p / ||p||  (0 where ||p|| = 0)
    """
    z, t = _f64(logits), _f64(policy_target)
    b = z.shape[0]
    p = _softmax(z)
    g = -t * (t > MASK_THRESHOLD) / (p + EPS)
    dz = policy_weight / b * p * (g - np.sum(g * p, axis=-1, keepdims=True))
    _check_value_shapes(np.shape(value_output), np.shape(value_target))
    d = _f64(value_output)[:, 0] - (1.0 - LABEL_SMOOTHING) * _f64(value_target)
    dv = (value_weight / b * np.clip(d, -HUBER_DELTA, HUBER_DELTA))[:, None]
    dp = {}
    for k, v in params.items():
        v = _f64(v)
        nrm = np.sqrt(np.sum(v * v))
        dp[k] = L2_COEFF * v / nrm if nrm > 0 else np.zeros_like(v)
    loss = total(params, logits, value_output, policy_target, value_target, policy_weight, value_weight)
    return loss, {"params": dp, "logits": dz, "value_output": dv}

