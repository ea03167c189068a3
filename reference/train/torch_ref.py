"""Training pieces of the seed trainer, PyTorch reference (torch.optim); the contract and semantics: spec.py.

The optimiser step: ``clip_grad_norm_(max_norm)`` then ``torch.optim.Adam(weight_decay=wd).step()`` (coupled
decay: wd * p is added to the clipped gradient), the learning rate set by a LambdaLR warmup.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from harness.tap import active as tap_active
from harness.tap import tap
from reference.losses import torch_ref as losses
from reference.nets import encoding
from reference.nets import torch_ref as nets
from reference.train import spec


def _warmup_lambda(total_steps):
    """LambdaLR factor: step k (from 0) -> min(k + 1, W) / W; 1 when W = 0."""
    w = spec._warmup_steps(total_steps)
    return (lambda k: min(k + 1, w) / w) if w > 0 else (lambda k: 1.0)


def warmup_lrs(base_lr, total_steps, num_steps):
    """(num_steps,) learning rate used at step k = 0..num_steps-1: lr * min(k + 1, W) / W, W = int(0.15 T)."""
    spec._check_base_lr(base_lr)
    p = torch.nn.Parameter(torch.zeros(()))
    opt = torch.optim.SGD([p], lr=float(base_lr))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _warmup_lambda(total_steps))
    out = []
    for _ in range(int(num_steps)):
        out.append(opt.param_groups[0]["lr"])  # the lr this step uses
        p.grad = torch.zeros(())
        opt.step()
        sched.step()
    return torch.tensor(out, dtype=torch.float64)


def clip(grads, max_norm=1.0):
    """g clipped to global norm ``max_norm``: torch.nn.utils.clip_grad_norm_ itself,
    g * min(1, max_norm / (||g|| + 1e-6))."""
    spec._check_max_norm(max_norm)
    ps = {k: torch.nn.Parameter(torch.zeros_like(v)) for k, v in grads.items()}
    for k, p in ps.items():
        p.grad = grads[k].detach().clone()
    torch.nn.utils.clip_grad_norm_(list(ps.values()), max_norm)
    return {k: p.grad for k, p in ps.items()}


def _make_optimizer(parameters, lr, weight_decay=1e-4, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam with coupled weight decay (NOT AdamW)."""
    return torch.optim.Adam(parameters, lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay)


def optimizer_steps(params, grads_seq, lrs, weight_decay=1e-4, max_norm=1.0, b1=0.9, b2=0.999, eps=1e-8):
    """Apply the given gradients for len(lrs) steps: clip by global norm, coupled weight decay, Adam.
    Returns the list of parameter dicts after each step."""
    ps = {k: torch.nn.Parameter(v.detach().clone()) for k, v in params.items()}
    lrs = [float(x) for x in lrs]
    opt = _make_optimizer(list(ps.values()), lrs[0] if lrs else 1e-3, weight_decay, b1, b2, eps)
    out = []
    for t, lr in enumerate(lrs):
        for k, p in ps.items():
            p.grad = grads_seq[t][k].detach().clone()
        torch.nn.utils.clip_grad_norm_(list(ps.values()), max_norm)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        out.append({k: p.detach().clone() for k, p in ps.items()})
    return out


def plateau(epoch_losses, lr, factor=0.5, patience=2, threshold=1e-4, cooldown=0, min_lr=0.0):
    """(num_epochs,) learning rate after each epoch's ReduceLROnPlateau step (torch semantics): the
    torch.optim.lr_scheduler one itself."""
    spec._check_plateau(factor, patience)
    p = torch.nn.Parameter(torch.zeros(()))
    opt = torch.optim.SGD([p], lr=float(lr))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=factor, patience=int(patience),
                                                       threshold=threshold, threshold_mode="rel",
                                                       cooldown=int(cooldown), min_lr=float(min_lr))
    out = []
    for loss in epoch_losses:
        sched.step(float(loss))
        out.append(opt.param_groups[0]["lr"])
    return torch.tensor(out, dtype=torch.float64)


class EarlyStopping:
    """better if loss < best - min_delta; ``step`` returns True when ``patience`` epochs in a row were
    not better; ``restore`` loads the best state_dict (deep-copied when it was seen) into the model."""

    def __init__(self, patience=5, min_delta=1e-3):
        spec._check_patience(patience)
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.best, self.best_epoch, self.count, self.best_state = float("inf"), -1, 0, None

    def step(self, loss, model, epoch):
        loss = float(loss)
        if loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.count = loss, epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.count += 1
        return self.count >= self.patience

    def restore(self, model):
        model.load_state_dict(self.best_state)


