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
    eggroll.keys.member                           per epoch: member keys (P, N, 2) uint32
    eggroll.noise.A / .B / .E                     per epoch: scaled A, B per low-rank parameter, E per full-rank
    eggroll.sigma.signed                          per epoch: sigma s_i (N,)
    eggroll.fitness.raw / .shaped                 per epoch: F (N,) from the caller's model, shaped f (N,)
    eggroll.grad                                  per epoch: the ES gradient estimate per parameter
    eggroll.params                                per epoch: every parameter after the optimiser step
    mcts.select.path                              per simulation: actions from the root, -1 padded to E
    mcts.evaluate.leaf_value                      per simulation: the leaf's value for its mover (exact
                                                  outcome when terminal), before the terminal weight
    mcts.backup.values                            per simulation: the increment of W on each path edge
    mcts.root.visits                              per simulation: the root's visit counts after it
"""

from __future__ import annotations

import numpy as np

from checks.eggroll import optimizer as _eggroll_opt
from checks.eggroll import trajectory as _eggroll_traj
from checks.mcts import common as _mcts
from checks.mcts import search as _mcts_search
from checks.train import trajectory as _train
from harness.base import Check, Control, Tolerance
from harness.tap import recording
from harness.trace import compare_traces

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


def _trace_fit_inputs(seed):
    """Two games of the seed's examples (make_examples) and a shuffled data order of 6 steps x 8."""
    from reference.train import np_ref as train_np

    case = _train.trajectory_case(seed)
    rng = np.random.default_rng(seed + 1)
    e = _mcts.game_np.encoding.num_edges(_train.TRAJ_N)
    examples = []
    for winner in (1, 2):
        t = 10
        col = rng.integers(0, 3, size=(t, e))
        pol = rng.dirichlet(np.ones(e), size=t).astype(np.float32)
        examples += train_np.make_examples(col, pol, np.arange(t) % 2, winner)
    order = np.stack([rng.permutation(len(examples))[:8] for _ in range(6)])
    return {"params": case["params"], "examples": examples, "order": order, "config": dict(_train.TRAJ_CONFIG)}


def _trace_fit(c, k):
    with recording() as trace:
        c["train.fit"](k["params"], k["examples"], k["order"], k["config"])
    return trace


def _order_ignored(orig):
    """The trainer's own order (examples in sequence) instead of the injected one."""
    def mutant(params, examples, order, config):
        steps, batch = np.shape(order)
        return orig(params, examples, np.arange(steps * batch).reshape(steps, batch) % len(examples), config)
    return mutant


# ---------------------------------------------------------------------------------------- MCTS


def _trace_mcts_inputs(seed):
    rng = np.random.default_rng(seed)
    return {name: _mcts.screened_search_case(rng, cfg, count=TRACE_MCTS_POSITIONS, lo=1, hi=cfg.num_edges - 3)
            for name, cfg in _mcts.PROFILES.items()}


def _trace_mcts(c, case):
    with recording() as trace:
        for name, cfg in c.sections(_mcts.PROFILES).items():  # a single-profile port: its profile's games
            evaluator = _mcts.table_evaluator_of(c.framework, cfg.game)
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


# ---------------------------------------------------------------------------------------- EGGROLL

TRACE_EGGROLL_EPOCHS = 3
TRACE_EGGROLL_CONFIGS = ("G0_R0", "G4_R2")


def mlp_model_of(framework: str, data):
    """The user's model and fitness as plain functions of the framework's arrays: apply_fn(params) ->
    out_scale * (W2 tanh(W1 x + b1) + b2) on the case's x, fitness_fn(out) = -mean((out - y)^2)."""
    if framework == "torch":
        import torch as lib
    elif framework == "jax":
        import jax.numpy as lib
    else:
        lib = np
    x, y = data["x"], data["y"]

    def apply_fn(p):
        h = lib.tanh(x @ p["w1"].T + p["b1"])
        return (h @ p["w2"].T + p["b2"]) * p["out_scale"]

    def fitness_fn(out):
        return -lib.mean((out - y) ** 2)

    return apply_fn, fitness_fn


