"""The clique game (numpy / jax / torch), the table evaluator and the MCTS config: unit tests the catalogue
cannot express (hand-played games, every framework on many shapes, bit-exactness, validation errors)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from harness.numerics import pin

pin()

from reference.mcts.config import CLASSIC, GameConfig, MCTSConfig, default_config, profile
from reference.mcts.game import np_ref as game_np
from reference.mcts.game import states as game_states
from reference.mcts.search import np_ref as search_np
from reference.mcts.search import spec as search_spec
from reference.nets import encoding

G5 = GameConfig(5, 3, "symmetric")
EDGE = {tuple(uv): i for i, uv in enumerate(encoding.edge_list(5).tolist())}


def play(uvs, game=G5):
    return game_states.play([EDGE[tuple(uv)] for uv in uvs], game)


# ------------------------------------------------------------------------------------------- rules


def test_cliques_are_the_k_subsets():
    for n, k in ((4, 3), (5, 3), (6, 4)):
        cl = game_states.cliques(GameConfig(n, k))
        assert cl.shape == (math.comb(n, k), k * (k - 1) // 2)
        el = encoding.edge_list(n)
        for row, vs in zip(cl, itertools.combinations(range(n), k)):
            assert {tuple(el[e]) for e in row} == set(itertools.combinations(vs, 2))


def test_symmetric_win_and_value_for_player_to_move():
    # first: (0,1), (0,2), (1,2) -> triangle on its 3rd move; second: (3,4), (2,3)
    s = play([(0, 1), (3, 4), (0, 2), (2, 3)])
    assert s["outcome"] == 0 and s["to_play"] == 0 and s["move_count"] == 4
    v, done = game_np.terminal_value(s, G5)
    assert not done and v == 0.0
    s = game_np.apply_move(s, np.int64(EDGE[(1, 2)]), G5)
    assert s["outcome"] == 1 and s["to_play"] == 1 and s["move_count"] == 5
    v, done = game_np.terminal_value(s, G5)
    assert done and v == -1.0  # the player to move (second) lost
    assert not game_np.legal_moves(s, G5).any()


def test_second_player_wins_symmetric():
    s = play([(0, 1), (2, 3), (0, 4), (2, 4), (1, 2)])
    s = game_np.apply_move(s, np.int64(EDGE[(3, 4)]), G5)  # second owns (2,3), (2,4), (3,4)
    assert s["outcome"] == 2 and s["to_play"] == 0
    assert game_np.terminal_value(s, G5)[0] == -1.0


def test_draw_on_full_board_pentagon_pentagram():
    # first owns the 5-cycle 0-1-2-3-4, second the pentagram: no triangle for either (R(3,3) = 6)
    cycle = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)]
    star = [(0, 2), (0, 3), (1, 3), (1, 4), (2, 4)]
    s = play([e for pair in zip(cycle, star) for e in pair])
    assert s["outcome"] == 3 and s["move_count"] == 10 and s["to_play"] == 0
    v, done = game_np.terminal_value(s, G5)
    assert done and v == 0.0


def test_asymmetric_rules():
    ga = GameConfig(5, 3, "asymmetric")
    cycle = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)]
    star = [(0, 2), (0, 3), (1, 3), (1, 4), (2, 4)]
    s = play([e for pair in zip(cycle, star) for e in pair], ga)
    assert s["outcome"] == 2  # full board, no first-player triangle: second wins
    assert game_np.terminal_value(s, ga)[0] == -1.0  # first to move, lost
    # the second player's triangle does not end an asymmetric game
    s = play([(0, 1), (2, 3), (0, 4), (2, 4), (1, 2), (3, 4)], ga)
    assert s["outcome"] == 0
    s = play([(0, 1), (2, 3), (0, 2), (3, 4), (1, 2)], ga)
    assert s["outcome"] == 1


def test_apply_move_rejects_illegal_actions():
    s = play([(0, 1)])
    with pytest.raises(ValueError, match="illegal action"):
        game_np.apply_move(s, np.int64(EDGE[(0, 1)]), G5)
    with pytest.raises(ValueError, match="out of range"):
        game_np.apply_move(s, np.int64(10), G5)
    with pytest.raises(ValueError, match="E=10"):
        game_np.legal_moves(game_states.initial_state(GameConfig(6, 3)), G5)


def test_encode_matches_nets_encoding():
    s = play([(0, 1), (3, 4), (0, 2)])
    out = game_np.encode(s, G5)
    ei, ea = encoding.encode(s["colours"])
    np.testing.assert_array_equal(out["edge_index"], ei)
    np.testing.assert_array_equal(out["edge_attr"], ea)
    assert out["edge_attr"].shape == (20, 3) and out["edge_attr"][EDGE[(3, 4)] + 10].tolist() == [0, 0, 1]


# ------------------------------------------------------------------------------------------- frameworks


def _random_batch(game, count, rng):
    from checks.mcts.common import random_position

    states, actions = [], []
    while len(states) < count:
        s = random_position(rng, game, int(rng.integers(0, game.num_edges)))
        if s is None:
            continue
        states.append(s)
        actions.append(rng.choice(np.flatnonzero(game_np.legal_moves(s, game))))
    return game_states.stack(states), np.array(actions, np.int32)


GAMES = [GameConfig(4, 3), GameConfig(5, 3), GameConfig(6, 4, "asymmetric"), GameConfig(6, 3, "asymmetric")]


@pytest.mark.parametrize("game", GAMES, ids=lambda g: f"n{g.n}k{g.k}{g.mode[:4]}")
def test_jax_and_torch_games_equal_numpy(game):
    import jax.numpy as jnp
    import torch

    from reference.mcts.game import jax_ref as game_jax
    from reference.mcts.game import torch_ref as game_torch

    rng = np.random.default_rng(game.n * 10 + game.k)
    states, actions = _random_batch(game, 64, rng)
    after = game_np.apply_move(states, actions, game)
    for mod, conv in ((game_jax, jnp.asarray), (game_torch, torch.as_tensor)):
        s = {k: conv(v) for k, v in states.items()}
        got = mod.apply_move(s, conv(actions), game)
        for k in game_states.STATE_KEYS:
            np.testing.assert_array_equal(np.asarray(got[k]), after[k], err_msg=f"{mod.__name__} {k}")
        for st, ref in ((s, states), ({k: conv(v) for k, v in after.items()}, after)):
            np.testing.assert_array_equal(np.asarray(mod.legal_moves(st, game)), game_np.legal_moves(ref, game))
            v, d = mod.terminal_value(st, game)
            rv, rd = game_np.terminal_value(ref, game)
            np.testing.assert_array_equal(np.asarray(v), rv)
            np.testing.assert_array_equal(np.asarray(d), rd)
        enc = mod.encode(s, game)
        ref = game_np.encode(states, game)
        np.testing.assert_array_equal(np.asarray(enc["edge_index"]), ref["edge_index"])
        np.testing.assert_array_equal(np.asarray(enc["edge_attr"]), ref["edge_attr"])


# ------------------------------------------------------------------------------------------- evaluator


@pytest.mark.parametrize("e", [3, 6, 10, 15, 21, 28, 66])
def test_table_evaluator_bit_identical(e):
    import jax
    import jax.numpy as jnp
    import torch

    from reference.mcts.search import jax_ref as search_jax
    from reference.mcts.search import torch_ref as search_torch

    rng = np.random.default_rng(e)
    st = {"colours": rng.integers(0, 3, (300, e)).astype(np.int32), "to_play": rng.integers(0, 2, 300).astype(np.int32)}
    p0, v0 = search_np.table_evaluator(st)
    p1, v1 = jax.jit(search_jax.table_evaluator)({k: jnp.asarray(v) for k, v in st.items()})
    p2, v2 = search_torch.table_evaluator({k: torch.as_tensor(v) for k, v in st.items()})
    for p, v in ((np.asarray(p1), np.asarray(v1)), (p2.numpy(), v2.numpy())):
        assert p.dtype == np.float32 and v.dtype == np.float32
        np.testing.assert_array_equal(p.view(np.uint32), p0.view(np.uint32))
        np.testing.assert_array_equal(v.view(np.uint32), v0.view(np.uint32))
    assert (p0 > 0).all() and np.all(np.abs(p0.sum(-1, dtype=np.float64) - 1) <= e * 2.0 ** -20)
    assert np.all(p0 * 2**20 == np.round(p0 * 2**20))  # dyadic: exact in float32
    assert np.all(v0 * 128 == np.round(v0 * 128)) and np.abs(v0).max() <= 127 / 128


def test_table_evaluator_is_a_function_of_the_state():
    s = play([(0, 1), (3, 4)])
    p, v = search_np.table_evaluator(s)
    p2, v2 = search_np.table_evaluator(game_states.stack([s, s]))
    np.testing.assert_array_equal(p2[1], p)
    assert v2[0] == v
    other = dict(s, to_play=np.int32(1))
    assert not np.array_equal(search_np.table_evaluator(other)[0], p)  # the player to move is part of the key
    with pytest.raises(ValueError, match="E must be"):
        search_np.table_evaluator({"colours": np.zeros(67, np.int32), "to_play": np.int32(0)})


# ------------------------------------------------------------------------------------------- config


def test_profiles_as_in_the_spec():
    az = default_config("alphazero_clique")
    assert (az.c_puct, az.q_mode, az.u_mode, az.terminal_weight, az.noise_scope, az.noise_clip) == (
        3.0, "w_over_1_plus_n", "sqrt_max1_node", 2.0, "valid", (0.01, 0.99))
    assert (az.alpha_few, az.alpha_few_below, az.alpha_default, az.alpha_many, az.alpha_many_above) == (
        0.15, 5, 0.3, 0.4, 15)
    assert az.noise_weight_schedule == "decay" and az.temperature_schedule == "annealed" and az.reads_include_root
    assert az.temperature_thresholds == (0.2, 0.4, 0.6, 0.8) and az.temperature_values == (1.0, 0.8, 0.5, 0.2, 0.1)
    assert (CLASSIC.q_mode, CLASSIC.u_mode, CLASSIC.noise_scope, CLASSIC.alpha_mode, CLASSIC.noise_clip,
            CLASSIC.noise_weight_schedule, CLASSIC.reads_include_root) == (
        "mean", "sqrt_1_plus_sum", "all", "fixed", None, "fixed", False)
    assert hash(profile("classic")) == hash(CLASSIC)  # hashable: a jit static argument


@pytest.mark.parametrize("kwargs, needle", [
    (dict(c_puct=-1.0), "c_puct"),
    (dict(q_mode="W/N"), "q_mode"),
    (dict(u_mode="sqrt"), "u_mode"),
    (dict(num_reads=0), "num_reads"),
    (dict(num_reads=1), "num_reads"),
    (dict(noise_clip=(0.5, 0.1)), "noise_clip"),
    (dict(noise_weight=1.5), "noise_weight"),
    (dict(temperature_values=(1.0,)), "temperature_values"),
    (dict(tie_break="middle"), "tie_break"),
    (dict(terminal_detection=1), "terminal_detection"),
    (dict(game=(5, 3)), "game"),
])
def test_config_validation(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        MCTSConfig(**kwargs)


def test_game_config_validation():
    with pytest.raises(ValueError, match="n must be"):
        GameConfig(n=2)
    with pytest.raises(ValueError, match="k must be"):
        GameConfig(n=4, k=5)
    with pytest.raises(ValueError, match="mode"):
        GameConfig(mode="misere")
    with pytest.raises(ValueError, match="name must be"):
        profile("muzero")


# ------------------------------------------------------------------------------------------- network evaluator


def test_network_evaluator_quantised_alike():
    """jax / torch network evaluators against the float64 one: the quantised value is bit-equal, priors
    within float32 rounding, and symmetric edges (equal quantised logits) get bit-equal priors."""
    import jax.numpy as jnp
    import torch

    from checks.mcts.common import positions
    from reference.mcts.search import jax_ref as search_jax
    from reference.mcts.search import torch_ref as search_torch
    from reference.nets import jax_ref as nets_jax
    from reference.nets import np_ref as nets_np
    from reference.nets import torch_ref as nets_torch

    params = nets_np.init_params(3, 5, hidden=16)
    states = positions(np.random.default_rng(0), G5, 64)
    ref = search_np.NetworkEvaluator(params)
    p0, v0 = ref(states, G5)
    assert ref.min_boundary_distance >= search_spec.NET_DELTA  # no output of this batch sits on a grid boundary
    p1, v1 = search_jax._network_evaluator({k: jnp.asarray(v) for k, v in states.items()}, G5, nets_jax.to_native(params))
    p2, v2 = search_torch._network_evaluator({k: torch.as_tensor(v) for k, v in states.items()}, G5,
                                             nets_torch.to_native(params))
    for p, v in ((np.asarray(p1), np.asarray(v1)), (p2.numpy(), v2.numpy())):
        np.testing.assert_array_equal(v.astype(np.float64), v0)
        np.testing.assert_allclose(p, p0, rtol=2e-6, atol=0)
        ties = p0[:, :, None] == p0[:, None, :]  # equal in float64 <=> equal quantised logits
        assert ties.sum() > 64 * 10  # symmetric edges exist beyond the diagonal
        np.testing.assert_array_equal(p[:, :, None] == p[:, None, :], ties)
