"""Training pieces of the seed trainer, JAX reference (optax); the contract and semantics: spec.py.

The optimiser is ``optax.chain(clip_by_global_norm(max_norm), add_decayed_weights(wd), scale_by_adam(),
scale_by_learning_rate(schedule))`` -- coupled decay as torch.optim.Adam(weight_decay=wd), NOT adamw.
optax's clip multiplies by max_norm / norm only above the threshold and without torch's 1e-6: the two
agree to ~1e-6 / norm relative, not bit for bit. optax computes Adam's bias corrections 1 - b^t in
float32 (1 - 0.999 is off by 1.3e-5 relative; torch uses Python floats): measured 1.1e-6 on parameters
after 6 steps at lr 3e-2 against the float64 oracle (1.2e-7 once the oracle rounds them the same way).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from harness.tap import active as tap_active
from harness.tap import tap
from reference.losses import jax_ref as losses
from reference.nets import jax_ref as nets
from reference.train import spec


def _warmup_schedule(base_lr, warmup):
    """optax schedule: count k (from 0) -> lr * min(k + 1, W) / W; W = 0 gives lr. (optax's
    linear_schedule(0, lr, W) would give lr * k / W: one step behind.) ``warmup`` may be traced."""
    w = jnp.asarray(warmup, jnp.float32)

    def schedule(count):
        frac = jnp.minimum(count.astype(jnp.float32) + 1.0, w) / jnp.maximum(w, 1.0)
        return base_lr * jnp.where(w > 0, frac, 1.0)

    return schedule


def _make_optimizer(schedule, weight_decay=1e-4, max_norm=1.0, b1=0.9, b2=0.999, eps=1e-8):
    """clip by global norm -> coupled weight decay -> Adam -> scheduled learning rate."""
    return optax.chain(
        optax.clip_by_global_norm(max_norm),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
        optax.scale_by_learning_rate(schedule),
    )


@functools.partial(jax.jit, static_argnames=("num_steps",))
def _probe_schedule(base_lr, warmup, num_steps):
    # the learning rate as the optimiser consumes it: updates of a unit gradient through the chain
    tx = optax.scale_by_learning_rate(_warmup_schedule(base_lr, warmup))
    params = jnp.zeros(())
    state = tx.init(params)

    def body(state, _):
        upd, state = tx.update(jnp.ones(()), state, params)
        return state, -upd

    _, lrs = jax.lax.scan(body, state, None, length=num_steps)
    return lrs


def warmup_lrs(base_lr, total_steps, num_steps):
    """(num_steps,) learning rate used at step k = 0..num_steps-1: lr * min(k + 1, W) / W, W = int(0.15 T)."""
    spec._check_base_lr(base_lr)
    return _probe_schedule(jnp.float32(base_lr), spec._warmup_steps(total_steps), int(num_steps))


def clip(grads, max_norm=1.0):
    """g clipped to global norm ``max_norm``: here optax.clip_by_global_norm, g * max_norm / ||g|| when
    ||g|| > max_norm (no eps)."""
    spec._check_max_norm(max_norm)
    return _clip(grads, jnp.float32(max_norm))


@jax.jit
def _clip(grads, max_norm):
    tx = optax.clip_by_global_norm(max_norm)
    upd, _ = tx.update(grads, tx.init(grads))
    return upd


@functools.partial(jax.jit, static_argnames=("b1", "b2", "eps"))
def _opt_step(params, grads, state, lrs, weight_decay, max_norm, b1, b2, eps):
    tx = _make_optimizer(lambda count: lrs[count], weight_decay, max_norm, b1, b2, eps)
    upd, state = tx.update(grads, state, params)
    return optax.apply_updates(params, upd), state


def optimizer_steps(params, grads_seq, lrs, weight_decay=1e-4, max_norm=1.0, b1=0.9, b2=0.999, eps=1e-8):
    """Apply the given gradients for len(lrs) steps: clip by global norm, coupled weight decay, Adam.
    Returns the list of parameter dicts after each step."""
    lrs = jnp.asarray(lrs, jnp.float32)
    tx = _make_optimizer(lambda count: lrs[count], weight_decay, max_norm, b1, b2, eps)
    state = tx.init(params)
    out = []
    for t in range(lrs.shape[0]):
        params, state = _opt_step(params, grads_seq[t], state, lrs, jnp.float32(weight_decay),
                                  jnp.float32(max_norm), b1, b2, eps)
        out.append(params)
    return out


@functools.partial(jax.jit, static_argnames=("factor", "threshold"))
def _plateau(epoch_losses, lr, factor, patience, threshold, cooldown, min_scale):
    tx = optax.contrib.reduce_on_plateau(factor=factor, patience=patience, rtol=threshold, atol=0.0,
                                         cooldown=cooldown, accumulation_size=1, min_scale=min_scale)
    dummy = jnp.zeros(())
    state = tx.init(dummy)

    def body(state, loss):
        _, state = tx.update(dummy, state, dummy, value=loss)
        return state, lr * state.scale

    _, lrs = jax.lax.scan(body, state, epoch_losses)
    return lrs


def plateau(epoch_losses, lr, factor=0.5, patience=2, threshold=1e-4, cooldown=0, min_lr=0.0):
    """(num_epochs,) learning rate after each epoch's ReduceLROnPlateau step (torch semantics):
    optax.contrib.reduce_on_plateau with patience + 1 (torch reduces after MORE than ``patience`` bad
    epochs, optax after ``patience``), min_scale = min_lr / lr."""
    spec._check_plateau(factor, patience)
    return _plateau(jnp.asarray(epoch_losses, jnp.float32), jnp.float32(lr), float(factor),
                    jnp.int32(int(patience) + 1), float(threshold), jnp.int32(cooldown),
                    jnp.float32(min_lr / lr))


class EarlyStoppingState(NamedTuple):
    best: float
    best_epoch: int
    count: int
    best_params: object
    stopped: bool


def _early_stopping_init(params):
    return EarlyStoppingState(float("inf"), -1, 0, params, False)


def _early_stopping_update(state, loss, params, epoch, patience=5, min_delta=1e-3):
    """One epoch of the monitor (pure): better if loss < best - min_delta; stop after ``patience``."""
    loss = float(loss)
    if loss < state.best - min_delta:
        return EarlyStoppingState(loss, epoch, 0, jax.tree.map(jnp.array, params), False)
    count = state.count + 1
    return state._replace(count=count, stopped=count >= patience)


def early_stopping(epoch_losses, epoch_params, patience=5, min_delta=1e-3):
    """Monitor ``epoch_losses``; returns {"stopped", "stop_epoch", "best_epoch", "params"} (as np_ref)."""
    spec._check_patience(patience)
    spec._check_epochs(len(epoch_losses), len(epoch_params))
    state = _early_stopping_init(epoch_params[0])
    params = epoch_params[0]
    for e in range(len(epoch_params)):
        params = epoch_params[e]
        state = _early_stopping_update(state, epoch_losses[e], params, e, patience, min_delta)
        if state.stopped:
            return {"stopped": True, "stop_epoch": e, "best_epoch": state.best_epoch, "params": state.best_params}
    return {"stopped": False, "stop_epoch": len(epoch_params) - 1, "best_epoch": state.best_epoch,
            "params": params}


def value_targets(player_role, winner, perspective="alternating"):
    """(T,) float32 value target of every position of one game (the final outcome on every position):
    draw -> 0; "alternating": +1 if the player to move won, else -1; "fixed": first player's view."""
    winner = int(winner)
    spec._check_outcome(winner, perspective)
    role = jnp.asarray(player_role).astype(jnp.int32)
    if winner == 0:
        return jnp.zeros(role.shape, jnp.float32)
    if perspective == "fixed":
        return jnp.full(role.shape, 1.0 if winner == 1 else -1.0, jnp.float32)
    return jnp.where(role + 1 == winner, 1.0, -1.0).astype(jnp.float32)


