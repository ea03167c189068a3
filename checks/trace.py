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
"""

from __future__ import annotations

from harness.base import Check, Control, Tolerance
from harness.tap import recording
from harness.trace import compare_traces

from checks import train as _train

TRACE_TRAIN_STEPS = 10


def _trace_train(c, k):
    batches = {name: v[:TRACE_TRAIN_STEPS] for name, v in k["batches"].items()}
    with recording() as trace:
        c["train.trajectory"](k["params"], k["edge_index"], batches, k["config"])
    return trace


def _reuse(check_name, names, expect):
    """The named controls of an existing check, expecting the trace check to blame ``expect[name]``."""
    import dataclasses

    check = next(ch for ch in _train.CHECKS if ch.name == check_name)
    by_name = {ctl.name: ctl for ctl in check.controls}
    return tuple(dataclasses.replace(by_name[n], expect_components=(expect[n],)) for n in names)


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
        controls=_reuse("train.trajectory", ("policy_weight_dropped", "weight_decay_dropped", "l2_dropped"),
                        {"policy_weight_dropped": "train.loss", "weight_decay_dropped": "train.params",
                         "l2_dropped": "train.loss"}),
    ),
]
