"""Training: per-step warmup learning rates, clipping by global norm, coupled weight decay + Adam."""

from __future__ import annotations

import numpy as np

from checks._common import control, controls
from checks.train import SCHEDULE_TOL
from harness.base import Check, Knob

# --------------------------------------------------------------------------------------------------
# warmup
# --------------------------------------------------------------------------------------------------

WARMUP_TOTALS = (40, 10, 5)  # W = 6, 1, 0


def _warmup_case(seed):
    return {"base_lr": 1e-3 * (1 + seed % 3), "num_steps": 12, "totals": list(WARMUP_TOTALS)}


def _run_warmup(c, k):
    return {f"total_{t}": c["train.warmup_lrs"](k["base_lr"], t, k["num_steps"]) for t in k["totals"]}


def _warmup_strategy():
    """Any learning rate, total steps 1..200 (W = 0..30); 12 recorded steps (one JAX compile)."""
    from hypothesis import strategies as st

    return st.builds(lambda lr, totals: {"base_lr": lr, "num_steps": 12, "totals": totals},
                     st.floats(1e-5, 1.0), st.lists(st.integers(1, 200), min_size=1, max_size=3))


def _warmup_one_behind(orig):
    import optax

    def f(base_lr, total_steps, num_steps):
        import jax.numpy as jnp

        w = int(0.15 * total_steps)
        sched = optax.linear_schedule(0.0, base_lr, w) if w > 0 else optax.constant_schedule(base_lr)
        return jnp.stack([jnp.asarray(sched(k), jnp.float32) for k in range(num_steps)])
    return f


# --------------------------------------------------------------------------------------------------
# clipping, weight decay, Adam
# --------------------------------------------------------------------------------------------------

def _param_tree(rng, zero_bias=False):
    return {"w": rng.normal(size=(6, 5)).astype(np.float32),
            "b": np.zeros(5, np.float32) if zero_bias else rng.normal(size=5).astype(np.float32),
            "v": rng.normal(size=(3,)).astype(np.float32)}


def optim_case(seed, weight_decay=0.1):
    """Parameters ~ N(0, 1) with a zero bias; 6 gradients scaled to global norms below and above 1."""
    rng = np.random.default_rng(seed)
    params = _param_tree(rng, zero_bias=True)
    norms = (0.3, 4.0, 0.8, 12.0, 2.5, 0.5)  # global gradient norms: below and above max_norm 1
    grads = []
    for s in norms:
        g = _param_tree(rng)
        total = np.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2)) for v in g.values()))
        grads.append({k: (v * (s / total)).astype(np.float32) for k, v in g.items()})
    lrs = np.array([1e-2, 2e-2, 3e-2, 3e-2, 3e-2, 3e-2], np.float32)
    return {"params": params, "grads": grads, "lrs": lrs, "weight_decay": weight_decay, "max_norm": 1.0,
            "clip_above": grads[3], "clip_below": grads[0], "clip_zero": {k: v * 0 for k, v in grads[1].items()}}


def _run_clip(c, k):
    out = {}
    if "train.clip" in c:
        out["train.clip"] = {"above": c["train.clip"](k["clip_above"], k["max_norm"]),
                             "below": c["train.clip"](k["clip_below"], k["max_norm"]),
                             "zero": c["train.clip"](k["clip_zero"], k["max_norm"])}
    if "train.optimizer_steps" in c:
        out["train.optimizer_steps"] = c["train.optimizer_steps"](k["params"], k["grads"], k["lrs"],
                                                                  k["weight_decay"], k["max_norm"])
    return out


def _run_weight_decay(c, k):
    return c["train.optimizer_steps"](k["params"], k["grads"], k["lrs"], k["weight_decay"], k["max_norm"])


def _jax_chain_steps(build):
    """An optimizer_steps for JAX built from ``build(schedule, weight_decay, max_norm) -> optax chain``."""
    def f(params, grads_seq, lrs, weight_decay=1e-4, max_norm=1.0, b1=0.9, b2=0.999, eps=1e-8):
        import jax
        import jax.numpy as jnp
        import optax

        lrs = jnp.asarray(lrs, jnp.float32)
        tx = build(lambda count: lrs[count], weight_decay, max_norm)
        state = tx.init(params)

        @jax.jit
        def step(params, grads, state):
            upd, state = tx.update(grads, state, params)
            return optax.apply_updates(params, upd), state

        out = []
        for t in range(lrs.shape[0]):
            params, state = step(params, grads_seq[t], state)
            out.append(params)
        return out
    return f