def make_examples(colours, policies, player_role, winner, perspective="alternating"):
    """The seed's training examples of one game (as np_ref.make_examples), as JAX arrays."""
    from reference.nets import encoding

    colours = np.asarray(colours)
    role = jnp.asarray(player_role).astype(jnp.int32)
    policies = jnp.asarray(policies, jnp.float32)
    spec._check_examples(colours.shape, tuple(policies.shape), tuple(role.shape))
    values = value_targets(role, winner, perspective)
    out = []
    for t in range(colours.shape[0]):
        ei, ea = encoding.encode(colours[t])
        out.append({"board_state": {"edge_index": jnp.asarray(ei), "edge_attr": jnp.asarray(ea)},
                    "policy": policies[t], "value": values[t], "player_role": role[t]})
    return out


# ---------------------------------------------------------------------------------------------------
# the training loop
# ---------------------------------------------------------------------------------------------------

def _loss_fn(flat, unravel, hidden, edge_index, batch, policy_weight, value_weight, l2_coeff):
    variables = unravel(flat)
    logits, value = nets.PolicyValueNet(hidden=hidden).apply(
        variables, edge_index, batch["edge_attr"], batch["player_role"].astype(jnp.float32))
    policy = tap("train.loss.policy", losses.policy(logits, batch["policy"]))
    value_term = tap("train.loss.value", losses._value_loss(value[:, None], batch["value"]))
    l2 = tap("train.loss.l2", losses.l2(variables, l2_coeff))
    return tap("train.loss.total", policy_weight * policy + value_weight * value_term + l2)


