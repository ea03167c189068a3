"""Shared pieces of the MCTS checks: the games and profiles they run, the port-declaration knobs, positions,
injected root noise, near-tie screening, and the controls' config drifts.

Every convention is a setting of ``reference.mcts.config.MCTSConfig``; a negative control runs a port's
component with ONE drifted setting (``drift``: a config field, the component's public argument) against the
numpy oracle with the right one, so the control names exactly the convention a port could get wrong. Inputs
are small (n in {5, 6}, k in {3, 4}, num_reads 64, batches of 4 positions) and use few distinct configs: the
JAX search compiles once per config. The Dirichlet noise of the search is an INPUT (numpy), so visit counts
compare exactly.

Search inputs are screened for near-ties: the oracle records, for every PUCT decision, the gap between the
best and the runner-up score relative to |Q| + |U| of both; a position whose smallest gap is below
``NEAR_TIE`` (float32 rounding of Q + U is ~1e-7 relative; the table evaluator's priors and values are
exact in float32) is replaced, so a last-bit difference between frameworks cannot flip a decision.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools

import numpy as np

from checks._common import seeded
from harness.base import Check, Control, Knob
from harness.tap import recording
from reference.mcts.config import GameConfig, profile
from reference.mcts.game import np_ref as game_np
from reference.mcts.game import states as game_states
from reference.mcts.game.spec import STATE_KEYS
from reference.mcts.search import np_ref as search_np

B = 4  # positions per batch (fixed: one JAX compile per config)
READS = 64
NEAR_TIE = 1e-5
TARGET = "torch"  # framework whose components the negative controls mutate

G_SYM = GameConfig(n=5, k=3, mode="symmetric")  # E = 10
G_ASYM = GameConfig(n=6, k=4, mode="asymmetric")  # E = 15
AZ = profile("alphazero_clique", game=G_SYM, num_reads=READS)
CL = profile("classic", game=G_ASYM, num_reads=READS)
PROFILES = {"alphazero_clique": AZ, "classic": CL}
# port declarations (harness/declarations.py): the profile sections of the mixed checks, the knobs real
# code hard-codes, with the spec's values per profile
PROFILE_NAMES = ("alphazero_clique", "classic")
C_PUCT = Knob("c_puct", {"alphazero_clique": 3.0, "classic": 1.25})
TERMINAL_WEIGHT = Knob("terminal_weight", {"alphazero_clique": 2.0, "classic": 1.0})
NOISE_WEIGHT = Knob("noise_weight", 0.25)
SEARCH_KNOBS = (C_PUCT, TERMINAL_WEIGHT, NOISE_WEIGHT)  # what a whole search hard-codes


def drift(component: str, _config_arg: int = -1, _profile: str | None = None, **changes):
    """patch: the port's ``component`` called with its config (positional argument ``_config_arg``, the
    last by default) drifted by ``changes`` -- for every config, or only for those of profile ``_profile``."""
    def make(orig):
        def mutant(*args):
            args = list(args)
            if _profile is None or args[_config_arg].profile == _profile:
                args[_config_arg] = dataclasses.replace(args[_config_arg], **changes)
            return orig(*args)
        return mutant
    return {component: make}


def control(name, description, patch, target=None, **kw):
    """A negative control on ``TARGET`` (unless ``target`` is given), against the numpy oracle."""
    return Control(name, description, patch, target=target or TARGET, **kw)


def check(name, components, inputs, run, mode, fuzz=True, **kw) -> Check:
    """A Check whose case is ``inputs(seed)``; ``fuzz``: hypothesis draws the seeds (``seeded(inputs)``: the
    shapes stay fixed, no JAX recompile) unless ``strategy`` is given; ``kw``: the other fields of a Check."""
    kw.setdefault("strategy", seeded(inputs) if fuzz else None)
    return Check(name=name, components=components, inputs=inputs, run=run, mode=mode, **kw)


def as_np(c, x):
    """An implementation's output as a NumPy array (``c``: the components under test)."""
    return np.asarray(c.to_numpy(x))


