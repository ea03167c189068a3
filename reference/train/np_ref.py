"""Training pieces of the seed trainer, NumPy float64 oracle (torch semantics, which are the reference; the
equations: spec.py)."""

from __future__ import annotations

import numpy as np

from harness.tap import active as tap_active
from harness.tap import tap
from reference.nets import encoding
from reference.train import spec


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def warmup_lrs(base_lr, total_steps, num_steps):
    """(num_steps,) learning rate used at step k = 0..num_steps-1: lr * min(k + 1, W) / W, W = int(0.15 T)."""
    spec._check_base_lr(base_lr)
    w = spec._warmup_steps(total_steps)
    k = np.arange(int(num_steps), dtype=np.float64)
    if w == 0:
        return np.full(k.shape, float(base_lr))
    return float(base_lr) * np.minimum(k + 1, w) / w


def clip(grads, max_norm=1.0):
    """g clipped to global norm ``max_norm``
    (torch.nn.utils.clip_grad_norm_): g * min(1, max_norm / (||g||_global + 1e-6))."""
    spec._check_max_norm(max_norm)
    g = {k: _f64(v) for k, v in grads.items()}
    norm = np.sqrt(sum(np.sum(v * v) for v in g.values()))
    coef = min(1.0, max_norm / (norm + spec.CLIP_EPS))
    return {k: v * coef for k, v in g.items()}


def _adam_step(p, g, m, v, t, lr, weight_decay, b1=0.9, b2=0.999, eps=1e-8):
    """One step of torch.optim.Adam(weight_decay) on a dict of float64 arrays, in place; t counts from 1."""
    for k in p:
        gk = g[k] + weight_decay * p[k]
        m[k] = b1 * m[k] + (1 - b1) * gk
        v[k] = b2 * v[k] + (1 - b2) * gk * gk
        denom = np.sqrt(v[k]) / np.sqrt(1 - b2 ** t) + eps
        p[k] = p[k] - lr / (1 - b1 ** t) * m[k] / denom


