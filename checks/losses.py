"""Checks of the training losses (reference/losses): policy, value, L2, total, gradients.

Each negative control plants one of the seed JAX port's drifts: missing L2, squared L2, missing policy
weight, log_softmax swapped in for log(softmax + 1e-8), (B, 1) - (B,) broadcasting, a NaN gradient of the
norm at zero, no label smoothing, sum instead of mean.
"""

from __future__ import annotations

import numpy as np

from checks._common import control, controls, reference
from harness.base import Check, Knob
from reference.losses.spec import L2_COEFF

B, E = 8, 10
BATCH_SIZES = (1, 8)  # fixed shape set: JAX compiles once per shape


# --------------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------------

def _targets(rng, b, e, zero_frac=0.4):
    """Policy targets with exact zeros (at least one positive entry per row), rows summing to 1."""
    t = rng.dirichlet(np.ones(e), size=b)
    t[rng.random((b, e)) < zero_frac] = 0.0
    t[np.arange(b), rng.integers(0, e, size=b)] += 0.05
    return (t / t.sum(-1, keepdims=True)).astype(np.float32)


def _params(rng, zero=False):
    """A small parameter dict with a zero-initialised bias (the L2 gradient must be 0 there, not NaN)."""
    p = {"w1": rng.normal(size=(16, 16)), "b1": np.zeros(16), "w2": rng.normal(size=(4, 16)) * 0.5,
         "b2": rng.normal(size=(4,)) * 0.1}
    if zero:
        p = {k: np.zeros_like(v) for k, v in p.items()}
    return {k: v.astype(np.float32) for k, v in p.items()}


def loss_case(seed, b=B, spread=30.0, zero_params=False):
    """Logits with spread ``spread`` (the seed formula and log_softmax differ by units above ~20),
    targets with exact zeros, values in both Huber regimes, weights != 1."""
    rng = np.random.default_rng(seed)
    logits = (rng.uniform(-0.5, 0.5, size=(b, E)) * spread).astype(np.float32)
    return {
        "logits": logits,
        "policy_target": _targets(rng, b, E),
        "value_output": rng.uniform(-1, 1, size=(b, 1)).astype(np.float32),
        "value_target": rng.choice([-1.0, 0.0, 1.0], size=b).astype(np.float32),
        "params": _params(rng, zero=zero_params),
        "policy_weight": 0.5,
        "value_weight": 1.5,
    }


def _near_mask(seed):
    """B = 1, E = 64: one dominant action (p ~ 1) and 63 at p ~ e^-30, whose targets sit just above (31 x 5e-7)
    and just below (32 x 9e-8) the 1e-7 mask threshold; each entry in or out of the mask moves the loss by
    t * 18.4. A threshold x10 / x0.1 then changes the loss by 2.9e-4 / 5.3e-5: 28x / 5x the float32 absolute
    tolerance 1e-5 (in the main case the same entries are ~1e-6 of a loss ~2, far inside rtol)."""
    rng = np.random.default_rng(seed + 7)
    e = 64
    logits = np.full((1, e), -30.0) + rng.uniform(-0.5, 0.5, size=(1, e))
    logits[0, 0] = 0.0
    t = np.zeros((1, e))
    idx = rng.permutation(np.arange(1, e))
    t[0, idx[:31]] = 5e-7
    t[0, idx[31:]] = 9e-8
    t[0, 0] = 1.0 - t.sum()
    return logits.astype(np.float32), t.astype(np.float32)


def policy_case(seed):
    """The loss case plus the near-mask regime (``near_mask_logits`` / ``near_mask_target``)."""
    case = loss_case(seed)
    case["near_mask_logits"], case["near_mask_target"] = _near_mask(seed)
    return case


def _policy_run(c, k):
    out = {}
    for comp in ("losses.policy", "losses.policy_log_softmax"):
        if comp not in c:  # a port with one form is compared on it
            continue
        main = c[comp](k["logits"], k["policy_target"])
        out[comp] = (main, c[comp](k["near_mask_logits"], k["near_mask_target"])) if "near_mask_target" in k else main
    return out