@functools.partial(jax.jit, static_argnames=("unravel", "hidden"))
def _train_step(flat, opt_state, edge_index, batch, hyper, unravel, hidden):
    loss, grads = jax.value_and_grad(_loss_fn)(flat, unravel, hidden, edge_index, batch, hyper["policy_weight"],
                                               hyper["value_weight"], hyper["l2_coeff"])
    schedule = _warmup_schedule(hyper["lr"], hyper["warmup"])
    tx = _make_optimizer(schedule, hyper["weight_decay"], hyper["max_norm"])
    if tap_active():  # decided at trace time; a recording compiles its own program (harness.tap)
        tap("train.lr", schedule(opt_state[-1].count))  # the count scale_by_learning_rate reads
        tap("train.grad_norm.before_clip", optax.tree.norm(grads))
        clipped, _ = optax.clip_by_global_norm(hyper["max_norm"]).update(grads, optax.EmptyState())
        tap("train.grad_norm.after_clip", optax.tree.norm(clipped))
    upd, opt_state = tx.update(grads, opt_state, flat)
    flat = optax.apply_updates(flat, upd)
    return flat, opt_state, loss, unravel(flat)


_UNRAVEL: dict = {}  # hidden -> unravel function: one per layout, so that _train_step compiles once


def _ravel(variables, hidden):
    flat, unravel = ravel_pytree(variables)
    return flat, _UNRAVEL.setdefault(hidden, unravel)


def trajectory(params, edge_index, batches, config):
    """Train from canonical ``params`` on ``batches`` (a dict of arrays stacked over steps: edge_attr
    (N, B, 2E, 3), player_role (N, B), policy (N, B, E), value (N, B)) for N steps with the warmup of
    total_steps = N. Returns {"step_KK": {"loss": loss before the step, "params": canonical after it}}.

    The optimiser runs on the parameters raveled into one vector (jax.flatten_util.ravel_pytree): the same
    clip / decay / Adam arithmetic element by element (the global norm sums the same squares), and XLA
    compiles one leaf instead of 23 (0.4 s instead of 2.4 s on the loaded CI machine)."""
    cfg = {**spec.DEFAULT_CONFIG, **dict(config)}
    num_steps = int(np.shape(batches["value"])[0])
    variables = nets.to_native(params)
    hidden = int(variables["params"]["node_in"]["bias"].shape[0])
    flat, unravel = _ravel(variables, hidden)
    hyper = {k: jnp.float32(cfg[k]) for k in spec.DEFAULT_CONFIG}
    hyper["warmup"] = jnp.float32(spec._warmup_steps(num_steps))
    tx = _make_optimizer(_warmup_schedule(hyper["lr"], hyper["warmup"]), hyper["weight_decay"], hyper["max_norm"])
    opt_state = tx.init(flat)
    ei = jnp.asarray(edge_index, jnp.int32)
    out = {}
    for t in range(num_steps):
        batch = {k: jnp.asarray(v[t]) for k, v in batches.items()}
        flat, opt_state, loss, variables = _train_step(flat, opt_state, ei, batch, hyper, unravel, hidden)
        if tap_active():
            tap("train.params", nets.from_native(variables))
        out[f"step_{t:02d}"] = {"loss": loss, "params": nets.from_native(variables)}
    return out


def fit(params, examples, order, config):
    """The training loop on the seed's examples in an injected data order (as np_ref.fit): step t trains on
    examples[order[t]]. Returns ``trajectory``'s output; the same taps."""
    edge_index, batches = spec._batches_from_examples(examples, order)
    return trajectory(params, edge_index, batches, config)

