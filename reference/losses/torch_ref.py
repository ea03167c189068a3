"""Training losses of the seed trainer, PyTorch reference; equations in spec.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reference.losses.spec import EPS, HUBER_DELTA, L2_COEFF, LABEL_SMOOTHING, MASK_THRESHOLD, _check_value_shapes


def policy(logits, target):
    """mean_b sum_a -t * log(softmax(z) + 1e-8) * [t > 1e-7]  (the seed's formula)."""
    mask = (target > MASK_THRESHOLD).to(logits.dtype)
    return torch.mean(torch.sum(-target * torch.log(torch.softmax(logits, dim=-1) + EPS) * mask, dim=-1))


def policy_log_softmax(logits, target):
    """mean_b sum_a -t * log_softmax(z) * [t > 1e-7]  (a variant; differs by whole units at spreads > ~20)."""
    mask = target > MASK_THRESHOLD
    logp = torch.log_softmax(logits, dim=-1)
    return torch.mean(torch.sum(torch.where(mask, -target * logp, torch.zeros_like(logp)), dim=-1))


def value(value_output, value_target):
    """mean_b huber_1(v_b - 0.9 y_b), v = value_output squeezed on the last axis (B, 1) -> (B,).
    F.smooth_l1_loss(beta=1) (mean reduction) = Huber with delta 1."""
    _check_value_shapes(tuple(value_output.shape), tuple(value_target.shape))
    return F.smooth_l1_loss(value_output.squeeze(-1), (1.0 - LABEL_SMOOTHING) * value_target, beta=HUBER_DELTA)


def l2(params, coeff=L2_COEFF):
    """coeff * sum over every parameter p of the Frobenius norm ||p||, not squared (torch.norm has
    gradient 0 at p = 0)."""
    return coeff * sum(torch.linalg.vector_norm(p) for p in params.values())


def total(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """policy_weight * policy + value_weight * value + l2(params)."""
    return (policy_weight * policy(logits, policy_target)
            + value_weight * value(value_output, value_target) + l2(params))


def grad(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """(total, {"params", "logits", "value_output"}: d total / d each) by torch.autograd."""
    ps = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    z = logits.detach().clone().requires_grad_(True)
    v = value_output.detach().clone().requires_grad_(True)
    loss = total(ps, z, v, policy_target, value_target, policy_weight, value_weight)
    grads = torch.autograd.grad(loss, [*ps.values(), z, v])
    gp = dict(zip(ps.keys(), grads[:-2]))
    return loss.detach(), {"params": gp, "logits": grads[-2], "value_output": grads[-1]}

