"""The sharded EGGROLL references: the single-process path is the reference epoch, bad input is a clear
error, and a failing or hung torch.distributed rank raises instead of hanging."""

from __future__ import annotations

import numpy as np
import pytest

from checks import eggroll_sharded as es
from parity_tests import parallel_ports


def _case(epochs=2):
    case = es._inputs(3)
    return case, {"G4_R0": case["configs"]["G4_R0"]}, epochs


def test_numpy_single_process_path_is_np_ref_epoch():
    from reference.eggroll import np_ref
    from reference.eggroll.sharded import np_ref as sharded_np

    case, cfgs, epochs = _case()
    recs = sharded_np.sharded_epochs(None, case["params"], case["es_key"], case["data"], cfgs, epochs)["G4_R0"]
    params, state = case["params"], None
    for t in range(epochs):
        params, state, fit = np_ref.epoch(params, state, case["es_key"], t, case["data"], cfgs["G4_R0"])
        assert np.array_equal(fit, recs[t]["fitness"])
        assert all(np.array_equal(params[k], recs[t]["params"][k]) for k in params)


def test_torch_single_process_path_is_torch_ref_epoch():
    import torch

    from reference.eggroll import torch_ref
    from reference.eggroll.sharded import torch_ref as sharded_torch

    case, cfgs, epochs = _case()
    recs = sharded_torch.sharded_epochs(None, case["params"], case["es_key"], case["data"], cfgs, epochs)["G4_R0"]
    params, state = case["params"], None
    key = torch.tensor(case["es_key"].astype(np.int64)).to(torch.int32)
    for t in range(epochs):
        params, state, fit = torch_ref.epoch(params, state, key, t, case["data"], cfgs["G4_R0"])
        assert np.array_equal(fit.numpy(), recs[t]["fitness"])
        assert all(np.array_equal(params[k].numpy(), recs[t]["params"][k]) for k in params)


def test_oracle_shards_agree_and_bad_input_is_a_clear_error():
    from reference.eggroll.sharded import np_ref as sharded_np

    case, cfgs, epochs = _case(1)
    args = (case["params"], case["es_key"], case["data"], cfgs, epochs)
    single = sharded_np.sharded_epochs(None, *args)["G4_R0"][0]
    four = sharded_np.sharded_epochs(4, *args)["G4_R0"][0]
    assert np.array_equal(single["noise"]["w1"]["A"], four["noise"]["w1"]["A"])
    np.testing.assert_allclose(four["grads"]["w2"], single["grads"]["w2"], rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="shards=5 must divide population=12"):
        sharded_np.sharded_epochs(5, *args)
    with pytest.raises(ValueError, match="unknown step"):
        sharded_np.sharded_epochs(2, *args, steps={"gather": print})


def test_jax_has_the_host_devices_of_the_sharded_checks():
    jax = pytest.importorskip("jax")
    assert jax.device_count() >= 4, "numerics.pin() should have asked XLA:CPU for 4 host devices"


def test_torch_rank_failure_and_hang_raise_and_never_hang():
    from reference.eggroll.sharded import steps as sharded_steps
    from reference.eggroll.sharded.torch_ref import ProcessGroup

    case, cfgs, epochs = _case(1)
    cfg = es._inputs(3)["configs"]["G4_R0"]

    def args(reduce):
        steps = sharded_steps.resolve({"reduce": reduce})
        return (steps, case["params"], case["es_key"], case["data"], cfg, epochs)

    g = ProcessGroup(world=2, timeout=6)
    try:
        with pytest.raises(RuntimeError, match="rank 1 raised .*FloatingPointError: planted failure on rank 1"):
            g.run(2, args(parallel_ports.reduce_raises_on_rank1))
    finally:
        g.close()
    assert not g.alive()
    g = ProcessGroup(world=2, timeout=6)
    try:
        with pytest.raises(TimeoutError, match="timed out after 6 s while running 2 shard"):
            g.run(2, args(parallel_ports.reduce_hangs_on_rank1))
    finally:
        g.close()
    assert not g.alive()
