"""Batched JAX / torch MCTS (reference/mcts/search_jax.py, search_torch.py) and the mctx oracle: what the
catalogue cannot express -- exact visit counts against the NumPy oracle over many positions and every
config drift (a drift must be honoured, not just detected), batch independence, terminal roots, exact
schedule boundaries, compile reuse, input validation.

Kept small: JAX compiles once per structural config (see search_jax._split); torch runs every drift.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import numerics

numerics.pin()

import torch

from reference.mcts import config as C
from reference.mcts.game import np_ref as game_np
from reference.mcts.game import states as game_states
from reference.mcts.search import jax_ref as search_jax
from reference.mcts.search import np_ref as search_np
from reference.mcts.search import tables
from reference.mcts.search import torch_ref as search_torch

B = 4  # the batch shape and configs of checks/mcts.py (AZ, CL): JAX compiles are shared in one process
G_SYM = C.GameConfig(5, 3, "symmetric")
G_ASYM = C.GameConfig(6, 4, "asymmetric")
AZ = C.profile("alphazero_clique", game=G_SYM, num_reads=64)
CL = C.profile("classic", game=G_ASYM, num_reads=64)


def _positions(game, rng, batch=B, lo=0, hi=None):
    hi = game.num_edges - 1 if hi is None else hi
    out = []
    for _ in range(batch):
        s = game_states.initial_state(game, batch=None)
        for a in rng.permutation(game.num_edges)[: rng.integers(lo, hi)]:
            if s["outcome"] != 0:
                break
            s = game_np.apply_move(s, np.int64(a), game)
        out.append(s)
    return game_states.stack(out)


def _np(out):
    return {k: (v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)) for k, v in out.items()}


def _case(cfg, seed, batch=B):
    rng = np.random.default_rng(seed)
    st = _positions(cfg.game, rng, batch)
    noise = search_np.sample_noise(seed, game_np.legal_moves(st, cfg.game), cfg)
    return st, noise


def _assert_same(oracle, out, what):
    np.testing.assert_array_equal(out["visits"], oracle["visits"], err_msg=f"{what}: visit counts")
    np.testing.assert_allclose(out["q"], oracle["q"], rtol=1e-5, atol=1e-6, err_msg=f"{what}: root Q")
    np.testing.assert_allclose(out["value"], oracle["value"], rtol=1e-5, atol=1e-6, err_msg=f"{what}: value")


@pytest.mark.parametrize("cfg", [AZ, CL], ids=["alphazero_clique", "classic"])
def test_profiles_match_oracle_exactly(cfg):
    for seed in range(4):
        st, noise = _case(cfg, seed)
        oracle = search_np.search(st, noise, cfg)
        _assert_same(oracle, _np(search_jax.search(st, noise, cfg)), f"jax {cfg.profile} seed {seed}")
        _assert_same(oracle, _np(search_torch.search(st, noise, cfg)), f"torch {cfg.profile} seed {seed}")


@pytest.mark.parametrize("name", C.PROFILES)
@pytest.mark.parametrize("game", [C.GameConfig(4, 3), C.GameConfig(5, 3, "asymmetric"), C.GameConfig(6, 4),
                                  C.GameConfig(6, 3)], ids=lambda g: f"n{g.n}k{g.k}{g.mode[:3]}")
def test_torch_games_match_oracle_exactly(name, game):
    cfg = C.profile(name, game=game, num_reads=48)
    for seed in range(2):
        st, noise = _case(cfg, seed, batch=8)
        _assert_same(search_np.search(st, noise, cfg), _np(search_torch.search(st, noise, cfg)), f"torch {name}")


# every drift a negative control may plant: the batched searches must HONOUR it (same visits as the oracle
# run with the same drifted config), otherwise a control would be detected for the wrong reason
DRIFTS = [
    dict(c_puct=1.0), dict(c_puct=25.0), dict(q_mode="mean"), dict(u_mode="sqrt_sum"), dict(u_mode="sqrt_1_plus_sum"),
    dict(backup_sign="same"), dict(terminal_detection=False), dict(terminal_weight=1.0),
    dict(noise_scope="all"), dict(noise_clip=None), dict(noise_weight_schedule="fixed"), dict(root_noise=False),
    dict(num_reads=63), dict(reads_include_root=False), dict(tie_break="last"),
]
def _drift_id(d):
    return ",".join(f"{k}={v}" for k, v in d.items())


@pytest.mark.parametrize("drift", DRIFTS, ids=_drift_id)
def test_torch_honours_every_drift(drift):
    cfg = AZ.replace(num_reads=32).replace(**drift)
    st, noise = _case(cfg, 11, batch=8)
    _assert_same(search_np.search(st, noise, cfg), _np(search_torch.search(st, noise, cfg)), f"torch {drift}")


@pytest.mark.parametrize("drift", DRIFTS, ids=_drift_id)
def test_jax_honours_every_drift(drift):
    # every setting is traced in the JAX search: all of these reuse one compiled program (AZ's)
    cfg = AZ.replace(**drift)
    st, noise = _case(cfg, 11)
    _assert_same(search_np.search(st, noise, cfg), _np(search_jax.search(st, noise, cfg)), f"jax {drift}")


def test_drifts_do_not_recompile():
    cfg = AZ
    st, noise = _case(cfg, 3)
    search_jax.search(st, noise, cfg)
    before = search_jax._search._cache_size()
    for d in DRIFTS + [dict(num_reads=65), dict(noise_weight=0.5), dict(noise_clip=(0.02, 0.9))]:
        if d.get("num_reads", 64) >= 63:
            search_jax.search(st, noise, cfg.replace(**d))
    search_jax.search(st, noise, C.profile("classic", game=G_SYM, num_reads=64))
    assert search_jax._search._cache_size() == before


def test_batch_rows_are_independent():
    cfg = AZ
    st, noise = _case(cfg, 5)
    perm = np.array([2, 0, 3, 1])
    full_j = _np(search_jax.search(st, noise, cfg))
    perm_j = _np(search_jax.search({k: v[perm] for k, v in st.items()}, noise[perm], cfg))
    np.testing.assert_array_equal(perm_j["visits"], full_j["visits"][perm])
    full_t = _np(search_torch.search(st, noise, cfg))
    for b in (0, 3):
        one = _np(search_torch.search({k: v[b:b + 1] for k, v in st.items()}, noise[b:b + 1], cfg))
        np.testing.assert_array_equal(one["visits"][0], full_t["visits"][b])


def test_terminal_root_is_not_searched():
    cfg = AZ
    won = game_states.play([0, 9, 1, 8, 4], cfg.game)  # first player owns the triangle (0,1,2): edges 0, 1, 4
    assert won["outcome"] == 1
    st = game_states.stack([won, game_states.play([0], cfg.game), won, game_states.play([], cfg.game)])
    noise = search_np.sample_noise(0, game_np.legal_moves(st, cfg.game), cfg)
    oracle = search_np.search(st, noise, cfg)
    for impl in (search_jax, search_torch):
        out = _np(impl.search(st, noise, cfg))
        assert out["visits"][0].sum() == 0 and out["value"][0] == -1.0  # second player to move has lost
        assert np.all(out["q"][0] == 0)
        assert out["visits"][1].sum() == cfg.num_reads - 1  # reads include the root's expansion
        _assert_same(oracle, out, impl.__name__)


def test_classic_budget_counts_simulations():
    cfg = CL
    st = game_states.stack([game_states.initial_state(cfg.game, None)] * B)
    noise = search_np.sample_noise(0, game_np.legal_moves(st, cfg.game), cfg)
    for impl in (search_jax, search_torch):
        np.testing.assert_array_equal(_np(impl.search(st, noise, cfg))["visits"].sum(-1), [64] * B)
    np.testing.assert_array_equal(search_np.search(st, noise, cfg)["visits"].sum(-1), [64] * B)


def test_temperature_boundaries_are_strict():
    # E = 10: m = 2, 4, 6, 8 sit exactly on the thresholds 0.2, 0.4, 0.6, 0.8 (strict <: the next value)
    cfg = C.profile("alphazero_clique", game=C.GameConfig(5, 3))
    m = np.arange(11)
    want = np.array([1.0, 1.0, 0.8, 0.8, 0.5, 0.5, 0.2, 0.2, 0.1, 0.1, 0.1], np.float32)
    np.testing.assert_array_equal(tables.temperature(cfg), want)
    np.testing.assert_array_equal(np.asarray(search_jax.temperature(m, cfg)), want)
    np.testing.assert_array_equal(search_torch.temperature(torch.as_tensor(m), cfg).numpy(), want)
    np.testing.assert_array_equal(search_np.temperature(m, cfg).astype(np.float32), want)
    fixed = cfg.replace(temperature_schedule="fixed")
    np.testing.assert_array_equal(np.asarray(search_jax.temperature(m, fixed)), np.ones(11, np.float32))


def test_small_components_match_oracle():
    cfg = C.profile("alphazero_clique", game=C.GameConfig(5, 3))
    rng = np.random.default_rng(0)
    st = _positions(cfg.game, rng, 16)
    valid = game_np.legal_moves(st, cfg.game)
    n = rng.integers(0, 9, size=valid.shape).astype(np.int32)
    w = (rng.integers(-300, 300, size=valid.shape) / 128.0).astype(np.float32)
    p = rng.dirichlet(np.ones(valid.shape[1]), size=valid.shape[0]).astype(np.float32)
    node_n = (1 + n.sum(-1)).astype(np.int32)
    noise = search_np.sample_noise(1, valid, cfg)
    mc = st["move_count"]
    for c in (cfg, cfg.replace(q_mode="mean", u_mode="sqrt_1_plus_sum"), cfg.replace(u_mode="sqrt_sum")):
        want = search_np.puct_scores(w, n, p, valid, node_n, c)
        got_j = np.asarray(search_jax.puct_scores(w, n, p, valid, node_n, c))
        got_t = search_torch.puct_scores(torch.as_tensor(w), torch.as_tensor(n), torch.as_tensor(p),
                                         torch.as_tensor(valid), torch.as_tensor(node_n), c).numpy()
        np.testing.assert_allclose(got_j, want, rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(got_t, want, rtol=2e-6, atol=1e-6)
    for c in (cfg, cfg.replace(noise_scope="all", noise_clip=None, noise_weight_schedule="fixed"),
              cfg.replace(root_noise=False)):
        want = search_np.mix_noise(p, noise, valid, mc, c)
        np.testing.assert_allclose(np.asarray(search_jax.mix_noise(p, noise, valid, mc, c)), want, rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose(search_torch.mix_noise(torch.as_tensor(p), torch.as_tensor(noise),
                                                          torch.as_tensor(valid), torch.as_tensor(mc), c).numpy(),
                                   want, rtol=2e-6, atol=1e-7)
    depth = rng.integers(0, cfg.num_edges + 1, size=16)
    term = rng.random(16) < 0.5
    v = (rng.integers(-127, 128, size=16) / 128.0).astype(np.float32)
    for c in (cfg, cfg.replace(backup_sign="same", terminal_weight=1.0), cfg.replace(terminal_detection=False)):
        dw, dn = search_np.backup(v, depth, term, c)
        jw, jn = search_jax.backup(v, depth, term, c)
        tw, tn = search_torch.backup(torch.as_tensor(v), torch.as_tensor(depth), torch.as_tensor(term), c)
        np.testing.assert_array_equal(np.asarray(jw), dw.astype(np.float32))
        np.testing.assert_array_equal(tw.numpy(), dw.astype(np.float32))
        np.testing.assert_array_equal(np.asarray(jn), dn)
        np.testing.assert_array_equal(tn.numpy(), dn)
    nv = np.arange(0, 30)
    for c in (cfg, cfg.replace(alpha_mode="fixed")):
        want = search_np.noise_alpha(nv, c)
        np.testing.assert_array_equal(np.asarray(search_jax.noise_alpha(nv, c)), want)
        np.testing.assert_array_equal(search_torch.noise_alpha(torch.as_tensor(nv), c).numpy(), want)


@pytest.mark.parametrize("impl", ["jax", "torch"])
def test_sample_noise_support_and_small_alpha(impl):
    cfg = C.profile("alphazero_clique", game=C.GameConfig(5, 3)).replace(alpha_few=0.01)
    valid = np.zeros((64, 10), bool)
    valid[:, 0] = True  # one legal move: alpha_few, every gamma draw may underflow in float32
    valid[32:, 3:6] = True
    mod = search_jax if impl == "jax" else search_torch
    x = mod.sample_noise(7, valid, cfg)
    x = np.asarray(x) if impl == "jax" else x.numpy()
    assert x.dtype == np.float32 and np.all(np.isfinite(x))
    assert np.all(x[~valid] == 0)
    np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(x[:32, 0], 1.0)
    x2 = mod.sample_noise(7, valid, cfg)
    np.testing.assert_array_equal(x, np.asarray(x2) if impl == "jax" else x2.numpy())  # seeded


def test_bad_inputs_raise_value_errors():
    cfg = C.profile("alphazero_clique", game=C.GameConfig(5, 3))
    st, noise = _case(cfg, 0, batch=2)
    for impl in (search_jax, search_torch):
        with pytest.raises(ValueError, match="noise"):
            impl.search(st, noise[:, :5], cfg)
        with pytest.raises(ValueError, match="edges"):
            impl.search(st, noise, cfg.replace(game=C.GameConfig(6, 3)))
        with pytest.raises(ValueError, match="config"):
            impl.search(st, noise, {"c_puct": 3.0})
        with pytest.raises(NotImplementedError, match="random"):
            impl.search(st, noise, cfg.replace(tie_break="random"))


def test_mctx_oracle_rejects_inexpressible_configs():
    pytest.importorskip("mctx")
    from reference.mcts.search import mctx_oracle

    cfg = C.profile("classic", game=C.GameConfig(5, 3))
    st, noise = _case(cfg, 0, batch=2)
    with pytest.raises(ValueError, match="q_mode"):
        mctx_oracle.search(st, noise, cfg.replace(q_mode="w_over_1_plus_n"))
    with pytest.raises(ValueError, match="reads_include_root"):
        mctx_oracle.search(st, noise, C.profile("alphazero_clique", game=cfg.game))


def test_torch_network_search_matches_oracle_on_decided_positions():
    # the JAX network search is exercised by checks/mcts/ mcts.visits.network (one compile there)
    from reference.mcts.search.spec import NET_DELTA
    from reference.nets import np_ref as nets_np
    from reference.nets import torch_ref as nets_torch

    cfg = AZ.replace(num_reads=32, evaluator="network")
    params = nets_np.init_params(3, cfg.game.n, hidden=16)
    st, noise = _case(cfg, 4)
    out = _np(search_torch.search_network(st, noise, cfg, nets_torch.to_native(params)))
    decided = 0
    for b in range(B):
        d, ev = search_np.Diagnostics(), search_np.NetworkEvaluator(params)
        o = search_np.Oracle(ev, d).search({k: v[b:b + 1] for k, v in st.items()}, noise[b:b + 1], cfg)
        if d.min_rel_margin >= 1e-5 and ev.min_boundary_distance >= NET_DELTA:  # not a near-tie
            decided += 1
            np.testing.assert_array_equal(out["visits"][b], o["visits"][0])
    assert decided >= B // 2
    with pytest.raises(ValueError, match="search_network"):
        search_torch.search(st, noise, cfg)