def _l2_run(c, k):
    """l2 at the spec's coeff 1e-5 and at coeff 1: at 1e-5 the whole term (~2e-4) is 20 absolute tolerances
    wide, so a part of it (a zero tensor's norm, one parameter dropped) could hide; at coeff 1 the sum of norms
    (~20) is compared to rtol 1.3e-6."""
    out = {}
    if "losses.l2" in c:
        out["losses.l2"] = (c["losses.l2"](k["params"]), c["losses.l2"](k["params"], 1.0))
    if "losses.grad" in c:
        out["losses.grad"] = _grad_run(c, k)[1]["params_over_l2_coeff"]
    return out


def _grad_run(c, k):
    """(loss, gradients), the params gradient divided by L2_COEFF. Params enter the loss only through the L2
    term, so their gradient is coeff * p / ||p||, ~2e-6: the float32 atol 1e-5 would pass it dropped (a
    detached weight decay). Over the coeff it is ~0.2, compared at rtol 1.3e-6 (one extra float32 rounding)."""
    loss, g = c["losses.grad"](*_args(k))
    g = dict(g)
    g["params_over_l2_coeff"] = {n: v / L2_COEFF for n, v in g.pop("params").items()}
    return loss, g


def _strategy():
    """Logits with spreads up to 100, targets with exact zeros, batch size 1 or 8, zero parameters."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    @st.composite
    def cases(draw):
        b = draw(st.sampled_from(BATCH_SIZES))
        logits = draw(hnp.arrays(np.float32, (b, E), elements=st.floats(-50, 50, width=32)))
        raw = draw(hnp.arrays(np.float32, (b, E), elements=st.one_of(st.just(0.0), st.floats(0, 1, width=32))))
        raw[np.arange(b), draw(st.integers(0, E - 1))] += 0.5
        target = (raw / raw.sum(-1, keepdims=True)).astype(np.float32)
        vout = draw(hnp.arrays(np.float32, (b, 1), elements=st.floats(-1, 1, width=32)))
        vtarget = draw(hnp.arrays(np.float32, (b,), elements=st.sampled_from([-1.0, 0.0, 1.0])))
        zero = draw(st.booleans())
        params = _params(np.random.default_rng(draw(st.integers(0, 2**16))), zero=zero)
        return {"logits": logits, "policy_target": target, "value_output": vout, "value_target": vtarget,
                "params": params, "policy_weight": draw(st.sampled_from([0.5, 1.0, 2.0])),
                "value_weight": draw(st.sampled_from([0.5, 1.0, 1.5]))}

    return cases()


def _args(case):
    return (case["params"], case["logits"], case["value_output"], case["policy_target"], case["value_target"],
            case["policy_weight"], case["value_weight"])


# --------------------------------------------------------------------------------------------------
# mutants (one drift each; written per framework as the port would have it)
# --------------------------------------------------------------------------------------------------

def _jax_log_softmax_policy(orig):
    import jax
    import jax.numpy as jnp

    return lambda logits, target: jnp.mean(jnp.sum(-target * jax.nn.log_softmax(logits, axis=-1)
                                                   * (target > 1e-7), axis=-1))


def _jax_value_broadcast(orig):
    import jax.numpy as jnp
    import optax

    # no squeeze: (B, 1) - (B,) broadcasts silently to (B, B) in JAX
    return lambda value_output, value_target: jnp.mean(optax.huber_loss(value_output, 0.9 * value_target, delta=1.0))


def _jax_value_sum(orig):
    import jax.numpy as jnp
    import optax

    # optax.huber_loss has no reduction: summed instead of averaged
    return lambda value_output, value_target: jnp.sum(
        optax.huber_loss(value_output[:, 0], 0.9 * value_target, delta=1.0))


def _torch_value_no_smoothing(orig):
    import torch.nn.functional as F

    return lambda value_output, value_target: F.smooth_l1_loss(value_output.squeeze(-1), value_target, beta=1.0)


def _torch_value_beta(orig):
    import torch.nn.functional as F

    # smooth_l1(beta) = huber(delta) / delta only for beta = delta = 1: a port that "matched" huber(0.5)
    return lambda value_output, value_target: F.smooth_l1_loss(value_output.squeeze(-1), 0.9 * value_target,
                                                               beta=0.5)


def _torch_l2_squared(orig):
    return lambda params, coeff=1e-5: coeff * sum((p * p).sum() for p in params.values())


def _jax_l2_squared(orig):
    import jax
    import jax.numpy as jnp

    return lambda params, coeff=1e-5: coeff * sum(jnp.sum(p * p) for p in jax.tree.leaves(params))


def _jax_naive_norm_grad(orig):
    """jnp.linalg.norm in the L2 term: NaN gradient at the zero-initialised bias."""
    import jax
    import jax.numpy as jnp

    policy, value = reference("jax", "losses.policy"), reference("jax", "losses.value")

    def total(params, logits, value_output, policy_target, value_target, pw, vw):
        l2 = 1e-5 * sum(jnp.linalg.norm(p) for p in jax.tree.leaves(params))
        return pw * policy(logits, policy_target) + vw * value(value_output, value_target) + l2

    g = jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2)))

    def grad(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
        t, (gp, gz, gv) = g(params, logits, value_output, policy_target, value_target, policy_weight, value_weight)
        return t, {"params": gp, "logits": gz, "value_output": gv}

    return grad


def _drop_l2_total(orig):
    def total(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
        zero = {k: v * 0 for k, v in params.items()}
        return orig(zero, logits, value_output, policy_target, value_target, policy_weight, value_weight)
    return total


def _detached_l2_grad(orig):
    """The L2 term computed under no_grad / stop_gradient: the loss keeps it, its gradient (~2e-6) is gone."""
    def grad(*args, **kwargs):
        loss, g = orig(*args, **kwargs)
        return loss, {**g, "params": {k: v * 0 for k, v in g["params"].items()}}
    return grad


def _drop_policy_weight(orig):
    def f(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
        return orig(params, logits, value_output, policy_target, value_target, 1.0, value_weight)
    return f


def _torch_log_softmax_grad(orig):
    import torch

    policy, value = reference("torch", "losses.policy_log_softmax"), reference("torch", "losses.value")
    l2 = reference("torch", "losses.l2")

    def grad(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
        ps = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        z = logits.detach().clone().requires_grad_(True)
        v = value_output.detach().clone().requires_grad_(True)
        total = policy_weight * policy(z, policy_target) + value_weight * value(v, value_target) + l2(ps)
        gs = torch.autograd.grad(total, [*ps.values(), z, v])
        return total.detach(), {"params": dict(zip(ps, gs[:-2])), "logits": gs[-2], "value_output": gs[-1]}
    return grad


# --------------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------------

# loss weights: inputs in the spec (no spec value); real trainers hard-code them (policy_weight = 1.0)
WEIGHTS = (Knob("policy_weight"), Knob("value_weight"))


CHECKS = [
    Check(
        name="losses.policy", components=("losses.policy", "losses.policy_log_softmax"), inputs=policy_case,
        run=_policy_run, by_component=True, optional=("losses.policy", "losses.policy_log_softmax"),
        strategy=_strategy,
        slack_reason="the near-mask loss (~3e-4, 3.5%) exists to move the 1e-7 threshold: x10 / x0.1 change it by "
                     "28x / 5x the atol; the main loss (~2) is compared at rtol 1.3e-6",
        description="seed policy loss -t log(softmax + 1e-8) masked at t > 1e-7, and the log_softmax variant, "
                    "at logit spread 30 and with targets just above / below the mask threshold",
        controls=(
            control("log_softmax_swapped_in", "log_softmax in place of log(softmax + 1e-8) (whole units apart "
                    "at spread 30)", "losses.policy", _jax_log_softmax_policy, target="jax"),
        ),
    ),
    Check(
        name="losses.value", components=("losses.value",), inputs=loss_case,
        run=lambda c, k: c["losses.value"](k["value_output"], k["value_target"]), strategy=_strategy,
        description="Huber delta 1 = smooth_l1 beta 1 on value_output.squeeze(-1) vs 0.9 * target, mean",
        controls=controls(
            "losses.value",
            ("broadcast_B1_minus_B", "(B, 1) - (B,) broadcasts to (B, B) (no squeeze)", _jax_value_broadcast, "jax"),
            ("no_label_smoothing", "target not scaled by 1 - 0.1", _torch_value_no_smoothing, "torch"),
            ("sum_not_mean", "optax.huber_loss summed (it has no reduction)", _jax_value_sum, "jax"),
            ("smooth_l1_beta_half", "smooth_l1 with beta 0.5 (equals huber only at beta = delta = 1)",
             _torch_value_beta, "torch")),
    ),
    Check(
        name="losses.l2", components=("losses.l2", "losses.grad"), inputs=loss_case, run=_l2_run, by_component=True,
        optional=("losses.l2", "losses.grad"), knobs=WEIGHTS + (Knob("coeff", 1e-5, components=("losses.l2",)),),
        strategy=_strategy,
        slack_reason="l2 at the spec's coeff (~2e-4) is 5% of the atol 1e-5; the same sum is compared at coeff 1 "
                     "(~20) to rtol 1.3e-6, and its gradient over the coeff (~0.2)",
        description="1e-5 * sum of Frobenius norms (not squared; also at coeff 1); its gradient is 0, not NaN, "
                    "at a zero tensor",
        controls=(
            control("squared_l2", "sum of SQUARED norms", "losses.l2", _torch_l2_squared, target="torch"),
            control("squared_l2_jax", "sum of SQUARED norms", "losses.l2", _jax_l2_squared, target="jax"),
            control("naive_norm_nan_grad", "jnp.linalg.norm: NaN gradient at the zero bias",
                    "losses.grad", _jax_naive_norm_grad, target="jax", expect_components=("losses.grad",)),
            control("detached_l2_grad", "L2 term under no_grad: its ~2e-6 gradient dropped", "losses.grad",
                    _detached_l2_grad, target="torch", expect_components=("losses.grad",)),
        ),
    ),
    Check(
        name="losses.total", components=("losses.total",), inputs=loss_case,
        run=lambda c, k: c["losses.total"](*_args(k)), strategy=_strategy, knobs=WEIGHTS,
        description="policy_weight * policy + value_weight * value + l2, weights 0.5 / 1.5",
        controls=(
            control("missing_l2", "the L2 term dropped", "losses.total", _drop_l2_total, target="jax"),
            control("missing_policy_weight", "policy weight ignored (1.0)", "losses.total", _drop_policy_weight,
                    target="jax"),
        ),
    ),
    Check(
        name="losses.grad", components=("losses.grad",), inputs=lambda seed: loss_case(seed),
        run=_grad_run, strategy=_strategy, knobs=WEIGHTS,
        description="total loss and its gradients w.r.t. params (over the L2 coeff: the term is ~2e-6), logits "
                    "and value_output (oracle: by hand)",
        controls=(
            control("naive_norm_nan_grad", "jnp.linalg.norm: NaN gradient at the zero bias",
                    "losses.grad", _jax_naive_norm_grad, target="jax"),
            control("log_softmax_swapped_in", "gradient of the log_softmax variant",
                    "losses.grad", _torch_log_softmax_grad, target="torch"),
            control("missing_policy_weight", "policy weight ignored (1.0)", "losses.grad", _drop_policy_weight,
                    target="torch"),
            control("detached_l2_grad_jax", "L2 term under stop_gradient: its ~2e-6 gradient dropped",
                    "losses.grad", _detached_l2_grad, target="jax"),
        ),
    ),
]