def optimizer_steps(params, grads_seq, lrs, weight_decay=1e-4, max_norm=1.0, b1=0.9, b2=0.999, eps=1e-8):
    """Apply the given gradients for len(lrs) steps: clip by global norm, coupled weight decay, Adam.
    Returns the list of parameter dicts after each step."""
    p = {k: _f64(v) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    out = []
    for t, lr in enumerate(np.asarray(lrs, dtype=np.float64).tolist(), start=1):
        _adam_step(p, clip(grads_seq[t - 1], max_norm), m, v2, t, lr, weight_decay, b1, b2, eps)
        out.append({k: val.copy() for k, val in p.items()})
    return out


def plateau(epoch_losses, lr, factor=0.5, patience=2, threshold=1e-4, cooldown=0, min_lr=0.0):
    """(num_epochs,) learning rate after each epoch's ReduceLROnPlateau step (torch semantics)."""
    spec._check_plateau(factor, patience)
    best, bad, cool, cur = np.inf, 0, 0, float(lr)
    out = []
    for loss in np.asarray(epoch_losses, dtype=np.float64).tolist():
        if loss < best * (1.0 - threshold):
            best, bad = loss, 0
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > patience:
            new = max(cur * factor, min_lr)
            if cur - new > 1e-8:
                cur = new
            cool, bad = cooldown, 0
        out.append(cur)
    return np.asarray(out)


def early_stopping(epoch_losses, epoch_params, patience=5, min_delta=1e-3):
    """Monitor ``epoch_losses``; returns {"stopped", "stop_epoch", "best_epoch", "params"}: the epoch at
    which it stopped (the last epoch if it never did) and the parameters in force afterwards -- the
    best epoch's when it stopped, the last epoch's otherwise (copies, dtype kept)."""
    spec._check_patience(patience)
    losses = np.asarray(epoch_losses, dtype=np.float64).tolist()
    spec._check_epochs(len(losses), len(epoch_params))
    best, best_epoch, count = np.inf, -1, 0
    best_params, current = None, None
    for e, (loss, params) in enumerate(zip(losses, epoch_params)):
        current = params
        if loss < best - min_delta:
            best, best_epoch, count = loss, e, 0
            best_params = {k: np.array(v, copy=True) for k, v in params.items()}
        else:
            count += 1
            if count >= patience:
                return {"stopped": True, "stop_epoch": e, "best_epoch": best_epoch, "params": best_params}
    return {"stopped": False, "stop_epoch": len(losses) - 1, "best_epoch": best_epoch,
            "params": {k: np.array(v, copy=True) for k, v in current.items()}}


def value_targets(player_role, winner, perspective="alternating"):
    """(T,) float32 value target of every position of one game (the final outcome on every position):
    draw -> 0; "alternating": +1 if the player to move at t (role 0 first, 1 second) won, else -1;
    "fixed": +1 if the first player won, -1 if the second did."""
    winner = int(winner)
    spec._check_outcome(winner, perspective)
    role = np.asarray(player_role).astype(np.int64)
    if winner == 0:
        return np.zeros(role.shape, np.float32)
    if perspective == "fixed":
        return np.full(role.shape, 1.0 if winner == 1 else -1.0, np.float32)
    return np.where(role + 1 == winner, 1.0, -1.0).astype(np.float32)


def make_examples(colours, policies, player_role, winner, perspective="alternating"):
    """The seed's training examples of one game: a list over positions of
    {"board_state": {"edge_index", "edge_attr"}, "policy": (E,), "value": float32 (), "player_role": int64 ()}."""
    colours = np.asarray(colours)
    policies = np.asarray(policies, dtype=np.float32)
    role = np.asarray(player_role).astype(np.int64)
    spec._check_examples(colours.shape, policies.shape, role.shape)
    values = value_targets(role, winner, perspective)
    out = []
    for t in range(colours.shape[0]):
        out.append({"board_state": encoding.board_state(colours[t]), "policy": policies[t].copy(),
                    "value": np.float32(values[t]), "player_role": np.int64(role[t])})
    return out


# ---------------------------------------------------------------------------------------------------
# the training loop
# ---------------------------------------------------------------------------------------------------

def _global_norm(tree):
    return np.sqrt(sum(np.sum(_f64(v) ** 2) for v in tree.values()))


def trajectory(params, edge_index, batches, config):
    """Train from canonical ``params`` on ``batches`` (a dict of arrays stacked over steps: edge_attr
    (N, B, 2E, 3), player_role (N, B), policy (N, B, E), value (N, B)) for N steps with the warmup of
    total_steps = N. Returns {"step_KK": {"loss": loss before the step, "params": canonical after it}}.

    float64 throughout: forward and hand-written backward of the network (nets.np_ref._vjp), the loss
    gradients of losses.np_ref.grad, L2 gradient coeff * p / ||p||, then clip / coupled decay / Adam."""
    from reference.losses import np_ref as losses
    from reference.nets import np_ref as nets

    cfg = {**spec.DEFAULT_CONFIG, **dict(config)}
    num_steps = int(np.shape(batches["value"])[0])
    lrs = warmup_lrs(cfg["lr"], num_steps, num_steps)
    p = {k: _f64(v) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    out = {}
    for t in range(num_steps):
        attr, role = _f64(batches["edge_attr"][t]), _f64(batches["player_role"][t])
        policy, value_t = _f64(batches["policy"][t]), _f64(batches["value"][t])
        logits, value = nets.policy_value(p, edge_index, attr, role)
        l2 = cfg["l2_coeff"] * sum(np.sqrt(np.sum(w * w)) for w in p.values())
        data_loss, g_out = losses.grad({}, logits, value[:, None], policy, value_t, cfg["policy_weight"],
                                       cfg["value_weight"])
        if tap_active():
            tap("train.loss.policy", losses.policy(logits, policy))
            tap("train.loss.value", losses.value(value[:, None], value_t))
            tap("train.loss.l2", np.float64(l2))
            tap("train.loss.total", np.float64(data_loss + l2))
            tap("train.lr", np.float64(lrs[t]))
        grads = nets._vjp(p, edge_index, attr, role, g_out["logits"], g_out["value_output"][:, 0])
        for k, w in p.items():
            nrm = np.sqrt(np.sum(w * w))
            if nrm > 0:
                grads[k] = grads[k] + cfg["l2_coeff"] * w / nrm
        clipped = clip(grads, cfg["max_norm"])
        if tap_active():
            tap("train.grad_norm.before_clip", _global_norm(grads))
            tap("train.grad_norm.after_clip", _global_norm(clipped))
        _adam_step(p, clipped, m, v2, t + 1, float(lrs[t]), cfg["weight_decay"])
        tap("train.params", p)
        out[f"step_{t:02d}"] = {"loss": np.float64(data_loss + l2), "params": {k: w.copy() for k, w in p.items()}}
    return out


def fit(params, examples, order, config):
    """The training loop on the seed's examples in an injected data order (instead of the trainer's own
    shuffle): step t trains on examples[order[t]]. Returns ``trajectory``'s output (loss before each step,
    parameters after it); the same taps."""
    edge_index, batches = spec._batches_from_examples(examples, order)
    return trajectory(params, edge_index, batches, config)