def random_position(rng, game, moves: int, allow_terminal: bool = False):
    """A single state after ``moves`` random legal moves (None if the game ended and not allowed)."""
    s = game_states.initial_state(game, batch=None)
    for _ in range(moves):
        legal = np.flatnonzero(game_np.legal_moves(s, game))
        if legal.size == 0:
            break
        s = game_np.apply_move(s, np.int64(rng.choice(legal)), game)
    if s["outcome"] != 0 and not allow_terminal:
        return None
    return s


def positions(rng, game, count: int, lo: int = 0, hi: int | None = None, allow_terminal: bool = False):
    """A batch of ``count`` random positions after ``lo`` to ``hi`` (default E - 2) random legal moves."""
    hi = game.num_edges - 2 if hi is None else hi
    out = []
    while len(out) < count:
        s = random_position(rng, game, int(rng.integers(lo, hi + 1)), allow_terminal)
        if s is not None:
            out.append(s)
    return game_states.stack(out)


def int_state(x):
    """A state dict as int32 NumPy arrays (the case's canonical form)."""
    return {k: np.asarray(x[k], np.int32) for k in STATE_KEYS}


def root_noise(seed, states, config):
    """The search's injected root noise: the NumPy oracle's Dirichlet sample over the legal moves."""
    return search_np.sample_noise(seed, game_np.legal_moves(states, config.game), config)


def screened_search_case(rng, config, count=B, lo=0, hi=None, first=None):
    """``count`` ongoing positions + noise whose oracle search has no near-tie (see module docstring).

    ``first``: a predicate on the oracle's simulation paths (``simulation_paths``) that the first position's
    search must also satisfy (a regime the case must reach: a full-depth line, a late re-entry)."""
    keep, noises = [], []
    while len(keep) < count:
        s = positions(rng, config.game, 1, lo, hi)
        z = root_noise(int(rng.integers(2**31)), s, config)
        d = search_np.Diagnostics()
        screen = first if not keep else None  # the first position's search is recorded and screened
        with (recording() if screen else contextlib.nullcontext()) as trace:
            search_np.Oracle(diagnostics=d).search(s, z, config)
        if screen and not screen(simulation_paths(trace)):
            continue
        if d.min_rel_margin >= NEAR_TIE:
            keep.append(game_states.take(s, 0))
            noises.append(z[0])
    return {"states": int_state(game_states.stack(keep)), "noise": np.stack(noises).astype(np.float32)}


def simulation_paths(trace) -> list[tuple[int, ...]]:
    """The actions of each simulation's path from the root, in order (the oracle's ``mcts.select.path`` taps)."""
    return [tuple(int(a) for a in np.asarray(p) if a >= 0) for p in trace.values("mcts.select.path")]


def reenters_last_node(paths) -> bool:
    """Every simulation creates a node (no path repeats: no terminal node is reached twice), and the last one
    descends through the node the one before created: a search short of node slots reads a lost node back."""
    return (len(set(paths)) == len(paths) >= 2 and len(paths[-1]) > len(paths[-2])
            and paths[-1][:len(paths[-2])] == paths[-2])


def reaches_full_depth(game):
    """A simulation's path is E edges long (the root an empty board, the leaf a full one): every per-depth table
    of a search is read at its last row."""
    return lambda paths: any(len(p) == game.num_edges for p in paths)


@functools.cache
def table_evaluator_of(framework: str, game):
    """The harness's table evaluator of ONE state, in ``framework`` (what a user's search receives).
    Cached per (framework, game): the JAX search compiles once per evaluator object."""
    from reference.mcts.search import jax_ref, np_ref, torch_ref

    batched = {"numpy": np_ref.table_evaluator, "jax": jax_ref.table_evaluator, "torch": torch_ref.table_evaluator}
    table = batched[framework]

    def evaluate(state):
        p, v = table({k: x[None] for k, x in state.items()}, game)
        return p[0], v[0]

    evaluate.__qualname__ = f"table_evaluator[{framework}, n={game.n} k={game.k} {game.mode}]"
    return evaluate
