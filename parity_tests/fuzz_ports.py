"""Ports with planted divergences, for the fuzzer's and the HTML report's own tests (and the README picture).

SEEDY   a torch port whose policy loss uses log(softmax + 1e-10) instead of the seed's 1e-8: it agrees on
        most inputs and diverges only on cases where a target puts mass on an action with probability
        below ~1e-7 -- what `parity fuzz` must find, shrink and save.
DRIFT   the same loss bug, plus a training loop that clips gradients at global norm 1.5 instead of the
        configured 1.0: its trajectory agrees until the first step whose gradient norm lies between the two,
        then drifts away (a divergence-over-time curve with a first divergence); and its value loss forgets
        the 0.9 label smoothing.
"""

import torch

from harness.base import Implementation
from reference._contract import components_of
from reference.losses import torch_ref as losses
from reference.train import torch_ref as train


def _policy_eps_1e10(logits, target):
    t = torch.as_tensor(target)
    p = torch.softmax(torch.as_tensor(logits), dim=-1)
    return torch.mean(torch.sum(torch.where(t > 1e-7, -t * torch.log(p + 1e-10), torch.zeros_like(t)), dim=-1))


def _trajectory_clip_15(params, edge_index, batches, config):
    cfg = dict(config)
    cfg["max_norm"] = 1.5
    return train.trajectory(params, edge_index, batches, cfg)


def _value_no_smoothing(value_output, value_target):
    v = torch.as_tensor(value_output).squeeze(-1)
    return torch.nn.functional.smooth_l1_loss(v, torch.as_tensor(value_target), beta=1.0)


SEEDY = Implementation(name="seedyport", framework="torch",
                       components={**components_of(losses), "losses.policy": _policy_eps_1e10})
DRIFT = Implementation(name="driftport", framework="torch",
                       components={**components_of(losses), **components_of(train), "losses.policy": _policy_eps_1e10,
                                   "losses.value": _value_no_smoothing, "train.trajectory": _trajectory_clip_15})

# example_ports.BROKEN after its fix: same port name, softmax no longer flipped (a planted fix for `parity diff`)
from reference.toy import torch_ref as toy

BROKEN_FIXED = Implementation(name="brokenport", framework="torch", components=components_of(toy))
