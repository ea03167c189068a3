"""Unit tests of reference/losses beyond the catalogue: hand-computed values, the traps of training.md
(norm gradient at zero, log_softmax vs the seed formula, (B, 1) - (B,)), and input validation."""

from harness import numerics

numerics.pin()

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from reference.losses import jax_ref, np_ref, torch_ref


def test_policy_loss_by_hand():
    logits = np.array([[0.0, np.log(3.0)]])  # softmax = [0.25, 0.75]
    target = np.array([[0.5, 0.5]])
    expected = -(0.5 * np.log(0.25 + 1e-8) + 0.5 * np.log(0.75 + 1e-8))
    assert np_ref.policy(logits, target) == pytest.approx(expected, rel=1e-12)
    assert float(jax_ref.policy(jnp.asarray(logits, jnp.float32), jnp.asarray(target, jnp.float32))) == \
        pytest.approx(expected, rel=1e-6)
    assert float(torch_ref.policy(torch.tensor(logits, dtype=torch.float32),
                                       torch.tensor(target, dtype=torch.float32))) == pytest.approx(expected, rel=1e-6)


def test_policy_mask_drops_tiny_targets():
    logits = np.array([[0.0, -40.0, 5.0]])
    target = np.array([[1.0 - 5e-8, 5e-8, 0.0]])  # 5e-8 <= 1e-7: masked
    sm = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    expected = -(target[0, 0] * np.log(sm[0, 0] + 1e-8))
    assert np_ref.policy(logits, target) == pytest.approx(expected, rel=1e-12)


def test_seed_formula_and_log_softmax_differ_by_units_at_large_spread():
    logits = np.array([[30.0, 0.0, -30.0]])
    target = np.array([[0.0, 0.5, 0.5]])
    seed = np_ref.policy(logits, target)
    ls = np_ref.policy_log_softmax(logits, target)
    # log(p + 1e-8) is floored near log(1e-8) = -18.4; log_softmax goes down to -60
    assert ls - seed > 20
    small = np.array([[1.0, 0.0, -1.0]])
    assert abs(np_ref.policy(small, target) - np_ref.policy_log_softmax(small, target)) < 1e-6


def test_value_loss_by_hand_both_huber_regimes():
    v = np.array([[0.5], [-1.0]])
    y = np.array([0.0, 1.0])  # d = 0.5 (quadratic), d = -1.9 (linear)
    expected = (0.5 * 0.25 + (1.9 - 0.5)) / 2
    assert np_ref.value(v, y) == pytest.approx(expected, rel=1e-12)
    assert float(torch_ref.value(torch.tensor(v, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))) \
        == pytest.approx(expected, rel=1e-6)
    assert float(jax_ref.value(jnp.asarray(v, jnp.float32), jnp.asarray(y, jnp.float32))) == \
        pytest.approx(expected, rel=1e-6)


def test_value_loss_batch_size_one_stays_a_batch():
    v, y = np.array([[0.3]], np.float32), np.array([1.0], np.float32)
    expected = 0.5 * (0.3 - 0.9) ** 2
    for out in (np_ref.value(v, y), jax_ref.value(jnp.asarray(v), jnp.asarray(y)),
                torch_ref.value(torch.tensor(v), torch.tensor(y))):
        assert float(out) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("mod", [np_ref, jax_ref, torch_ref], ids=["numpy", "jax", "torch"])
def test_value_loss_rejects_unsqueezable_shapes(mod):
    conv = {np_ref: np.asarray, jax_ref: jnp.asarray, torch_ref: torch.tensor}[mod]
    with pytest.raises(ValueError, match="value_output must have shape"):
        mod.value(conv(np.zeros(4, np.float32)), conv(np.zeros(4, np.float32)))
    with pytest.raises(ValueError, match="value_target must have shape"):
        mod.value(conv(np.zeros((4, 1), np.float32)), conv(np.zeros((4, 1), np.float32)))


def test_broadcast_trap_is_real_in_jax():
    """(B, 1) - (B,) broadcasts silently to (B, B): the value the control plants."""
    v = jnp.asarray([[0.1], [0.9]])
    y = jnp.asarray([1.0, -1.0])
    assert (v - y).shape == (2, 2)


def test_l2_is_not_squared_and_gradient_is_zero_at_zero():
    params = {"w": np.full((2, 2), 3.0, np.float32), "b": np.zeros(3, np.float32)}
    assert np_ref.l2(params) == pytest.approx(1e-5 * 6.0, rel=1e-12)
    gj = jax.grad(jax_ref.l2)({k: jnp.asarray(v) for k, v in params.items()})
    assert np.all(np.asarray(gj["b"]) == 0) and np.all(np.isfinite(np.asarray(gj["w"])))
    np.testing.assert_allclose(np.asarray(gj["w"]), 1e-5 * params["w"] / 6.0, rtol=1e-6)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    torch_ref.l2(pt).backward()
    assert torch.all(pt["b"].grad == 0)


def test_naive_norm_gradient_is_nan_at_zero():
    """The trap: jnp.linalg.norm has a NaN gradient at 0 (why jax_ref uses the double-where safe norm)."""
    g = jax.grad(lambda x: jnp.linalg.norm(x))(jnp.zeros(3))
    assert np.all(np.isnan(np.asarray(g)))
    assert np.all(np.asarray(jax.grad(jax_ref._safe_norm)(jnp.zeros(3))) == 0)


def test_oracle_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(3, 2)), "z": np.zeros(2)}
    logits = rng.normal(size=(2, 4)) * 3
    target = np.array([[0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]])
    vout = np.array([[0.2], [-0.7]])
    vt = np.array([1.0, -1.0])
    _, g = np_ref.grad(params, logits, vout, target, vt, 0.7, 1.3)
    h = 1e-6

    def f(lg, vo, w):
        return np_ref.total({"w": w, "z": params["z"]}, lg, vo, target, vt, 0.7, 1.3)

    for idx in [(0, 0), (1, 3)]:
        d = np.zeros_like(logits)
        d[idx] = h
        fd = (f(logits + d, vout, params["w"]) - f(logits - d, vout, params["w"])) / (2 * h)
        assert g["logits"][idx] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    d = np.zeros_like(vout)
    d[1, 0] = h
    fd = (f(logits, vout + d, params["w"]) - f(logits, vout - d, params["w"])) / (2 * h)
    assert g["value_output"][1, 0] == pytest.approx(fd, rel=1e-6)
    d = np.zeros_like(params["w"])
    d[2, 1] = h
    assert g["params"]["w"][2, 1] == pytest.approx((f(logits, vout, params["w"] + d) - f(logits, vout, params["w"] - d))
                                                   / (2 * h), abs=1e-9)
    assert np.all(g["params"]["z"] == 0)

