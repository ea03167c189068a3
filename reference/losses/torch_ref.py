"""Training losses of the seed trainer, PyTorch reference; equations in np_ref.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-8
MASK_THRESHOLD = 1e-7
LABEL_SMOOTHING = 0.1
HUBER_DELTA = 1.0
L2_COEFF = 1e-5


def _check_value_shapes(value_output, value_target):
    v, y = tuple(value_output.shape), tuple(value_target.shape)
    if len(v) != 2 or v[-1] != 1:
        raise ValueError(f"value_loss: value_output must have shape (B, 1), got {v}")
    if y != (v[0],):
        raise ValueError(f"value_loss: value_target must have shape ({v[0]},), got {y}")


def policy_loss(logits, target):
    """mean_b sum_a -t * log(softmax(z) + 1e-8) * [t > 1e-7]  (the seed's formula)."""
    mask = (target > MASK_THRESHOLD).to(logits.dtype)
    return torch.mean(torch.sum(-target * torch.log(torch.softmax(logits, dim=-1) + EPS) * mask, dim=-1))


def policy_loss_log_softmax(logits, target):
    """mean_b sum_a -t * log_softmax(z) * [t > 1e-7]  (a variant; differs by whole units at spreads > ~20)."""
    mask = target > MASK_THRESHOLD
    logp = torch.log_softmax(logits, dim=-1)
    return torch.mean(torch.sum(torch.where(mask, -target * logp, torch.zeros_like(logp)), dim=-1))


def value_loss(value_output, value_target):
    """mean_b huber_1(v_b - 0.9 y_b), v = value_output squeezed on the last axis (B, 1) -> (B,).
    F.smooth_l1_loss(beta=1) (mean reduction) = Huber with delta 1."""
    _check_value_shapes(value_output, value_target)
    return F.smooth_l1_loss(value_output.squeeze(-1), (1.0 - LABEL_SMOOTHING) * value_target, beta=HUBER_DELTA)


def l2(params, coeff=L2_COEFF):
    """coeff * sum over every parameter p of the Frobenius norm ||p|| (not squared; torch.norm has
    gradient 0 at p = 0)."""
    return coeff * sum(torch.linalg.vector_norm(p) for p in params.values())


def total_loss(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """policy_weight * policy_loss + value_weight * value_loss + l2(params)."""
    return (policy_weight * policy_loss(logits, policy_target)
            + value_weight * value_loss(value_output, value_target) + l2(params))


def grad(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """(total_loss, {"params", "logits", "value_output"}: d total / d each) by torch.autograd."""
    ps = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    z = logits.detach().clone().requires_grad_(True)
    v = value_output.detach().clone().requires_grad_(True)
    total = total_loss(ps, z, v, policy_target, value_target, policy_weight, value_weight)
    grads = torch.autograd.grad(total, [*ps.values(), z, v])
    gp = dict(zip(ps.keys(), grads[:-2]))
    return total.detach(), {"params": gp, "logits": grads[-2], "value_output": grads[-1]}


COMPONENTS = {
    "losses.policy": policy_loss,
    "losses.policy_log_softmax": policy_loss_log_softmax,
    "losses.value": value_loss,
    "losses.l2": l2,
    "losses.total": total_loss,
    "losses.grad": grad,
}
