"""``mcts.mctx_oracle``: profile ``classic`` of every implementation against DeepMind's mctx.muzero_policy.

A property check: each implementation's ``mcts.search`` runs alone on the case and is compared with the
root statistics of ``mctx.muzero_policy`` on the same positions, evaluator and injected noise
(reference/mcts/mctx_oracle.py states the mapping). Visit counts are compared exactly (integers);
root Q and value in ``mcts.mctx_oracle.value`` within float32 tolerance. mctx is an optional oracle:
without it this module is skipped by the catalogue with a note.

Case: B = 4 positions of the clique game n = 6, k = 4 (asymmetric, E = 15), reached by random playouts
(E // 2 to E - 2 moves, skipping moves that would end the game: terminal leaves are within reach),
Dirichlet(0.3) noise over all E actions (numpy),
64 simulations. One shape and one config: mctx compiles once per process.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from checks.mcts.common import PROFILE_NAMES, check, drift
from harness.base import Control, Exact, Knob, Tolerance

if importlib.util.find_spec("mctx") is None:  # the catalogue notes and skips this module
    raise ModuleNotFoundError("mctx is not installed: mcts.mctx_oracle skipped", name="mctx")

BATCH = 4  # the config and batch shape of checks/mcts/search.py's classic cases: the JAX search compiles once
N, K, MODE = 6, 4, "asymmetric"
NUM_READS = 64


def _config(num_reads=NUM_READS):
    from reference.mcts.config import GameConfig, profile

    return profile("classic", game=GameConfig(N, K, MODE), num_reads=num_reads)


def _play(perm, moves, game):
    """The state after playing up to ``moves`` edges of ``perm`` in order, skipping any edge that would end
    the game (the roots stay ongoing, close to the end: terminal leaves are inside the search horizon)."""
    from reference.mcts.game import np_ref as game_np
    from reference.mcts.game import states as game_states

    s = game_states.initial_state(game, batch=None)
    played = 0
    for a in perm:
        if played == moves:
            break
        nxt = game_np.apply_move(s, np.int64(a), game)
        if nxt["outcome"] == 0:
            s, played = nxt, played + 1
    return s


def _case(perms, moves, seed):
    from reference.mcts.game import np_ref as game_np
    from reference.mcts.game import states as game_states
    from reference.mcts.search import np_ref as search_np

    cfg = _config()
    states = game_states.stack([_play(p, m, cfg.game) for p, m in zip(perms, moves)])
    valid = game_np.legal_moves(states, cfg.game)
    noise = search_np.sample_noise(seed, valid, cfg)
    return {"states": {k: np.asarray(v, np.int32) for k, v in states.items()}, "noise": noise}


def _inputs(seed):
    rng = np.random.default_rng(seed)
    e = _config().num_edges
    perms = [rng.permutation(e) for _ in range(BATCH)]
    moves = rng.integers(e // 2, e - 1, size=BATCH)
    return _case(perms, moves, seed)


def _strategy():
    from hypothesis import strategies as st

    e = _config().num_edges
    game = st.tuples(st.permutations(list(range(e))), st.integers(e // 2, e - 2))
    return st.tuples(st.lists(game, min_size=BATCH, max_size=BATCH), st.integers(0, 2**31 - 1)).map(
        lambda t: _case([p for p, _ in t[0]], [m for _, m in t[0]], t[1]))


@functools.lru_cache(maxsize=32)
def _mctx_cached(key):
    from reference.mcts.search import mctx_oracle

    states = {k: np.frombuffer(b, dtype=np.int32).reshape(shape) for k, (b, shape) in key[0]}
    noise = np.frombuffer(key[1], dtype=np.float32).reshape(key[2])
    out = mctx_oracle.search(states, noise, _config())
    return {k: np.asarray(v) for k, v in out.items()}


def _expected(c, case):
    """mctx's root statistics for the case (computed once per distinct case)."""
    states = {k: np.ascontiguousarray(np.asarray(c.to_numpy(v), np.int32)) for k, v in case["states"].items()}
    noise = np.ascontiguousarray(np.asarray(c.to_numpy(case["noise"]), np.float32))
    key = (tuple(sorted((k, (v.tobytes(), v.shape)) for k, v in states.items())), noise.tobytes(), noise.shape)
    return _mctx_cached(key)


