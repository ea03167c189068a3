"""Training: ReduceLROnPlateau (torch semantics) and early stopping with best-parameter restore."""

from __future__ import annotations

import numpy as np

from checks._common import controls
from checks.train import SCHEDULE_TOL
from harness.base import Check, Exact, Knob

# --------------------------------------------------------------------------------------------------
# plateau
# --------------------------------------------------------------------------------------------------

def _plateau_case(seed):
    rng = np.random.default_rng(seed)
    # improvements, exact plateaus, and sub-threshold "improvements" (rel 3e-5 < threshold 1e-4)
    losses = [5.0, 4.0, 4.0, 4.0, 4.0, 3.0, 2.9999, 2.9999, 3.5, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0,
              1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    offset = float(rng.integers(0, 3))
    # losses ~0.08 that improve by 2e-3 relative (1.6e-4 absolute) every epoch: better at threshold 1e-4 (rel), so
    # the rate never drops; an absolute threshold of 1e-3 on top (optax's atol, 0 in the spec) reduces it every
    # patience + 1 epochs. Same length as ``losses``: the JAX program is reused.
    small = 0.08 * (1.0 - 2e-3) ** np.arange(len(losses))
    return {"losses": (np.asarray(losses) + offset).astype(np.float32), "lr": 0.1,
            "small_losses": small.astype(np.float32)}


PLATEAU_SETTINGS = {  # name: (factor, patience, cooldown, min_lr)
    "patience2_cooldown1": (0.5, 2, 1, 1e-3),
    "patience0": (0.5, 0, 0, 0.0),
    "patience3_min_lr": (0.1, 3, 0, 2e-3),
}


def _run_plateau(c, k):
    out = {name: c["train.plateau"](k["losses"], k["lr"], f, p, 1e-4, cd, m)
           for name, (f, p, cd, m) in PLATEAU_SETTINGS.items()}
    if "small_losses" in k:  # the fixed case (hypothesis cases draw ``losses`` only)
        out["small_relative_improvements"] = c["train.plateau"](k["small_losses"], k["lr"], 0.5, 2, 1e-4, 0, 0.0)
    return out


def _plateau_strategy():
    from hypothesis import strategies as st

    levels = st.lists(st.integers(0, 6), min_size=20, max_size=20)
    return levels.map(lambda ls: {"losses": (1.0 + 0.5 * np.asarray(ls, np.float64)).astype(np.float32), "lr": 0.1})


def _plateau_patience_off_by_one(orig):
    """optax's patience taken literally (a port's drift): optax.contrib.reduce_on_plateau(patience=p) reduces after
    p bad epochs, torch after p + 1. Written with optax's public API, as the port would."""
    import jax
    import jax.numpy as jnp
    import optax

    def f(epoch_losses, lr, factor=0.5, patience=2, threshold=1e-4, cooldown=0, min_lr=0.0):
        tx = optax.contrib.reduce_on_plateau(factor=float(factor), patience=jnp.int32(int(patience)), rtol=float(threshold),
                                             atol=0.0, cooldown=jnp.int32(cooldown), accumulation_size=1,
                                             min_scale=jnp.float32(min_lr / lr))
        zero, lr32 = jnp.zeros(()), jnp.float32(lr)
        step = lambda state, loss: (lambda s: (s, lr32 * s.scale))(tx.update(zero, state, zero, value=loss)[1])
        return jax.lax.scan(step, tx.init(zero), jnp.asarray(epoch_losses, jnp.float32))[1]
    return f


def _plateau_no_cooldown(orig):
    return lambda epoch_losses, lr, factor=0.5, patience=2, threshold=1e-4, cooldown=0, min_lr=0.0: orig(
        epoch_losses, lr, factor, patience, threshold, 0, min_lr)


# --------------------------------------------------------------------------------------------------
# early stopping
# --------------------------------------------------------------------------------------------------

def _early_case(seed):
    rng = np.random.default_rng(seed)
    stops = [1.0, 0.8, 0.7995, 0.75, 0.7495, 0.76, 0.7492, 0.75, 0.8, 0.7, 0.69]  # stops at epoch 8, best 3
    never = [1.0, 0.9, 0.95, 0.85, 0.86, 0.84, 0.80, 0.81, 0.82, 0.79, 0.78]  # never 5 bad in a row
    params = [{"w": rng.normal(size=(4, 3)).astype(np.float32), "b": rng.normal(size=(3,)).astype(np.float32)}
              for _ in stops]
    return {"stops": np.asarray(stops, np.float32), "never": np.asarray(never, np.float32), "params": params}


def _early_strategy():
    """Losses on a grid of 0.5e-3 (steps below, at and above min_delta 1e-3), 12 epochs, patience 1..6."""
    from hypothesis import strategies as st

    def build(levels, patience, seed):
        rng = np.random.default_rng(seed)
        params = [{"w": rng.normal(size=(4, 3)).astype(np.float32), "b": rng.normal(size=(3,)).astype(np.float32)}
                  for _ in levels]
        losses = (1.0 - 0.5e-3 * np.asarray(levels, np.float64)).astype(np.float32)
        return {"stops": losses, "never": losses[::-1].copy(), "params": params, "patience": patience}

    return st.builds(build, st.lists(st.integers(0, 8), min_size=12, max_size=12), st.integers(1, 6),
                     st.integers(0, 2**16))


def _run_early(c, k):
    if "patience" in k:  # hypothesis case
        return {"stops": c["train.early_stopping"](k["stops"], k["params"], k["patience"], 1e-3),
                "never": c["train.early_stopping"](k["never"], k["params"], k["patience"], 1e-3)}
    return {"stops": c["train.early_stopping"](k["stops"], k["params"], 5, 1e-3),
            "never": c["train.early_stopping"](k["never"], k["params"], 5, 1e-3),
            "patience2": c["train.early_stopping"](k["stops"], k["params"], 2, 1e-3)}


def _no_best_restore(orig):
    def f(epoch_losses, epoch_params, patience=5, min_delta=1e-3):
        r = orig(epoch_losses, epoch_params, patience, min_delta)
        return {**r, "params": epoch_params[r["stop_epoch"]]}  # stopped, kept the last parameters
    return f


def _early_patience_off_by_one(orig):
    return lambda epoch_losses, epoch_params, patience=5, min_delta=1e-3: orig(
        epoch_losses, epoch_params, patience + 1, min_delta)


CHECKS = [
    Check(
        name="train.plateau", components=("train.plateau",), inputs=_plateau_case, run=_run_plateau,
        mode=SCHEDULE_TOL, strategy=_plateau_strategy,
        description="ReduceLROnPlateau learning-rate trace (torch semantics; optax reduce_on_plateau with "
                    "patience + 1), with cooldown, min_lr, sub-threshold improvements, and small losses whose "
                    "relative improvements count (no absolute threshold)",
        controls=controls(
            "train.plateau",
            ("plateau_patience_off_by_one", "optax patience = torch patience (reduces one epoch early)",
             _plateau_patience_off_by_one, "jax"),
            ("cooldown_ignored", "cooldown dropped", _plateau_no_cooldown, "torch")),
    ),
    Check(
        name="train.early_stopping", components=("train.early_stopping",), inputs=_early_case, run=_run_early,
        mode=Exact(), knobs=(Knob("patience", 5), Knob("min_delta", 1e-3)), strategy=_early_strategy,
        description="stop epoch, best epoch and the restored (best) parameters, bit for bit; min_delta 1e-3, "
                    "patience 5 and 2, and a run that never stops",
        controls=controls(
            "train.early_stopping",
            ("no_best_restore", "stopped without restoring the best parameters", _no_best_restore, "jax"),
            ("early_patience_off_by_one", "stops one epoch late", _early_patience_off_by_one, "torch")),
    ),
]
