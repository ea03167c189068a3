"""Unit tests of reference/train: hand-computed schedules and targets, the traps of training.md with the
numbers that make them visible, the trajectory's first-diverging-step report, and config validation."""

from harness import numerics

numerics.pin()

import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from harness.compare import compare
from reference.nets import encoding
from reference.train import jax_ref, np_ref, torch_ref

MODS = pytest.mark.parametrize("mod", [np_ref, jax_ref, torch_ref], ids=["numpy", "jax", "torch"])


@MODS
def test_warmup_by_hand(mod):
    lrs = np.asarray(mod.warmup_lrs(0.6, 40, 8), np.float64)  # W = 6
    np.testing.assert_allclose(lrs, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.6], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(mod.warmup_lrs(0.6, 10, 3), np.float64), [0.6] * 3, rtol=1e-6)  # W = 1
    np.testing.assert_allclose(np.asarray(mod.warmup_lrs(0.6, 6, 2), np.float64), [0.6] * 2, rtol=1e-6)  # W = 0


def test_optax_linear_schedule_is_one_step_behind():
    sched = optax.linear_schedule(0.0, 0.6, 6)
    assert [round(float(sched(k)), 6) for k in range(3)] == [0.0, 0.1, 0.2]
    assert float(np_ref.warmup_lrs(0.6, 40, 1)[0]) == pytest.approx(0.1)


@MODS
def test_validation_errors(mod):
    with pytest.raises(ValueError, match="total_steps must be a positive integer"):
        mod.warmup_lrs(1e-3, 0, 3)
    with pytest.raises(ValueError, match="base_lr must be > 0"):
        mod.warmup_lrs(0.0, 10, 3)
    with pytest.raises(ValueError, match="factor must be in"):
        mod.plateau(np.ones(3, np.float32), 0.1, factor=1.5)
    with pytest.raises(ValueError, match="patience must be a non-negative integer"):
        mod.plateau(np.ones(3, np.float32), 0.1, patience=-1)
    with pytest.raises(ValueError, match="patience must be a positive integer"):
        mod.early_stopping(np.ones(2, np.float32), [{}, {}], patience=0)
    with pytest.raises(ValueError, match="need one per epoch"):
        mod.early_stopping(np.ones(2, np.float32), [{}])
    with pytest.raises(ValueError, match="winner must be 0"):
        mod.value_targets(np.zeros(3, np.int64), 3)
    with pytest.raises(ValueError, match="perspective must be one of"):
        mod.value_targets(np.zeros(3, np.int64), 1, "mover")
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        mod.clip({"a": np.ones(2, np.float32)} if mod is np_ref else
                 {"a": jnp.ones(2)} if mod is jax_ref else {"a": torch.ones(2)}, 0.0)


def test_clip_torch_eps_vs_optax():
    """torch multiplies by max_norm / (norm + 1e-6), optax by max_norm / norm: 1e-6 / norm relative."""
    g = {"a": np.full(100, 1.0, np.float32)}  # norm 10
    t = torch_ref.clip({"a": torch.tensor(g["a"])}, 1.0)["a"].double().numpy()
    j = np.asarray(jax_ref.clip({"a": jnp.asarray(g["a"])}, 1.0)["a"], np.float64)
    assert np.abs(j / t - 1).max() == pytest.approx(1e-7, rel=0.6)
    below = {"a": np.full(4, 0.1, np.float32)}  # norm 0.2: untouched by both
    assert np.array_equal(torch_ref.clip({"a": torch.tensor(below["a"])}, 1.0)["a"].numpy(), below["a"])
    assert np.array_equal(np.asarray(jax_ref.clip({"a": jnp.asarray(below["a"])}, 1.0)["a"]), below["a"])


def test_coupled_vs_decoupled_decay_visible_at_wd_0_1_not_at_1e_4():
    rng = np.random.default_rng(0)
    p = {"w": rng.normal(size=(5, 5))}
    grads = [{"w": rng.normal(size=(5, 5)) * 0.1} for _ in range(5)]
    lrs = np.full(5, 1e-2)
    for wd, visible in ((0.1, True), (1e-4, False)):
        coupled = np_ref.optimizer_steps(p, grads, lrs, wd)[-1]["w"]
        none = np_ref.optimizer_steps(p, grads, lrs, 0.0)[-1]["w"]
        assert (np.abs(coupled - none).max() > 1e-3) == visible


