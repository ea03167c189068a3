"""Training pieces of the seed trainer (training.md): the contract of np_ref (float64 oracle), jax_ref (optax)
and torch_ref (torch.optim); torch's semantics are the reference.

    warmup        W = int(0.15 * total_steps); step k (from 0) uses lr * min(k + 1, W) / W, then lr
                  (W = 0: lr from the first step).
    clip          c = min(1, max_norm / (||g||_global + 1e-6)); g <- c g      (torch.nn.utils.clip_grad_norm_)
    optimizer     g <- clip(g); g <- g + wd * p  (coupled decay, torch.optim.Adam(weight_decay=wd));
                  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  t <- t + 1
                  p <- p - lr_t / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    plateau       torch ReduceLROnPlateau, mode min, threshold_mode rel: an epoch is better if
                  loss < best * (1 - threshold); after MORE than ``patience`` bad epochs
                  lr <- max(lr * factor, min_lr) (if that lowers it by more than 1e-8), then ``cooldown``
                  epochs during which bad epochs are not counted.
    early stop    better if loss < best - min_delta; stop at the epoch where ``patience`` epochs in a
                  row were not better; the best epoch's parameters are restored when it stops.
    value target  the final outcome on EVERY position: winner 0 draw -> 0; otherwise +1 / -1 from the
                  perspective of the player to move ("alternating") or of the first player ("fixed").
    loop          per step: loss = pw * policy + vw * value + l2 on the batch, gradient (by hand here:
                  nets.np_ref._vjp), clip, coupled decay, Adam at the warmup learning rate (total = N steps).
"""

from __future__ import annotations

import numpy as np

AREA = "train"

WARMUP_FRACTION = 0.15  # W = int(WARMUP_FRACTION * total_steps) warmup steps
CLIP_EPS = 1e-6  # torch's clip_grad_norm_: max_norm / (norm + 1e-6)
PERSPECTIVES = ("alternating", "fixed")
# the training loop's hyper-parameters when ``config`` leaves them out
DEFAULT_CONFIG = {"lr": 1e-3, "weight_decay": 1e-4, "max_norm": 1.0, "policy_weight": 1.0, "value_weight": 1.0,
                  "l2_coeff": 1e-5}


def warmup_lrs(base_lr, total_steps, num_steps):
    """(num_steps,) learning rate used at step k = 0..num_steps-1: lr * min(k + 1, W) / W, W = int(0.15 T)."""
    ...


def clip(grads, max_norm=1.0):
    """g clipped to global norm ``max_norm``
    (torch.nn.utils.clip_grad_norm_): g * min(1, max_norm / (||g||_global + 1e-6))."""
    ...


def optimizer_steps(params, grads_seq, lrs, weight_decay=1e-4, max_norm=1.0, b1=0.9, b2=0.999, eps=1e-8):
    """Apply the given gradients for len(lrs) steps: clip by global norm, coupled weight decay, Adam."""
    ...


def plateau(epoch_losses, lr, factor=0.5, patience=2, threshold=1e-4, cooldown=0, min_lr=0.0):
    """(num_epochs,) learning rate after each epoch's ReduceLROnPlateau step (torch semantics)."""
    ...


def early_stopping(epoch_losses, epoch_params, patience=5, min_delta=1e-3):
    """Monitor ``epoch_losses``; returns {"stopped", "stop_epoch", "best_epoch", "params"}"""
    ...


def value_targets(player_role, winner, perspective="alternating"):
    """(T,) float32 value target of every position of one game (the final outcome on every position)"""
    ...


def make_examples(colours, policies, player_role, winner, perspective="alternating"):
    """The seed's training examples of one game"""
    ...


def trajectory(params, edge_index, batches, config):
    """Train from canonical ``params`` on ``batches`` (a dict of arrays stacked over steps: edge_attr"""
    ...


def fit(params, examples, order, config):
    """The training loop on the seed's examples in an injected data order"""
    ...


# -- framework-neutral pieces the three implementations share (argument checks, index arithmetic) ------------


def _warmup_steps(total_steps):
    """W = int(0.15 * total_steps): the number of warmup steps."""
    if int(total_steps) != total_steps or total_steps < 1:
        raise ValueError(f"warmup: total_steps must be a positive integer, got total_steps={total_steps!r}")
    return int(WARMUP_FRACTION * int(total_steps))


def _check_base_lr(base_lr):
    if not base_lr > 0:
        raise ValueError(f"warmup: base_lr must be > 0, got base_lr={base_lr!r}")


def _check_max_norm(max_norm):
    if not max_norm > 0:
        raise ValueError(f"clip: max_norm must be > 0, got max_norm={max_norm!r}")


def _check_plateau(factor, patience):
    if not 0.0 < factor < 1.0:
        raise ValueError(f"plateau: factor must be in (0, 1), got factor={factor!r}")
    if int(patience) != patience or patience < 0:
        raise ValueError(f"plateau: patience must be a non-negative integer, got patience={patience!r}")


def _check_patience(patience):
    if int(patience) != patience or patience < 1:
        raise ValueError(f"early_stopping: patience must be a positive integer, got patience={patience!r}")


def _check_epochs(num_losses, num_params):
    if num_losses != num_params or not num_params:
        raise ValueError(f"early_stopping: {num_losses} losses for {num_params} parameter sets "
                         "(need one per epoch, at least one epoch)")


def _check_outcome(winner, perspective):
    if perspective not in PERSPECTIVES:
        raise ValueError(f"value_targets: perspective must be one of {PERSPECTIVES}, got {perspective!r}")
    if winner not in (0, 1, 2):
        raise ValueError(f"value_targets: winner must be 0 (draw), 1 (first) or 2 (second), got {winner!r}")


def _check_examples(colours_shape, policies_shape, role_shape):
    if colours_shape != policies_shape or colours_shape[:1] != role_shape:
        raise ValueError(f"make_examples: colours {colours_shape}, policies {policies_shape} and "
                         f"player_role {role_shape} must agree on (T, E)")


def _host(x):
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def _batches_from_examples(examples, order):
    """(edge_index (2, 2E), batches) from the seed's examples (``make_examples``: a list of dicts with
    board_state.edge_index / edge_attr, policy, value, player_role; arrays of any framework) taken in the
    injected ``order``: (S, B) example indices, one batch per step."""
    order = np.asarray(order, np.int64)
    if order.ndim != 2 or order.size == 0:
        raise ValueError(f"fit: order must be a non-empty (steps, batch) array of example indices, got shape "
                         f"{order.shape}")
    if order.min() < 0 or order.max() >= len(examples):
        raise ValueError(f"fit: order indexes examples 0..{len(examples) - 1}, got {order.min()}..{order.max()}")
    pick = lambda f: np.stack([np.stack([_host(f(examples[i])) for i in row]) for row in order])
    batches = {"edge_attr": pick(lambda e: e["board_state"]["edge_attr"]).astype(np.float32),
               "player_role": pick(lambda e: e["player_role"]).astype(np.int64),
               "policy": pick(lambda e: e["policy"]).astype(np.float32),
               "value": pick(lambda e: e["value"]).astype(np.float32)}
    return _host(examples[0]["board_state"]["edge_index"]), batches

