"""Whole-loop entry points agree with the component-level loops they generalise: eggroll.step on the
caller's model == eggroll.epoch on the built-in MLP; train.fit in an injected order == train.trajectory on
the batches that order selects."""

from __future__ import annotations

import numpy as np
import pytest

from checks import trace as trace_checks
from checks.eggroll import trajectory as eggroll_checks
from reference.eggroll import np_ref as egg_np
from reference.train import np_ref as train_np
from reference.train import spec as train_spec


@pytest.mark.parametrize("config_name", ["G0_R0", "G4_R2"])
def test_eggroll_step_on_the_mlp_equals_epoch(config_name):
    case = eggroll_checks.traj_inputs(3)
    cfg = case["configs"][config_name]
    apply_fn, fitness_fn = trace_checks.mlp_model_of("numpy", {k: np.asarray(v, np.float64)
                                                               for k, v in case["data"].items()})
    p_step, s_step = case["params"], None
    p_epoch, s_epoch = case["params"], None
    for t in range(3):
        p_step, s_step, f_step = egg_np.step(p_step, apply_fn, fitness_fn, case["es_key"], t, cfg, s_step)
        p_epoch, s_epoch, f_epoch = egg_np.epoch(p_epoch, s_epoch, case["es_key"], t, case["data"], cfg)
        np.testing.assert_allclose(f_step, f_epoch, rtol=1e-12, atol=1e-12)
        for k in p_epoch:
            np.testing.assert_allclose(p_step[k], p_epoch[k], rtol=1e-12, atol=1e-12)


def test_fit_takes_the_injected_order():
    case = trace_checks._trace_fit_inputs(0)
    order = case["order"][:2]
    edge_index, batches = train_spec._batches_from_examples(case["examples"], order)
    assert batches["edge_attr"].shape[:2] == (2, 8)
    i = int(order[1, 3])
    assert np.array_equal(batches["policy"][1, 3], case["examples"][i]["policy"])
    assert batches["value"][1, 3] == case["examples"][i]["value"]
    got = train_np.fit(case["params"], case["examples"], order, case["config"])
    want = train_np.trajectory(case["params"], edge_index, batches, case["config"])
    assert float(got["step_01"]["loss"]) == float(want["step_01"]["loss"])
    with pytest.raises(ValueError, match="order indexes examples"):
        train_np.fit(case["params"], case["examples"], order + 100, case["config"])
