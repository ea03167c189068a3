"""Trace checks: a whole loop runs unchanged except for its taps (``harness.tap``), on the harness's inputs,
and every implementation's trace is compared with the oracle's tap by tap (``harness.trace``).

The report names the FIRST divergent tap (name, call index, leaf path, values), then the rest, and blames
the component the tap belongs to (``train.loss.l2`` -> ``train.loss``). A port taps what it has: taps it
never emits are listed as untapped, not failed; a trace sharing no tap with the oracle's fails ("compared
nothing"). The negative controls are the existing ones of the loop's check, reused as they are: the trace
check must name the first tap each of them disturbs.

Tap names (the spec's quantities; the references emit them at the same points):

    train.loss.policy / .value / .l2 / .total     per step: the unweighted terms and the weighted total
    train.lr                                      per step: the learning rate the optimiser applies
    train.grad_norm.before_clip / .after_clip     per step: global gradient norm around clipping
    train.params                                  per step: canonical parameters after the update
    mcts.select.path                              per simulation: actions from the root, -1 padded to E
    mcts.evaluate.leaf_value                      per simulation: the leaf's value for its mover (exact
                                                  outcome when terminal), before the terminal weight
    mcts.backup.values                            per simulation: the increment of W on each path edge
    mcts.root.visits                              per simulation: the root's visit counts after it
"""

from __future__ import annotations

import functools

import numpy as np

from harness.base import Check, Control, Tolerance
from harness.tap import recording
from harness.trace import compare_traces

from checks import mcts as _mcts
from checks import train as _train

TRACE_TRAIN_STEPS = 10
TRACE_MCTS_POSITIONS = 2


def _trace_train(c, k):
    batches = {name: v[:TRACE_TRAIN_STEPS] for name, v in k["batches"].items()}
    with recording() as trace:
        c["train.trajectory"](k["params"], k["edge_index"], batches, k["config"])
    return trace


def _reuse(checks, check_name, expect, adapt=None):
    """The controls of an existing check named in ``expect``, expecting the trace check to blame
    ``expect[name]``; ``adapt`` rewrites each patch for the trace check's component."""
    import dataclasses

    check = next(ch for ch in checks if ch.name == check_name)
    by_name = {ctl.name: ctl for ctl in check.controls}
    return tuple(dataclasses.replace(by_name[n], expect_components=(comp,),
                                     patch=adapt(by_name[n].patch) if adapt else by_name[n].patch)
                 for n, comp in expect.items())


# ---------------------------------------------------------------------------------------- MCTS


@functools.lru_cache(maxsize=None)
def table_evaluator_of(framework: str, game):
    """The harness's table evaluator of ONE state, in ``framework`` (what a user's search receives).
    Cached per (framework, game): the JAX search compiles once per evaluator object."""
    from reference.mcts import evaluator as ev

    batched = {"numpy": ev.table_evaluator_np, "jax": ev.table_evaluator_jax, "torch": ev.table_evaluator_torch}
    table = batched[framework]

    def evaluate(state):
        p, v = table({k: x[None] for k, x in state.items()}, game)
        return p[0], v[0]

    evaluate.__qualname__ = f"table_evaluator[{framework}, n={game.n} k={game.k} {game.mode}]"
    return evaluate


def _trace_mcts_inputs(seed):
    rng = np.random.default_rng(seed)
    return {name: _mcts.screened_search_case(rng, cfg, count=TRACE_MCTS_POSITIONS, lo=1, hi=cfg.num_edges - 3)
            for name, cfg in _mcts.PROFILES.items()}


def _trace_mcts(c, case):
    with recording() as trace:
        for name, cfg in c.sections(_mcts.PROFILES).items():  # a single-profile port: its profile's games
            evaluator = table_evaluator_of(c.framework, cfg.game)
            states, noise = case[name]["states"], case[name]["noise"]
            for b in range(TRACE_MCTS_POSITIONS):
                c["mcts.search_with_evaluator"]({k: v[b] for k, v in states.items()}, evaluator, noise[b], cfg)
    return trace


def _for_search_with_evaluator(patch):
    """A control's patch of ``mcts.search(states, noise, config)`` (a config drift) applied to
    ``mcts.search_with_evaluator(state, evaluator, noise, config)``."""
    make = patch["mcts.search"]

    def make4(orig4):
        def mutant(state, evaluator, noise, config):
            return make(lambda s, z, cfg: orig4(state, evaluator, noise, cfg))(state, noise, config)
        return mutant
    return {"mcts.search_with_evaluator": make4}


def _trace_compare(mode):
    return lambda actual, expected, _mode: compare_traces(actual, expected, mode)


TRAIN_TRACE_MODE = Tolerance(rtol=1.3e-6, atol=2e-5, reason="the tolerance of train.trajectory (same loop, same "
                                                              "Adam amplification of a cancelling gradient)")

CHECKS = [
    Check(
        name="trace.train",
        components=("train.trajectory",),
        inputs=_train.trajectory_case,
        run=_trace_train,
        mode=TRAIN_TRACE_MODE,
        compare=_trace_compare(TRAIN_TRACE_MODE),
        fixture=False,
        description=f"the training loop's taps over {TRACE_TRAIN_STEPS} steps (loss terms, learning rate, gradient "
                    "norm before / after clipping, parameters): the first divergent tap names the step and the "
                    "quantity",
        controls=_reuse(_train.CHECKS, "train.trajectory",
                        {"policy_weight_dropped": "train.loss", "weight_decay_dropped": "train.params",
                         "l2_dropped": "train.loss"}),
    ),
    Check(
        name="trace.mcts",
        components=("mcts.search_with_evaluator",),
        profiles=_mcts.PROFILE_NAMES, knobs=(_mcts.C_PUCT, _mcts.TERMINAL_WEIGHT, _mcts.NOISE_WEIGHT),
        inputs=_trace_mcts_inputs,
        run=_trace_mcts,
        mode=Tolerance(),
        compare=_trace_compare(Tolerance()),
        fixture=False,
        description=f"whole searches of one game with the harness's table evaluator handed in as a callable "
                    f"(both profiles, {TRACE_MCTS_POSITIONS} positions each, 64 reads, no near-ties): per "
                    "simulation the selected path, leaf value, backed-up values and root visits; the first "
                    "divergent tap names the simulation and the stage (select / evaluate / backup)",
        controls=_reuse(_mcts.CHECKS, "mcts.visits",
                        {"c_puct_1": "mcts.select", "q_mean_in_alphazero": "mcts.select",
                         "sqrt_sum": "mcts.select", "backup_plus_v": "mcts.backup",
                         "no_terminal_detection": "mcts.evaluate", "terminal_weight_1": "mcts.backup",
                         "noise_over_all_actions": "mcts.select", "fixed_noise_weight": "mcts.select",
                         "num_reads_plus_1": "mcts.select", "random_tie_break": "mcts.select"},
                        adapt=_for_search_with_evaluator),
    ),
]
