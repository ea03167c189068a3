"""The training pieces called with their defaults: the spec's constants that live in signatures.

``train.clip`` / ``train.weight_decay`` / ``train.plateau`` / ``train.early_stopping`` pass every
hyper-parameter explicitly, so a port whose *default* max_norm, weight decay, Adam betas / eps, plateau factor /
patience / threshold / cooldown / min_lr or early-stopping patience / min_delta differs from the spec passed
them all (measured by ``parity mutate``: 40 surviving mutants). This check calls each component with only its
required arguments, in regimes where each default is many tolerances wide:

- clip: a gradient of global norm 12 (max_norm x10 / x0.1 scales the result by 10).
- optimizer_steps: ordinary gradients (betas, max_norm); gradients x1e-7, where the coupled decay 1e-4 * p
  dominates the gradient (a decay x10 / x0.1 turns the step); gradients x1e-8 with the decay passed as 0, where
  |g| ~ eps = 1e-8 (eps x10 halves the step). The steps are lr 1e-2..3e-2, parameters ~1: the float32 atol
  1e-5 is 1e-3 of a step. Learning rates (plateau) go down to ~4e-4: atol 1e-5 is 2.5% of the smallest, below
  the 50% a factor or min_lr change makes; early-stopping epochs are integers (exact).
- plateau: lr 0.1 over 40 epochs: 1e-3-relative improvements (counted at threshold 1e-4, not at 1e-3),
  3e-5-relative ones (not counted at 1e-4, counted at 1e-5), bad runs of exactly 3 epochs (patience 2 reduces
  once per run; 3 never), reductions on consecutive epochs (cooldown 0 vs 1) and below lr 1e-3 (min_lr 0).
- early_stopping: improvements of 5e-3 (counted at min_delta 1e-3, not at 1e-2), of 5e-4 (counted at 1e-4
  only), a rise of 5e-4 (counted as better at min_delta -1e-3), and a bad run of exactly 5 epochs; plus an exact
  tie loss == best - min_delta (min_delta 2^-10, representable), which the strict ``<`` of the spec does not
  count as better.
"""

from __future__ import annotations

import numpy as np

from checks._common import control
from checks.train.optim import optim_case
from harness.base import Check

COMPONENTS = ("train.clip", "train.optimizer_steps", "train.plateau", "train.early_stopping")


def _plateau_losses():
    """40 epochs from 4.0: see the module docstring."""
    x, out = 4.0, []
    for step in ("=", "=", "=", "-1e-3", "=", "=", "=", "-3e-5", "=", "=", "-0.5", "=", "=", "=", "=", "=", "=",
                 "=", "=", "=", "=", "=", "=", "=", "=", "=", "-1e-3", "=", "=", "=", "=", "=", "=", "=", "=", "=",
                 "=", "=", "=", "="):
        if step == "-0.5":
            x -= 0.5
        elif step != "=":
            x *= 1 + float(step)
        out.append(x)
    return np.asarray(out, np.float32)


def _early_losses():
    # best 1.0 -> 0.995 (better by 5e-3) -> 0.9945 (5e-4: better at min_delta 1e-4 only) -> 0.995 (a rise of 5e-4)
    # -> five epochs not better -> stop at epoch 7 (patience 5); a longer patience never stops
    return np.asarray([1.0, 0.995, 0.9945, 0.995, 0.996, 0.9951, 0.998, 0.997, 0.999, 0.9949, 0.9948, 0.9947],
                      np.float32)


TIE_DELTA = 2.0 ** -10  # exact in float32 and float64: best - min_delta is representable, a tie is exact


def defaults_case(seed):
    k = optim_case(seed)
    rng = np.random.default_rng(seed + 11)
    k["tiny_grads"] = [{n: v * np.float32(1e-7) for n, v in g.items()} for g in k["grads"]]
    k["eps_grads"] = [{n: v * np.float32(1e-8) for n, v in g.items()} for g in k["grads"]]
    k["plateau_losses"] = _plateau_losses()
    k["early_losses"] = _early_losses()
    # 1 - 2^-10 is exactly best - min_delta: NOT better (strict <), so patience 2 stops at epoch 2, best epoch 0
    k["tie_losses"] = np.asarray([1.0, 1.0 - TIE_DELTA, 1.0 - TIE_DELTA, 0.5], np.float32)
    k["early_params"] = [{"w": rng.normal(size=(2, 3)).astype(np.float32)} for _ in k["early_losses"]]
    return k


def _run(c, k):
    steps = c["train.optimizer_steps"]
    return {
        "train.clip": c["train.clip"](k["clip_above"]),
        "train.optimizer_steps": {"ordinary": steps(k["params"], k["grads"], k["lrs"]),
                                  "decay_dominates": steps(k["params"], k["tiny_grads"], k["lrs"]),
                                  "grad_near_eps": steps(k["params"], k["eps_grads"], k["lrs"], 0.0)},
        "train.plateau": c["train.plateau"](k["plateau_losses"], 0.1),
        "train.early_stopping": {
            "defaults": c["train.early_stopping"](k["early_losses"], k["early_params"]),
            "tie": c["train.early_stopping"](k["tie_losses"], k["early_params"][:len(k["tie_losses"])], 2, TIE_DELTA)},
    }


def _patience_3(orig):
    def f(epoch_losses, lr, factor=0.5, patience=3, threshold=1e-4, cooldown=0, min_lr=0.0):
        return orig(epoch_losses, lr, factor, patience, threshold, cooldown, min_lr)
    return f


def _eps_1e_6(orig):
    def f(params, grads_seq, lrs, weight_decay=1e-4, max_norm=1.0, b1=0.9, b2=0.999, eps=1e-6):
        return orig(params, grads_seq, lrs, weight_decay, max_norm, b1, b2, eps)
    return f


def _min_delta_1e_2(orig):
    return lambda epoch_losses, epoch_params, patience=5, min_delta=1e-2: orig(epoch_losses, epoch_params, patience,
                                                                              min_delta)


CHECKS = [
    Check(
        name="train.defaults", components=COMPONENTS, inputs=defaults_case, run=_run, by_component=True,
        slack_reason="the widest leaf is a bias after one step at gradients ~ eps (~7e-4: 1.5%), which eps x10 changes "
                     "by tens of percent; ordinary steps (lr 1e-2..3e-2) are 1000 atol wide, learning rates 40 (a "
                     "factor or min_lr change moves them 50%)",
        description="clip, optimizer steps, plateau and early stopping called with their defaults (max_norm 1, "
                    "decay 1e-4, betas 0.9 / 0.999, eps 1e-8, factor 0.5, patience 2, threshold 1e-4, cooldown 0, "
                    "min_lr 0, patience 5, min_delta 1e-3) in regimes where each default is many tolerances wide",
        controls=(
            control("plateau_default_patience_3", "ReduceLROnPlateau default patience 3",
                    "train.plateau", _patience_3, target="torch", expect_components=("train.plateau",)),
            control("adam_default_eps_1e-6", "Adam default eps 1e-6",
                    "train.optimizer_steps", _eps_1e_6, target="jax", expect_components=("train.optimizer_steps",)),
            control("early_default_min_delta_1e-2", "early stopping default min_delta 1e-2",
                    "train.early_stopping", _min_delta_1e_2, target="torch",
                    expect_components=("train.early_stopping",)),
        ),
    ),
]