def _adamw(orig):
    import optax

    return _jax_chain_steps(lambda s, wd, mn: optax.chain(optax.clip_by_global_norm(mn),
                                                          optax.adamw(s, weight_decay=wd)))


def _decay_before_clip(orig):
    import optax

    return _jax_chain_steps(lambda s, wd, mn: optax.chain(optax.add_decayed_weights(wd), optax.clip_by_global_norm(mn),
                                                          optax.scale_by_adam(), optax.scale_by_learning_rate(s)))


def _optax_adamw_default(orig):
    import optax

    # the other half of the defaults trap: optax.adamw's default weight_decay is 1e-4 (torch AdamW: 1e-2)
    return _jax_chain_steps(lambda s, wd, mn: optax.chain(optax.clip_by_global_norm(mn), optax.adamw(s)))


def _no_weight_decay(orig):
    return lambda params, grads_seq, lrs, weight_decay=1e-4, max_norm=1.0, *a, **kw: orig(
        params, grads_seq, lrs, 0.0, max_norm, *a, **kw)


def _torch_adamw(orig):
    def f(params, grads_seq, lrs, weight_decay=1e-4, max_norm=1.0, b1=0.9, b2=0.999, eps=1e-8):
        import torch

        ps = {k: torch.nn.Parameter(v.detach().clone()) for k, v in params.items()}
        group = list(ps.values())
        opt = torch.optim.AdamW(group, lr=1e-3, betas=(b1, b2), eps=eps, weight_decay=weight_decay)
        out = []
        for grads, lr in zip(grads_seq, [float(x) for x in lrs]):
            for key, p in ps.items():
                p.grad = grads[key].detach().clone()
            torch.nn.utils.clip_grad_norm_(group, max_norm)
            opt.param_groups[0]["lr"] = lr  # one parameter group
            opt.step()
            out.append({key: p.detach().clone() for key, p in ps.items()})
        return out
    return f


def _no_clip(orig):
    return lambda grads, max_norm=1.0: grads


CHECKS = [
    Check(
        name="train.warmup", components=("train.warmup_lrs",), inputs=_warmup_case, run=_run_warmup,
        mode=SCHEDULE_TOL, strategy=_warmup_strategy,
        description="per-step learning rates lr * min(k + 1, W) / W, W = int(0.15 * total) (W = 6, 1, 0)",
        controls=(
            control("warmup_one_step_behind", "optax.linear_schedule(0, lr, W): lr * k / W",
                    "train.warmup_lrs", _warmup_one_behind, target="jax"),
        ),
    ),
    Check(
        name="train.clip", components=("train.clip", "train.optimizer_steps"), inputs=optim_case, run=_run_clip,
        by_component=True, optional=("train.clip", "train.optimizer_steps"), knobs=(Knob("max_norm", 1.0),),
        description="clip by global norm 1 (above, below, all-zero gradients) and its place in the chain: "
                    "clip, then coupled decay, then Adam (6 steps, wd 0.1, norms 0.3..12). optax clips "
                    "without torch's +1e-6: ~1e-6/norm relative, inside float32 rtol",
        controls=(
            control("no_clipping", "gradients not clipped", "train.clip", _no_clip, target="jax"),
            control("decay_before_clipping", "add_decayed_weights before clip_by_global_norm",
                    "train.optimizer_steps", _decay_before_clip, target="jax",
                    expect_components=("train.optimizer_steps",)),
        ),
    ),
    Check(
        name="train.weight_decay", components=("train.optimizer_steps",), inputs=optim_case, run=_run_weight_decay,
        description="coupled weight decay (g + wd p, torch.optim.Adam(weight_decay)) + Adam at wd 0.1, "
                    "6 steps, lr 1e-2..3e-2. jax is 1.1e-6 from the oracle: optax's float32 bias corrections "
                    "(1 - 0.999^t), inside float32 atol",
        controls=controls(
            "train.optimizer_steps",
            ("adamw_instead_of_coupled", "optax.adamw (decoupled decay)", _adamw, "jax"),
            ("torch_adamw", "torch.optim.AdamW (decoupled decay)", _torch_adamw, "torch"),
            ("optax_adamw_default_wd", "optax.adamw with its default weight_decay 1e-4", _optax_adamw_default, "jax"),
            ("no_weight_decay", "weight decay dropped", _no_weight_decay, "jax")),
    ),
]
