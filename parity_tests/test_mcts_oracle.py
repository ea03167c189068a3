"""The NumPy oracle MCTS: hand-computed expectations for its small functions, a hand-traced search, the
budget semantics of both profiles, and the near-tie detector the checks rely on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference.mcts.config import GameConfig, profile
from reference.mcts.game import np_ref as game_np
from reference.mcts.game import states as game_states
from reference.mcts.search import np_ref as search_np
from reference.mcts.search.np_ref import table_evaluator as table_evaluator_np
from reference.nets import encoding

G5 = GameConfig(5, 3)
AZ = profile("alphazero_clique", game=G5, num_reads=16)
CL = profile("classic", game=G5, num_reads=16)
EDGE = {tuple(uv): i for i, uv in enumerate(encoding.edge_list(5).tolist())}


def test_backup_signs_and_terminal_weight():
    dw, dn = search_np.backup(np.array([0.5, 1.0, -1.0]), np.array([3, 2, 0]), np.array([False, True, True]), AZ)
    np.testing.assert_array_equal(dw[0, :4], [-0.5, 0.5, -0.5, 0.0])  # edge into the leaf gets -v
    np.testing.assert_array_equal(dw[1, :3], [2.0, -2.0, 0.0])  # terminal: 2 v
    np.testing.assert_array_equal(dw[2], 0.0)  # the root's own expansion: nothing to back up
    np.testing.assert_array_equal(dn[0], [1, 1, 1] + [0] * 7)
    dw, _ = search_np.backup(np.array([1.0]), np.array([2]), np.array([True]), CL)
    np.testing.assert_array_equal(dw[0, :2], [1.0, -1.0])  # classic: weight 1
    dw, _ = search_np.backup(np.array([0.5]), np.array([3]), np.array([False]), AZ.replace(backup_sign="same"))
    np.testing.assert_array_equal(dw[0, :3], [0.5, 0.5, 0.5])
    dw, _ = search_np.backup(np.array([1.0]), np.array([1]), np.array([True]), AZ.replace(terminal_detection=False))
    assert dw[0, 0] == -1.0


def test_puct_by_hand():
    w = np.array([[1.0, -0.5, 0.0, 0.0]])
    n = np.array([[1, 3, 0, 0]])
    p = np.array([[0.1, 0.2, 0.3, 0.4]])
    valid = np.array([[True, True, True, False]])
    g4 = GameConfig(4, 3)  # only c_puct / modes matter here
    az = AZ.replace(game=g4)
    got = search_np.puct_scores(w, n, p, valid, np.array([5]), az)[0]
    want = [1 / 2 + 3 * 0.1 * math.sqrt(5) / 2, -0.5 / 4 + 3 * 0.2 * math.sqrt(5) / 4, 3 * 0.3 * math.sqrt(5), -np.inf]
    np.testing.assert_allclose(got, want, rtol=1e-15)
    cl = CL.replace(game=g4)
    got = search_np.puct_scores(w, n, p, valid, np.array([5]), cl)[0]
    r5 = math.sqrt(1 + 4)  # sqrt(1 + sum N)
    want = [1.0 + 1.25 * 0.1 * r5 / 2, -0.5 / 3 + 1.25 * 0.2 * r5 / 4, 1.25 * 0.3 * r5, -np.inf]
    np.testing.assert_allclose(got, want, rtol=1e-15)
    got = search_np.puct_scores(w, n, p, valid, np.array([5]), cl.replace(u_mode="sqrt_sum"))[0]
    np.testing.assert_allclose(got[2], 1.25 * 0.3 * math.sqrt(4), rtol=1e-15)


def test_mix_noise_by_hand():
    g4 = GameConfig(4, 3)  # E = 6
    priors = np.array([[0.3, 0.1, 0.2, 0.2, 0.1, 0.1]])
    noise = np.array([[0.995, 0.0, 0.005, 0.0, 0.0, 0.0]])
    valid = np.array([[True, False, True, False, False, False]])
    az = AZ.replace(game=g4)
    got = search_np.mix_noise(priors, noise, valid, np.array([3]), az)[0]
    w = 0.25 * (1 - 3 / 6)
    p = np.array([0.6, 0.4])
    mixed = (1 - w) * p + w * np.array([0.99, 0.01])  # clipped
    np.testing.assert_allclose(got[[0, 2]], mixed / mixed.sum(), rtol=1e-15)
    assert got[[1, 3, 4, 5]].sum() == 0
    cl = CL.replace(game=g4)  # mix over all actions, then mask: (0.75 * 0.3 + 0.25 * 0.995) vs (0.75 * 0.2 + ...)
    got = search_np.mix_noise(priors, noise, valid, np.array([3]), cl)[0]
    m = 0.75 * priors[0, [0, 2]] + 0.25 * noise[0, [0, 2]]
    np.testing.assert_allclose(got[[0, 2]], m / m.sum(), rtol=1e-15)
    # masked priors summing below 1e-8: uniform over valid
    got = search_np._mask_renorm(np.array([[0.0, 1.0, 0.0]]), np.array([[True, False, True]]), az)
    np.testing.assert_array_equal(got, [[0.5, 0.0, 0.5]])


def test_noise_alpha_boundaries():
    a = search_np.noise_alpha(np.array([1, 4, 5, 15, 16, 30]), AZ)
    np.testing.assert_allclose(a, [0.15, 0.15, 0.3, 0.3, 0.4, 0.4], rtol=1e-7)
    np.testing.assert_allclose(search_np.noise_alpha(np.array([1, 30]), CL), [0.3, 0.3], rtol=1e-7)


def test_temperature_strict_boundaries():
    t = search_np.temperature(np.arange(11), AZ)  # E = 10: p = 0.2 exactly at move 2
    np.testing.assert_array_equal(t, [1.0, 1.0, 0.8, 0.8, 0.5, 0.5, 0.2, 0.2, 0.1, 0.1, 0.1])
    np.testing.assert_array_equal(search_np.temperature(np.arange(11), CL), 1.0)


def test_target_policy_and_move_choice():
    visits = np.array([[3, 1, 0, 3], [0, 0, 0, 0]])
    valid = np.array([[True, True, True, False], [False, True, True, True]])
    pi = search_np.target_policy(visits, valid, np.array([1.0, 1.0]), AZ)
    np.testing.assert_allclose(pi[0], np.array([3, 1, 1e-8, 0]) / (4 + 1e-8) * 1, rtol=1e-6)
    np.testing.assert_allclose(pi[1], [0, 1 / 3, 1 / 3, 1 / 3])
    pi = search_np.target_policy(visits, valid, np.array([0.5, 0.5]), AZ)
    np.testing.assert_allclose(pi[0, :2], [0.9, 0.1], rtol=1e-6)
    np.testing.assert_array_equal(search_np.select_move(visits, valid, AZ), [0, 1])  # first index on ties
    np.testing.assert_array_equal(search_np.select_move(visits, np.ones_like(valid), AZ.replace(tie_break="last")),
                                  [3, 3])


def _search(cfg, state, noise=None):
    s = game_states.stack([state])
    z = np.zeros((1, cfg.num_edges)) if noise is None else noise
    return {k: v[0] for k, v in search_np.search(s, z, cfg).items()}


def test_budget_semantics():
    s = game_states.play([EDGE[(0, 1)], EDGE[(2, 3)]], G5)
    for reads in (2, 3, 16):
        assert _search(AZ.replace(num_reads=reads), s)["visits"].sum() == reads - 1  # the root's read counts
        assert _search(CL.replace(num_reads=reads), s)["visits"].sum() == reads
    r = _search(AZ, s)
    assert (r["visits"][~game_np.legal_moves(s, G5)] == 0).all()
    assert r["visits"].dtype == np.int32


def test_three_reads_traced_by_hand():
    """alphazero_clique, 3 reads, no noise: expand root; visit argmax P; then compare Q + U again."""
    cfg = AZ.replace(num_reads=3, root_noise=False)
    s = game_states.play([EDGE[(0, 1)], EDGE[(2, 3)], EDGE[(0, 2)], EDGE[(1, 3)]], G5)
    valid = game_np.legal_moves(s, G5)
    p, v_root = table_evaluator_np(s)
    p = np.where(valid, p.astype(np.float64), 0.0)
    p /= p.sum()
    a1 = int(np.argmax(np.where(valid, p, -1)))  # read 2: Q = 0, U = 3 P sqrt(1) / 1
    s1 = game_np.apply_move(s, np.int64(a1), G5)
    tv, done = game_np.terminal_value(s1, G5)
    v1 = 2.0 * float(tv) if done else float(table_evaluator_np(s1)[1])
    w = np.zeros(G5.num_edges)
    n = np.zeros(G5.num_edges)
    w[a1], n[a1] = -v1, 1  # the edge into the child gets -v
    scores = np.where(valid, w / (1 + n) + 3.0 * p * math.sqrt(2) / (1 + n), -np.inf)  # read 3: N(root) = 2
    a2 = int(np.argmax(scores))
    r = _search(cfg, s)
    expected = np.zeros(G5.num_edges, int)
    expected[a1] += 1
    expected[a2] += 1
    np.testing.assert_array_equal(r["visits"], expected)
    assert r["priors"].sum() == pytest.approx(1.0)


def test_immediate_win_found_and_root_value():
    # first owns (0,1), (0,3) and can close (1,3) at once
    s = game_states.play([EDGE[uv] for uv in [(1, 4), (1, 2), (0, 3), (0, 4), (0, 1), (0, 2)]], G5)
    noise = search_np.sample_noise(0, game_np.legal_moves(game_states.stack([s]), G5), AZ)
    r = _search(AZ.replace(num_reads=64), s, noise)
    assert int(np.argmax(r["visits"])) == EDGE[(1, 3)]
    assert r["q"][EDGE[(1, 3)]] > 1.5  # W / (1 + N) of repeated +2 terminal backups
    _, v_root = table_evaluator_np(s)
    assert r["value"] == pytest.approx((float(v_root) + r["w"].sum()) / (1 + r["visits"].sum()))


def test_terminal_root_is_not_searched():
    cycle = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)]
    star = [(0, 2), (0, 3), (1, 3), (1, 4), (2, 4)]
    s = game_states.play([EDGE[e] for pair in zip(cycle, star) for e in pair], G5)  # draw
    r = _search(AZ, s)
    assert r["visits"].sum() == 0 and r["value"] == 0.0


def test_near_tie_detector():
    s = game_states.stack([game_states.play([], G5)])
    d = search_np.Diagnostics()
    search_np.Oracle(diagnostics=d).search(s, np.zeros((1, 10)), AZ.replace(root_noise=False))
    assert d.decisions >= AZ.num_reads - 1  # every read after the root's expansion decides at the root
    assert 0 < d.min_rel_margin <= 1
    # a uniform table: every first choice is a structural tie (identical W, N, P), not a near-tie
    uniform = lambda st, g: (np.full((1, 10), 0.1, np.float32), np.zeros(1, np.float32))
    d = search_np.Diagnostics()
    search_np.Oracle(uniform, d).search(s, np.zeros((1, 10)), AZ.replace(root_noise=False, num_reads=3))
    assert d.structural_ties >= 1


def test_random_tie_break_differs():
    s = game_states.stack([game_states.play([], G5)])
    uniform = lambda st, g: (np.full((1, 10), 0.1, np.float32), np.zeros(1, np.float32))
    cfg = AZ.replace(root_noise=False, num_reads=4)
    first = search_np.Oracle(uniform).search(s, np.zeros((1, 10)), cfg)["visits"][0]
    np.testing.assert_array_equal(first, [1, 1, 1] + [0] * 7)  # ties -> first index
    rnd = search_np.Oracle(uniform).search(s, np.zeros((1, 10)), cfg.replace(tie_break="random"))["visits"][0]
    assert rnd.sum() == 3 and not np.array_equal(rnd, first)


def test_search_input_errors():
    s = game_states.stack([game_states.play([], G5)])
    with pytest.raises(ValueError, match="noise must have shape"):
        search_np.search(s, np.zeros((1, 9)), AZ)
    with pytest.raises(ValueError, match=r"states\['colours'\]"):
        search_np.search(s, np.zeros((1, 10)), AZ.replace(game=GameConfig(6, 3)))


def test_network_evaluator_near_tie_detector():
    """NetworkEvaluator quantises (logits 2^-6, value 2^-7, floor) and records how close a raw output
    came to a quantisation boundary: the check leaves a position out below NET_DELTA."""
    from reference.mcts.search import spec as ev
    from reference.nets import np_ref as nets

    evaluate = search_np.NetworkEvaluator(nets.init_params(0, 5, hidden=16))
    s = game_states.stack([game_states.play([EDGE[(0, 1)], EDGE[(2, 3)]], G5)])
    p, v = evaluate(s, G5)
    assert p.shape == (1, 10) and p.sum() == pytest.approx(1.0)
    assert v[0] / ev.VALUE_GRID == np.floor(v[0] / ev.VALUE_GRID)
    logits_q = np.log(p[0]) - np.log(p[0]).max()
    np.testing.assert_allclose(logits_q / ev.LOGIT_GRID, np.round(logits_q / ev.LOGIT_GRID), atol=1e-9)
    assert 0 < evaluate.min_boundary_distance <= ev.LOGIT_GRID / 2
    assert search_np._boundary_distance(np.array([3 * ev.LOGIT_GRID + 1e-7]), ev.LOGIT_GRID) == pytest.approx(1e-7)
    r = search_np.Oracle(evaluate).search(s, np.zeros((1, 10)), AZ.replace(evaluator="network"))
    assert r["visits"].sum() == AZ.num_reads - 1
