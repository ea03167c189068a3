"""MCTS whole-search entry point: ``search_with_evaluator(state, evaluator, noise, config)`` with an
evaluator of any framework, and the fixed-perspective search mode, in the three searches."""

from __future__ import annotations

import numpy as np
import pytest

from checks.mcts.common import table_evaluator_of
from reference.mcts import config as config_lib
from reference.mcts.game import states as game_states
from reference.mcts.search import jax_ref, np_ref, torch_ref

AZ = config_lib.profile("alphazero_clique", num_reads=24)
SEARCHES = {"numpy": np_ref.search_with_evaluator, "jax": jax_ref.search_with_evaluator,
            "torch": torch_ref.search_with_evaluator}


def _position(moves=(0, 3, 5)):
    return game_states.play(list(moves), AZ.game)


def _noise(seed=1):
    return np.random.default_rng(seed).dirichlet(np.full(AZ.num_edges, 0.3)).astype(np.float32)


def _player_one(framework):
    """The table evaluator answering with player one's value (a 'fixed perspective' evaluator)."""
    base = table_evaluator_of(framework, AZ.game)

    def evaluate(state):
        p, v = base(state)
        return p, v * (1 - 2 * state["to_play"])
    return evaluate


_P1 = {f: _player_one(f) for f in SEARCHES}  # one object per framework: the JAX search compiles once


@pytest.mark.parametrize("search", list(SEARCHES))
@pytest.mark.parametrize("evaluator", ["numpy", "jax", "torch"])
def test_any_framework_evaluator_gives_the_oracle_visits(search, evaluator):
    pytest.importorskip(evaluator if evaluator != "numpy" else "numpy")
    state, noise = _position(), _noise()
    want = np_ref.search_with_evaluator(state, table_evaluator_of("numpy", AZ.game), noise, AZ)
    got = SEARCHES[search](state, table_evaluator_of(evaluator, AZ.game), noise, AZ)
    assert np.asarray(got["visits"]).tolist() == want["visits"].tolist()
    assert np.allclose(np.asarray(got["value"], np.float64), want["value"], atol=1e-5)


@pytest.mark.parametrize("search", list(SEARCHES))
def test_fixed_perspective_with_a_player_one_evaluator_equals_alternating(search):
    for moves in [(0, 3, 5), (0, 3), (2,)]:  # player one and player two to move
        state, noise = _position(moves), _noise(len(moves))
        alt = SEARCHES[search](state, table_evaluator_of(search, AZ.game), noise, AZ)
        fixed = SEARCHES[search](state, _P1[search], noise, AZ.replace(perspective="fixed"))
        assert np.asarray(fixed["visits"]).tolist() == np.asarray(alt["visits"]).tolist()
        assert np.allclose(np.asarray(fixed["q"]), np.asarray(alt["q"]), atol=1e-6)
    # and the mode matters: a player-one evaluator read as alternating gives other visits somewhere
    diff = [np.asarray(SEARCHES[search](_position(m), _P1[search], _noise(len(m)), AZ)["visits"]).tolist()
            != np.asarray(SEARCHES[search](_position(m), _P1[search], _noise(len(m)),
                                           AZ.replace(perspective="fixed"))["visits"]).tolist()
            for m in [(0, 3, 5), (0, 3), (2,)]]
    assert any(diff)


def test_perspective_is_validated():
    with pytest.raises(ValueError, match="perspective"):
        AZ.replace(perspective="player_one")
