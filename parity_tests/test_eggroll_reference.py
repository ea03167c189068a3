"""EGGROLL references: what the check catalogue cannot express.

Hand-computed expectations (NumPy), bit-exactness of the noise against jax.random itself, the key
derivation written out with jax.random, config validation errors, role handling (excluded / frozen
parameters), and the catalogue's required check and control names.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.numerics import pin

pin()

import jax
import jax.numpy as jnp
import torch

from reference._contract import components_of
from reference.eggroll import jax_ref, np_ref, torch_ref

REFS = {"numpy": np_ref, "jax": jax_ref, "torch": torch_ref}
KEY = np.array([0, 1234], np.uint32)


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.numpy()
    return np.asarray(x)


def _conv(name, a):
    if name == "torch":
        return torch.from_numpy(np.ascontiguousarray(a).view(np.int32) if a.dtype == np.uint32 else a)
    if name == "jax":
        return jnp.asarray(a)
    return a


# ------------------------------------------------------------------------------- hand-computed values


def test_noise_epoch_table():
    want = {0: [0] * 7, 1: list(range(7)), 2: [0, 0, 1, 1, 2, 2, 3], 3: [0, 0, 0, 1, 1, 1, 2]}
    for name, ref in REFS.items():
        for r, taus in want.items():
            assert [int(_np(ref.noise_epoch(t, r))) for t in range(7)] == taus, (name, r)


def test_pair_index_sign_interleaved():
    for name, ref in REFS.items():
        k, s = ref.pair_index_sign(6)
        assert _np(k).tolist() == [0, 0, 1, 1, 2, 2], name
        assert _np(s).tolist() == [1, -1, 1, -1, 1, -1], name


def test_shape_fitness_by_hand():
    F = np.array([1.0, 3.0, 2.0, 6.0], np.float32)
    var = np.var([1.0, 3.0, 2.0, 6.0])  # 3.5, ddof 0
    d = math.sqrt(var + 1e-5)
    want = {0: (F - 3.0) / d, 2: np.array([-1.0, 1.0, -2.0, 2.0]) / d, 4: (F - 3.0) / d}
    for name, ref in REFS.items():
        for g, w in want.items():
            np.testing.assert_allclose(_np(ref.shape_fitness(_conv(name, F), g)), w, rtol=2e-6, err_msg=name)


def test_lowrank_update_by_hand():
    """N = 2, r = 1: g = -(1/sqrt 2) (f0 A0 B0^T + f1 A1 B1^T)."""
    f = np.array([0.5, -2.0], np.float32)
    a = np.array([[[1.0], [2.0]], [[-1.0], [-2.0]]], np.float32)  # (2, 2, 1)
    b = np.array([[[3.0], [0.0], [1.0]], [[3.0], [0.0], [1.0]]], np.float32)  # (2, 3, 1)
    want = -(0.5 * np.outer([1, 2], [3, 0, 1]) - 2.0 * np.outer([-1, -2], [3, 0, 1])) / math.sqrt(2)
    for name, ref in REFS.items():
        got = ref.lowrank_update(*(_conv(name, x) for x in (f, a, b)))
        np.testing.assert_allclose(_np(got), want, rtol=1e-6, err_msg=name)


def test_fullrank_update_by_hand():
    f = np.array([1.0, -1.0, 2.0, 0.0], np.float32)
    e = np.array([[1.0, 0.0], [-1.0, 0.0], [0.5, 0.5], [-0.5, -0.5]], np.float32)
    want = -(np.array([1.0, 0.0]) + np.array([1.0, 0.0]) + np.array([1.0, 1.0])) / 2.0
    for name, ref in REFS.items():
        np.testing.assert_allclose(_np(ref.fullrank_update(_conv(name, f), _conv(name, e))), want, rtol=1e-6)


def test_forward_equals_materialised_and_xw_orientation():
    rng = np.random.default_rng(0)
    n, m, a, b, r = 4, 3, 6, 5, 2
    x, w = rng.normal(size=(n, m, b)), rng.normal(size=(a, b))
    A, B = rng.normal(size=(n, a, r)), rng.normal(size=(n, b, r))
    y = np_ref.forward(x, w, A, B)
    np.testing.assert_allclose(y, np.einsum("nmj,nij->nmi", x, w + np.einsum("nir,njr->nij", A, B)), rtol=1e-12)
    x2 = rng.normal(size=(n, m, a))  # W (in = a, out = b) used as x W
    y2 = np_ref.forward_xw(x2, w, A, B)
    np.testing.assert_allclose(y2, np.einsum("nmi,nij->nmj", x2, w + np.einsum("nir,njr->nij", A, B)), rtol=1e-12)


# ------------------------------------------------------------------ noise: JAX's own stream, bit for bit


@pytest.mark.parametrize("shape,rank,n", [((5, 3), 4, 6), ((6, 5), 1, 8)])  # the shapes the checks compile
def test_lowrank_noise_is_jax_random(shape, rank, n):
    """B = Z[:b], A = (sigma s / sqrt r) Z[b:], Z = jax.random.normal(key, (a + b, r)); bit-exact Z in
    NumPy and torch (the oracle casts the float32 draw to float64 afterwards)."""
    a, b = shape
    sigma = 0.25
    keys = np.random.default_rng(a * 10 + b).integers(0, 2**32, size=(n, 2), dtype=np.uint64).astype(np.uint32)
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0).astype(np.float32)
    z = np.asarray(jax.vmap(lambda k: jax.random.normal(jax.random.wrap_key_data(k), (a + b, rank)))(jnp.asarray(keys)))
    scale = (sigma * signs / np.float32(math.sqrt(rank))).astype(np.float32)
    for name, ref in REFS.items():
        A, B = ref.lowrank_noise(_conv(name, keys), _conv(name, signs), shape, rank, sigma)
        B = _np(B)
        np.testing.assert_array_equal(B.astype(np.float32), z[:, :b], err_msg=f"{name}: B = Z[:b] bit for bit")
        assert B.dtype == (np.float64 if name == "numpy" else np.float32)
        if name == "numpy":  # the oracle: float64 of the float32 draw times the float64 scale
            np.testing.assert_array_equal(_np(A), z[:, b:].astype(np.float64)
                                          * (sigma * signs.astype(np.float64) / math.sqrt(rank))[:, None, None])
        else:
            np.testing.assert_allclose(_np(A), z[:, b:] * scale[:, None, None], rtol=1e-7, atol=0)


def test_member_keys_written_out_with_jax_random():
    """key[p, i] = fold_in(fold_in(split(es_key, P)[p], tau), i // 2)."""
    P, tau, N = 3, 5, 6
    k = (np.arange(N) // 2).astype(np.int32)
    base = jax.random.split(jax.random.wrap_key_data(jnp.asarray(KEY)), P)
    want = np.stack([np.stack([np.asarray(jax.random.key_data(
        jax.random.fold_in(jax.random.fold_in(base[p], tau), int(i)))) for i in k]) for p in range(P)])
    for name, ref in REFS.items():
        got = _np(ref.member_keys(_conv(name, KEY), P, tau, _conv(name, k)))
        np.testing.assert_array_equal(got.view(np.uint32) if got.dtype == np.int32 else got.astype(np.uint32), want,
                                      err_msg=name)


def test_torch_reference_ignores_torch_global_rng():
    keys = torch.from_numpy(np.array([[1, 2], [3, 4]], np.uint32).view(np.int32))
    s = torch.tensor([1.0, -1.0])
    torch.manual_seed(0)
    a0, _ = torch_ref.lowrank_noise(keys, s, (3, 2), 1, 0.1)
    torch.manual_seed(1)
    a1, _ = torch_ref.lowrank_noise(keys, s, (3, 2), 1, 0.1)
    assert torch.equal(a0, a1)


# ------------------------------------------------------------------------------------ config validation

GOOD = {"population": 8, "sigma": 0.1}


@pytest.mark.parametrize("patch,field", [
    ({"population": 7}, "population"),
    ({"population": 0}, "population"),
    ({"population": 8.0}, "population"),
    ({"group_size": 3}, "group_size"),
    ({"group_size": 6}, "group_size"),
    ({"group_size": -2}, "group_size"),
    ({"rank": 0}, "rank"),
    ({"sigma": 0.0}, "sigma"),
    ({"sigma": -1.0}, "sigma"),
    ({"sigma": float("nan")}, "sigma"),
    ({"noise_reuse": -1}, "noise_reuse"),
    ({"freeze_nonlora": 1}, "freeze_nonlora"),
    ({"roles": {"w": "lora"}}, "roles"),
    ({"optimizer": {"name": "adamw", "lr": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8}}, "weight_decay"),
    ({"optimizer": {"name": "sgd", "lr": 0.1}}, "momentum"),
    ({"optimizer": {"name": "rmsprop", "lr": 0.1}}, "optimizer.name"),
    ({"optimizer": {"name": "adam", "lr": -0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8}}, "lr"),
    ({"optimizer": {"name": "adam", "lr": 0.1, "b1": 1.0, "b2": 0.999, "eps": 1e-8}}, "b1"),
    ({"typo_field": 1}, "typo_field"),
])
def test_config_errors_name_the_field(patch, field):
    for name, ref in REFS.items():
        with pytest.raises(ValueError) as e:
            ref.validate_config({**GOOD, **patch})
        msg = str(e.value)
        assert field in msg and "\n" not in msg, (name, msg)


def test_config_defaults_are_official():
    cfg = np_ref.validate_config(dict(GOOD))
    assert (cfg["rank"], cfg["group_size"], cfg["noise_reuse"], cfg["freeze_nonlora"]) == (1, 0, 0, False)
    assert np_ref.validate_config({**GOOD, "group_size": 8})["group_size"] == 8  # G = N is allowed


# ------------------------------------------------------------------------------------- roles in an epoch


def _mlp_case(freeze=False, opt=None):
    rng = np.random.default_rng(3)
    params = {"b1": rng.normal(size=8).astype(np.float32), "b2": rng.normal(size=2).astype(np.float32),
              "out_scale": np.ones(2, np.float32), "w1": rng.normal(size=(8, 4)).astype(np.float32),
              "w2": rng.normal(size=(2, 8)).astype(np.float32)}
    data = {"x": rng.normal(size=(16, 4)).astype(np.float32), "y": rng.normal(size=(16, 2)).astype(np.float32)}
    cfg = {"population": 8, "rank": 2, "sigma": 0.1, "group_size": 0, "noise_reuse": 1, "freeze_nonlora": freeze,
           "roles": {"b1": "fullrank", "b2": "fullrank", "out_scale": "excluded", "w1": "lowrank", "w2": "lowrank"},
           "optimizer": opt or {"name": "sgd", "lr": 0.2, "momentum": 0.0, "nesterov": False}}
    return params, data, cfg


def test_epoch_sgd_matches_the_spec_formula():
    """Plain SGD: W <- W + lr (sigma / sqrt(r N)) sum_i f_i s_i A_i B_i^T (unscaled A, B)."""
    params, data, cfg = _mlp_case()
    new, _, fit = np_ref.epoch(params, None, KEY, 0, data, cfg)
    k, s = np_ref.pair_index_sign(8)
    keys = np_ref.member_keys(KEY, 5, 0, k)
    f = np_ref.shape_fitness(fit, 0)
    for j, name in enumerate(sorted(params)):
        if name.startswith("w"):
            a, b = params[name].shape
            z = np.stack([np.asarray(jax.random.normal(jax.random.wrap_key_data(jnp.asarray(kk)), (a + b, 2)))
                          for kk in keys[j]]).astype(np.float64)
            step = 0.2 * 0.1 / math.sqrt(2 * 8) * np.einsum("n,nir,njr->ij", f * s, z[:, b:], z[:, :b])
            np.testing.assert_allclose(new[name], params[name].astype(np.float64) + step, rtol=1e-12, atol=1e-12)
        elif name.startswith("b"):
            eps = np.stack([np.asarray(jax.random.normal(jax.random.wrap_key_data(jnp.asarray(kk)), params[name].shape))
                            for kk in keys[j]]).astype(np.float64)
            step = 0.2 * 0.1 / math.sqrt(8) * np.einsum("n,ni->i", f * s, eps)
            np.testing.assert_allclose(new[name], params[name].astype(np.float64) + step, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("freeze", [False, True])
def test_excluded_and_frozen_parameters_stay_put(freeze):
    """AdamW's decay would move a parameter with zero gradient: excluded ones never reach the optimiser."""
    opt = {"name": "adamw", "lr": 0.05, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.1}
    params, data, cfg = _mlp_case(freeze, opt)
    # JAX compiles one epoch per static config: run it on the frozen case only (it covers both roles)
    for name, ref in ((n, r) for n, r in REFS.items() if freeze or n != "jax"):
        p, st = {k: _conv(name, v) for k, v in params.items()}, None
        d = {k: _conv(name, v) for k, v in data.items()}
        for t in range(2):
            p, st, _ = ref.epoch(p, st, _conv(name, KEY), t, d, cfg)
        np.testing.assert_array_equal(_np(p["out_scale"]), params["out_scale"], err_msg=name)  # no decay either
        for b in ("b1", "b2"):
            assert np.array_equal(_np(p[b]).astype(np.float32), params[b]) == freeze, (name, b)
        assert not np.array_equal(_np(p["w1"]).astype(np.float32), params["w1"]), name


def test_epoch_rejects_parameter_without_role():
    params, data, cfg = _mlp_case()
    cfg["roles"] = {k: v for k, v in cfg["roles"].items() if k != "b2"}
    with pytest.raises(ValueError, match="b2"):
        np_ref.epoch(params, None, KEY, 0, data, cfg)


# ------------------------------------------------------------------------------------- the catalogue


def test_catalogue_names_every_required_check_and_control():
    from checks import eggroll

    checks = eggroll.catalogue()
    by_name = {c.name: c for c in checks}
    required = ["eggroll.noise.sign_alternation", "eggroll.noise.reuse", "eggroll.noise.layout", "eggroll.forward",
                "eggroll.fitness.group_norm", "eggroll.update.lowrank", "eggroll.update.full",
                "eggroll.update.invariants", "eggroll.optimizer.sgd", "eggroll.optimizer.adam",
                "eggroll.optimizer.adamw", "eggroll.trajectory", "eggroll.stats.noise"]
    assert not [n for n in required if n not in by_name]
    assert all(c.controls for c in checks)
    controls = {(c.name, k.name) for c in checks for k in c.controls}
    for pair in [("eggroll.noise.sign_alternation", "halves"), ("eggroll.noise.reuse", "r0_fresh"),
                 ("eggroll.fitness.group_norm", "per_group_variance"), ("eggroll.fitness.group_norm", "ddof1"),
                 ("eggroll.fitness.group_norm", "eps_outside_sqrt"), ("eggroll.update.lowrank", "missing_sqrt_n"),
                 ("eggroll.update.lowrank", "wrong_sign"), ("eggroll.update.full", "missing_sqrt_n"),
                 ("eggroll.update.full", "wrong_sign"), ("eggroll.noise.layout", "ab_rows_swapped"),
                 ("eggroll.noise.layout", "bias_sigma_over_sqrt_r"),
                 ("eggroll.optimizer.adamw", "optax_default_weight_decay"), ("eggroll.trajectory", "r0_fresh")]:
        assert pair in controls, pair



# ------------------------------------------------------------------- a port with native torch randomness


def _native_lowrank_noise(keys, signs, shape, rank, sigma):
    """What a typical torch port does: torch.randn per pair from torch's own generator (not JAX's stream)."""
    a, b = (int(d) for d in shape)
    n = signs.shape[0]
    gen = torch.Generator().manual_seed(int(keys.view(-1)[1]) & 0x7FFFFFFF)
    z = torch.randn((n // 2, a + b, int(rank)), generator=gen).repeat_interleave(2, dim=0)
    scale = float(sigma) * signs.float() / math.sqrt(int(rank))
    return z[:, b:] * scale[:, None, None], z[:, :b]


def test_native_randomness_port_passes_only_the_statistical_check():
    """eggroll.stats.noise accepts a correct sampler that draws other numbers; eggroll.noise.layout does not."""
    from checks import eggroll as checks_eggroll
    from checks.builtin import implementation
    from harness.base import Implementation, Status
    from harness.runner import Runner

    impls = {"numpy": implementation("numpy"), "torch": implementation("torch")}
    port = Implementation("native", "torch", {**components_of(torch_ref), "eggroll.lowrank_noise": _native_lowrank_noise})
    runner = Runner({**impls, "native": port})
    by_name = {c.name: c for c in checks_eggroll.catalogue()}
    stats = {r.pair: r.status for r in runner.run_check(by_name["eggroll.stats.noise"], 0)}
    assert stats[("native", "numpy")] == Status.PASS
    layout = {r.pair: r.status for r in runner.run_check(by_name["eggroll.noise.layout"], 0)}
    assert layout[("native", "numpy")] == Status.FAIL