TRACE_ADAMW = {"name": "adamw", "lr": 0.05, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.1}


def _trace_eggroll_inputs(seed):
    case = _eggroll_traj.traj_inputs(seed)
    configs = {k: case["configs"][k] for k in TRACE_EGGROLL_CONFIGS}
    configs["G0_R1_adamw"] = {**case["configs"]["G0_R1"], "optimizer": dict(TRACE_ADAMW)}
    case["configs"] = configs
    return case


def _trace_eggroll(c, case):
    apply_fn, fitness_fn = mlp_model_of(c.framework, case["data"])
    with recording() as trace:
        for cfg in case["configs"].values():
            params, state = case["params"], None
            for t in range(TRACE_EGGROLL_EPOCHS):
                params, state, _ = c["eggroll.step"](params, apply_fn, fitness_fn, case["es_key"], t, cfg, state)
    return trace


def _for_step(patch):
    """A control's patch of ``eggroll.epoch(params, state, key, t, data, config)`` (a config drift) applied to
    ``eggroll.step(params, apply_fn, fitness_fn, key, epoch, config, opt_state)``."""
    make = patch["eggroll.epoch"]

    def make_step(orig):
        def mutant(params, apply_fn, fitness_fn, key, epoch, config, opt_state=None):
            return make(lambda p, st, k, t, d, cfg: orig(params, apply_fn, fitness_fn, key, epoch, cfg, opt_state))(
                params, opt_state, key, epoch, None, config)
        return mutant
    return {"eggroll.step": make_step}


def _step_cfg(change):
    return {"eggroll.step": lambda orig: lambda p, a, f, k, t, cfg, st=None: orig(p, a, f, k, t, change(dict(cfg)), st)}


def _trace_compare(mode, modes=None):
    return lambda actual, expected, _mode: compare_traces(actual, expected, mode, modes=modes)


EGGROLL_TAP_MODES = {
    "eggroll.fitness.shaped": Tolerance(rtol=1.3e-6, atol=1e-4, reason="f = (F - mean F) / sqrt(var F + 1e-5) "
                                        "scales F's float32 rounding by 1 / std(F): std 0.05 at AdamW epoch 2 "
                                        "(x19); measured jax-torch 1.3e-5"),
}


TRAIN_TRACE_MODE = Tolerance(rtol=1.3e-6, atol=2e-5, reason="the tolerance of train.trajectory (same loop, same "
                                                              "Adam amplification of a cancelling gradient)")
TRAIN_TRACE_SLACK = ("the l2 tap (1e-5 x the sum of norms, ~4e-4) is 5% of the atol 2e-5: the trace localises; the "
                     "term itself is compared at coeff 1 to rtol 1.3e-6 (losses.l2) and the parameters it decays at "
                     "every step here")