def _run_visits(c, case):
    out = c["mcts.search"](case["states"], case["noise"], _config())
    actual = np.asarray(c.to_numpy(out["visits"])).astype(np.int32)
    return {"visits": actual}, {"visits": _expected(c, case)["visits"].astype(np.int32)}


def _run_value(c, case):
    out = c["mcts.search"](case["states"], case["noise"], _config())
    exp = _expected(c, case)
    actual = {"q": np.asarray(c.to_numpy(out["q"]), np.float32),
              "value": np.asarray(c.to_numpy(out["value"]), np.float32)}
    return actual, {"q": exp["q"].astype(np.float32), "value": exp["value"].astype(np.float32)}


def _drift(**changes):
    """A port whose search runs with a drifted config (the rest of the call unchanged)."""
    return drift("mcts.search", **changes)


def _off_by_one(orig):
    return lambda states, noise, cfg: orig(states, noise, cfg.replace(num_reads=cfg.num_reads - 1))


# jax targets only drifts of traced numbers (c_puct, num_reads): they reuse the compiled search; the
# structural drifts target torch / numpy (a jax target would cost one more compile each)
_CONTROLS = (
    Control("c_puct_1", "c_puct 1.0 instead of the profile's 1.25", _drift(c_puct=1.0), target="jax"),
    Control("q_w_over_1_plus_n", "Q = W / (1 + N) instead of the mean W / N", _drift(q_mode="w_over_1_plus_n"),
            target="torch"),
    Control("sqrt_sum", "U with sqrt(sum N) instead of sqrt(1 + sum N)", _drift(u_mode="sqrt_sum"), target="torch"),
    Control("num_reads_off_by_one", "num_reads - 1 simulations (the root expansion counted as a read)",
            {"mcts.search": _off_by_one}, target="jax"),
    Control("reads_include_root", "the root expansion counted in the budget (alphazero_clique's convention)",
            _drift(reads_include_root=True), target="numpy"),
    Control("backup_same_sign", "backup +v on every edge (no sign flip per ply)", _drift(backup_sign="same"),
            target="torch"),
    Control("no_terminal_detection", "terminal leaves valued by the evaluator, not the exact outcome",
            _drift(terminal_detection=False), target="torch"),
    Control("noise_over_valid", "noise renormalised over the valid actions only (scope valid)",
            _drift(noise_scope="valid"), target="torch"),
)


def _mctx_check(name, run, mode, controls, description):
    """A property check of ``mcts.search`` against mctx on the classic cases (no golden file: mctx is the oracle)."""
    return check(name, ("mcts.search",), _inputs, run, mode, strategy=_strategy, kind="property",
                 profiles=("classic",), profile_family=PROFILE_NAMES, knobs=(Knob("c_puct", {"classic": 1.25}),),
                 fixture=False, controls=controls, description=description)


CHECKS = [
    _mctx_check("mcts.mctx_oracle", _run_visits, Exact(), _CONTROLS,
                "profile classic: root visit counts equal mctx.muzero_policy's exactly (4 positions of "
                "K_6 / 4-clique asymmetric, 64 simulations, injected noise, table evaluator)"),
    _mctx_check("mcts.mctx_oracle.value", _run_value, Tolerance(), (
        Control("q_w_over_1_plus_n", "Q = W / (1 + N) instead of the mean W / N",
                _drift(q_mode="w_over_1_plus_n"), target="torch"),
        Control("backup_same_sign", "backup +v on every edge", _drift(backup_sign="same"), target="numpy"),
    ), "profile classic: root Q and root value equal mctx.muzero_policy's within float32 tolerance"),
]