def test_plateau_matches_torch_on_random_traces():
    rng = np.random.default_rng(1)
    for _ in range(20):
        losses = (1.0 + 0.5 * rng.integers(0, 5, size=25)).astype(np.float32)
        kw = dict(factor=0.5, patience=int(rng.integers(0, 4)), threshold=1e-4, cooldown=int(rng.integers(0, 3)),
                  min_lr=1e-3)
        np.testing.assert_allclose(np_ref.plateau(losses, 0.1, **kw), torch_ref.plateau(losses, 0.1, **kw).numpy(),
                                   rtol=1e-12)


def test_plateau_reduces_after_patience_plus_one_bad_epochs():
    lrs = np_ref.plateau(np.array([1.0, 1.0, 1.0, 1.0]), 0.1, factor=0.5, patience=2)
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.1, 0.05])


def test_early_stopping_by_hand():
    losses = np.array([1.0, 0.8, 0.7995, 0.75, 0.7495, 0.76, 0.7492, 0.75, 0.8, 0.7], np.float32)
    params = [{"w": np.full(2, e, np.float32)} for e in range(len(losses))]
    r = np_ref.early_stopping(losses, params, patience=5, min_delta=1e-3)
    # 0.7995 and 0.7495 / 0.7492 improve by less than min_delta: epochs 4..8 are bad
    assert (r["stopped"], r["stop_epoch"], r["best_epoch"]) == (True, 8, 3)
    assert np.array_equal(r["params"]["w"], params[3]["w"])
    t = torch_ref.early_stopping(torch.tensor(losses), [{k: torch.tensor(v) for k, v in p.items()} for p in params])
    assert (t["stop_epoch"], t["best_epoch"]) == (8, 3) and np.array_equal(t["params"]["w"].numpy(), params[3]["w"])


@MODS
def test_value_targets_by_hand(mod):
    role = np.array([0, 1, 0, 1, 0])
    cases = {(1, "alternating"): [1, -1, 1, -1, 1], (2, "alternating"): [-1, 1, -1, 1, -1],
             (0, "alternating"): [0] * 5, (1, "fixed"): [1] * 5, (2, "fixed"): [-1] * 5, (0, "fixed"): [0] * 5}
    conv = {np_ref: np.asarray, jax_ref: jnp.asarray, torch_ref: torch.as_tensor}[mod]
    for (winner, persp), want in cases.items():
        got = np.asarray(mod.value_targets(conv(role), winner, persp))
        assert got.dtype == np.float32 and got.tolist() == want, (winner, persp)


def test_examples_have_the_seed_format():
    colours = np.array([[0] * 6, [1, 0, 0, 0, 0, 0], [1, 2, 0, 0, 0, 0]])
    pol = np.full((3, 6), 1 / 6, np.float32)
    ex = np_ref.make_examples(colours, pol, np.array([0, 1, 0]), 1)
    assert len(ex) == 3 and set(ex[0]) == {"board_state", "policy", "value", "player_role"}
    assert set(ex[0]["board_state"]) == {"edge_index", "edge_attr"}
    assert ex[2]["board_state"]["edge_attr"].shape == (12, 3)
    assert np.array_equal(ex[2]["board_state"]["edge_index"], encoding.edge_index(4))
    assert [float(e["value"]) for e in ex] == [1.0, -1.0, 1.0]
    with pytest.raises(ValueError, match="must agree on"):
        np_ref.make_examples(colours, pol[:2], np.array([0, 1, 0]), 1)


def test_trajectory_failure_names_the_first_diverging_step():
    """Batches identical up to step 3 and different from step 4: the failing leaves start at step_04."""
    from checks.train.trajectory import trajectory_case

    case = trajectory_case(0)
    b = {k: v[:8] for k, v in case["batches"].items()}
    b2 = {k: v.copy() for k, v in b.items()}
    b2["value"][4:] = -b2["value"][4:] + 0.5
    conv = lambda tree: {k: torch.from_numpy(np.asarray(v)) for k, v in tree.items()}
    a = torch_ref.trajectory(conv(case["params"]), torch.from_numpy(case["edge_index"]), conv(b), case["config"])
    c = torch_ref.trajectory(conv(case["params"]), torch.from_numpy(case["edge_index"]), conv(b2), case["config"])
    failing = compare(a, c).failing
    assert failing and failing[0].path == "['step_04']['loss']"
    assert all(l.path >= "['step_04']" for l in failing)