CHECKS = [
    Check(
        name="trace.train",
        components=("train.trajectory",),
        inputs=_train.trajectory_case,
        run=_trace_train,
        mode=TRAIN_TRACE_MODE,
        compare=_trace_compare(TRAIN_TRACE_MODE),
        fixture=False,
        slack_reason=TRAIN_TRACE_SLACK,
        description=f"the training loop's taps over {TRACE_TRAIN_STEPS} steps (loss terms, learning rate, gradient "
                    "norm before / after clipping, parameters): the first divergent tap names the step and the "
                    "quantity",
        controls=_reuse(_train.CHECKS, "train.trajectory",
                        {"policy_weight_dropped": "train.loss", "weight_decay_dropped": "train.params",
                         "l2_dropped": "train.loss"}),
    ),
    Check(
        name="trace.eggroll",
        components=("eggroll.step",),
        inputs=_trace_eggroll_inputs,
        run=_trace_eggroll,
        mode=Tolerance(),
        compare=_trace_compare(Tolerance(), EGGROLL_TAP_MODES),
        fixture=False,
        description=f"{TRACE_EGGROLL_EPOCHS} epochs of EGGROLL on the caller's model (apply_fn / fitness_fn: the "
                    f"small MLP written in the port's framework; G, R in {', '.join(TRACE_EGGROLL_CONFIGS)} with SGD, G0 "
                    "R1 with AdamW): member "
                    "keys, noise A / B / E, signed sigma, raw and shaped fitness, gradient, parameters per epoch",
        controls=_reuse(_eggroll_traj.CHECKS, "eggroll.trajectory",
                        {"r0_fresh": "eggroll.keys", "excluded_trained": "eggroll.noise"}, adapt=_for_step) + (
            Control("sigma_doubled", "sigma read as 2 sigma", _step_cfg(lambda c: {**c, "sigma": 2 * c["sigma"]}),
                    expect_components=("eggroll.noise",)),
            Control("group_size_ignored", "fitness shaped over the whole population whatever G",
                    _step_cfg(lambda c: {**c, "group_size": 0}), expect_components=("eggroll.fitness",)),
            Control("betas_swapped", "Adam's b1 and b2 swapped (eggroll.optimizer.adam's drift, in the loop)",
                    _step_cfg(lambda c: {**c, "optimizer": _eggroll_opt.betas_swapped(c["optimizer"])}
                              if c["optimizer"]["name"] != "sgd" else c), expect_components=("eggroll.params",)),
            Control("optax_default_wd", "AdamW's weight decay left at optax's default 1e-4 (eggroll.optimizer."
                    "adamw's drift, in the loop)", _step_cfg(lambda c: {**c, "optimizer": _eggroll_opt.optax_default_wd(
                        c["optimizer"])} if c["optimizer"]["name"] == "adamw" else c), target="jax",
                    expect_components=("eggroll.params",)),
        ),
    ),
    Check(
        name="trace.fit",
        components=("train.fit",),
        inputs=_trace_fit_inputs,
        run=_trace_fit,
        mode=TRAIN_TRACE_MODE,
        compare=_trace_compare(TRAIN_TRACE_MODE),
        fixture=False,
        slack_reason=TRAIN_TRACE_SLACK,
        description="the training loop on the seed's examples (make_examples, two games) in an injected, "
                    "shuffled data order (6 steps x 8): the loop's taps agree step by step",
        controls=(
            Control("data_order_ignored", "the loop takes the examples in sequence, not the injected order",
                    {"train.fit": _order_ignored}, expect_components=("train.loss",)),
            Control("policy_weight_dropped", "the loop trains with policy weight 1 instead of 0.5",
                    {"train.fit": lambda orig: lambda p, ex, o, cfg: orig(p, ex, o, {**cfg, "policy_weight": 1.0})},
                    target="jax", expect_components=("train.loss",)),
        ),
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
        controls=_reuse(_mcts_search.CHECKS, "mcts.visits",
                        {"c_puct_1": "mcts.select", "q_mean_in_alphazero": "mcts.select",
                         "sqrt_sum": "mcts.select", "backup_plus_v": "mcts.backup",
                         "no_terminal_detection": "mcts.evaluate", "terminal_weight_1": "mcts.backup",
                         "noise_over_all_actions": "mcts.select", "fixed_noise_weight": "mcts.select",
                         "num_reads_plus_1": "mcts.select", "random_tie_break": "mcts.select"},
                        adapt=_for_search_with_evaluator) + (
            Control("no_noise_clip", "root noise not clipped to [0.01, 0.99] (mcts.noise_mix's drift, in the "
                    "whole search)", {"mcts.search_with_evaluator": lambda orig: lambda s, ev, z, cfg: orig(
                        s, ev, z, cfg.replace(noise_clip=None) if cfg.profile == "alphazero_clique" else cfg)},
                    expect_components=("mcts.select",)),
        ),
    ),
]
