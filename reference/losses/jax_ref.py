"""Training losses of the seed trainer, JAX reference (optax); equations in spec.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from reference.losses.spec import EPS, HUBER_DELTA, L2_COEFF, LABEL_SMOOTHING, MASK_THRESHOLD, _check_value_shapes


@jax.jit
def policy(logits, target):
    """mean_b sum_a -t * log(softmax(z) + 1e-8) * [t > 1e-7]  (the seed's formula)."""
    mask = target > MASK_THRESHOLD
    return jnp.mean(jnp.sum(-target * jnp.log(jax.nn.softmax(logits, axis=-1) + EPS) * mask, axis=-1))


@jax.jit
def policy_log_softmax(logits, target):
    """mean_b sum_a -t * log_softmax(z) * [t > 1e-7]  (a variant; differs by whole units at spreads > ~20)."""
    mask = target > MASK_THRESHOLD
    return jnp.mean(jnp.sum(jnp.where(mask, -target * jax.nn.log_softmax(logits, axis=-1), 0.0), axis=-1))


@jax.jit
def _value_loss(value_output, value_target):
    v = jnp.squeeze(value_output, axis=-1)  # (B, 1) -> (B,): last axis only
    return jnp.mean(optax.huber_loss(v, (1.0 - LABEL_SMOOTHING) * value_target, delta=HUBER_DELTA))


def value(value_output, value_target):
    """mean_b huber_1(v_b - 0.9 y_b), v = value_output squeezed on the last axis (B, 1) -> (B,).
    optax.huber_loss has no reduction (mean here) and equals torch's smooth_l1 only for delta = beta = 1."""
    _check_value_shapes(jnp.shape(value_output), jnp.shape(value_target))
    return _value_loss(value_output, value_target)


def _safe_norm(x):
    """||x||_F with gradient 0 (not NaN) at x = 0: the double-where trick."""
    sq = jnp.sum(x * x)
    pos = sq > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, sq, 1.0)), 0.0)


@jax.jit
def l2(params, coeff=L2_COEFF):
    """coeff * sum over every parameter p of the Frobenius norm ||p||, not squared (safe at 0)."""
    return coeff * sum(_safe_norm(p) for p in jax.tree.leaves(params))


def _total(params, logits, value_output, policy_target, value_target, policy_weight, value_weight):
    return (policy_weight * policy(logits, policy_target)
            + value_weight * _value_loss(value_output, value_target) + l2(params))


_total_jit = jax.jit(_total)
_grad_jit = jax.jit(jax.value_and_grad(_total, argnums=(0, 1, 2)))


def total(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """policy_weight * policy + value_weight * value + l2(params)."""
    _check_value_shapes(jnp.shape(value_output), jnp.shape(value_target))
    return _total_jit(params, logits, value_output, policy_target, value_target,
                      jnp.float32(policy_weight), jnp.float32(value_weight))


def grad(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """(total, {"params", "logits", "value_output"}: d total / d each) by jax.value_and_grad."""
    _check_value_shapes(jnp.shape(value_output), jnp.shape(value_target))
    loss, (gp, gz, gv) = _grad_jit(params, logits, value_output, policy_target, value_target,
                                    jnp.float32(policy_weight), jnp.float32(value_weight))
    return loss, {"params": gp, "logits": gz, "value_output": gv}