def early_stopping(epoch_losses, epoch_params, patience=5, min_delta=1e-3):
    """Monitor ``epoch_losses``; returns {"stopped", "stop_epoch", "best_epoch", "params"} (as np_ref)."""
    spec._check_epochs(len(epoch_losses), len(epoch_params))
    stopper = EarlyStopping(patience, min_delta)
    model = torch.nn.ParameterDict({k.replace(".", "_"): torch.nn.Parameter(v.detach().clone())
                                    for k, v in epoch_params[0].items()})
    keys = list(epoch_params[0].keys())

    def state():
        return {k: model[k.replace(".", "_")].detach().clone() for k in keys}

    for e, params in enumerate(epoch_params):
        with torch.no_grad():
            for k in keys:
                model[k.replace(".", "_")].copy_(params[k])
        if stopper.step(epoch_losses[e], model, e):
            stopper.restore(model)
            return {"stopped": True, "stop_epoch": e, "best_epoch": stopper.best_epoch, "params": state()}
    return {"stopped": False, "stop_epoch": len(epoch_params) - 1, "best_epoch": stopper.best_epoch,
            "params": state()}


def value_targets(player_role, winner, perspective="alternating"):
    """(T,) float32 value target of every position of one game (the final outcome on every position):
    draw -> 0; "alternating": +1 if the player to move won, else -1; "fixed": first player's view."""
    winner = int(winner)
    spec._check_outcome(winner, perspective)
    role = torch.as_tensor(player_role).to(torch.int64)
    if winner == 0:
        return torch.zeros(role.shape, dtype=torch.float32)
    if perspective == "fixed":
        return torch.full(role.shape, 1.0 if winner == 1 else -1.0, dtype=torch.float32)
    return torch.where(role + 1 == winner, 1.0, -1.0).to(torch.float32)


def make_examples(colours, policies, player_role, winner, perspective="alternating"):
    """The seed's training examples of one game (as np_ref.make_examples), as torch tensors."""
    colours = np.asarray(colours)
    role = torch.as_tensor(player_role).to(torch.int64)
    policies = torch.as_tensor(policies).to(torch.float32)
    spec._check_examples(colours.shape, tuple(policies.shape), tuple(role.shape))
    values = value_targets(role, winner, perspective)
    out = []
    for t in range(colours.shape[0]):
        ei, ea = encoding.encode(colours[t])
        out.append({"board_state": {"edge_index": torch.from_numpy(ei), "edge_attr": torch.from_numpy(ea)},
                    "policy": policies[t].clone(), "value": values[t], "player_role": role[t]})
    return out


# ---------------------------------------------------------------------------------------------------
# the training loop
# ---------------------------------------------------------------------------------------------------



def trajectory(params, edge_index, batches, config):
    """Train from canonical ``params`` on ``batches`` (a dict of arrays stacked over steps: edge_attr
    (N, B, 2E, 3), player_role (N, B), policy (N, B, E), value (N, B)) for N steps with the warmup of
    total_steps = N. Returns {"step_KK": {"loss": loss before the step, "params": canonical after it}}."""
    with nets._one_thread():  # 32-wide layers: see nets.torch_ref._one_thread
        return _trajectory(params, edge_index, batches, config)


def _trajectory(params, edge_index, batches, config):
    cfg = {**spec.DEFAULT_CONFIG, **dict(config)}
    num_steps = int(batches["value"].shape[0])
    model = nets.to_native(params)
    model.train()  # no dropout / batch norm: train and eval modes compute the same function
    opt = _make_optimizer(model.parameters(), cfg["lr"], cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _warmup_lambda(num_steps))
    ei = torch.as_tensor(edge_index).to(torch.int64)
    out = {}
    for t in range(num_steps):
        logits, value = model(ei, batches["edge_attr"][t], batches["player_role"][t].to(torch.float32))
        policy = tap("train.loss.policy", losses.policy(logits, batches["policy"][t]))
        value_term = tap("train.loss.value", losses.value(value[:, None], batches["value"][t]))
        l2 = tap("train.loss.l2", losses.l2(dict(model.named_parameters()), cfg["l2_coeff"]))
        loss = tap("train.loss.total", cfg["policy_weight"] * policy + cfg["value_weight"] * value_term + l2)
        tap("train.lr", torch.tensor(opt.param_groups[0]["lr"], dtype=torch.float64))
        opt.zero_grad()
        loss.backward()
        tap("train.grad_norm.before_clip", torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["max_norm"]))
        if tap_active():
            tap("train.grad_norm.after_clip", torch.linalg.vector_norm(
                torch.stack([torch.linalg.vector_norm(q.grad) for q in model.parameters()])))
        opt.step()
        sched.step()
        if tap_active():
            tap("train.params", nets.from_native(model))
        out[f"step_{t:02d}"] = {"loss": loss.detach(), "params": nets.from_native(model)}
    return out


def fit(params, examples, order, config):
    """The training loop on the seed's examples in an injected data order (as np_ref.fit): step t trains on
    examples[order[t]]. Returns ``trajectory``'s output; the same taps."""
    edge_index, batches = spec._batches_from_examples(examples, order)
    return trajectory(params, edge_index, {k: torch.as_tensor(v) for k, v in batches.items()}, config)

