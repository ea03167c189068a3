"""Unit tests of reference/nets: the board encoding, the converters' documented names and layouts, and
forward properties (batched = single boards, size-agnostic weights) the catalogue does not express."""

from harness import numerics

numerics.pin()

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from reference.nets import encoding, jax_ref, np_ref, torch_ref


def test_edge_order_and_directions():
    assert encoding.edge_list(4).tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    ei = encoding.edge_index(4)
    assert ei.dtype == np.int64 and ei.shape == (2, 12)
    assert ei[:, :6].T.tolist() == encoding.edge_list(4).tolist()
    assert ei[:, 6:].tolist() == ei[::-1, :6].tolist()


def test_edge_attr_one_hot_both_directions():
    colours = np.array([0, 1, 2, 0, 2, 1])
    ei, ea = encoding.encode(colours)
    assert ea.dtype == np.float32 and ea.shape == (12, 3)
    assert np.array_equal(ea[:6], np.eye(3, dtype=np.float32)[colours])
    assert np.array_equal(ea[6:], ea[:6])
    batch = encoding.edge_attr(np.stack([colours, colours[::-1]]))
    assert batch.shape == (2, 12, 3) and np.array_equal(batch[0], ea)


@pytest.mark.parametrize("n,e", [(4, 6), (5, 10), (6, 15)])
def test_sizes(n, e):
    assert encoding.num_edges(n) == e and encoding.num_vertices(e) == n


def test_encoding_validation_errors():
    with pytest.raises(ValueError, match="colours must be in"):
        encoding.edge_attr(np.array([0, 1, 3, 0, 0, 0]))
    with pytest.raises(ValueError, match="E=7 is not n"):
        encoding.edge_attr(np.zeros(7, np.int64))
    with pytest.raises(ValueError, match="n must be >= 2"):
        encoding.num_edges(1)


def test_init_is_deterministic_torch_layout():
    p = np_ref.init_params(3, 5, 32)
    q = np_ref.init_params(3, 5, 32)
    assert p.keys() == q.keys() and all(np.array_equal(p[k], q[k]) for k in p)
    assert p["node_in.weight"].shape == (32, 4) and p["policy_hidden.weight"].shape == (32, 67)
    assert all(v.dtype == np.float32 for v in p.values())
    assert set(p) == set(torch_ref.PolicyValueNet(32).state_dict())
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        np_ref.init_params(0, 5, 0)


def test_flax_layout_is_the_transpose():
    p = np_ref.init_params(0, 5, 32)
    v = jax_ref.to_native(p)["params"]
    assert set(v) == {k.rsplit(".", 1)[0].replace(".", "_") for k in p}
    np.testing.assert_array_equal(np.asarray(v["msg_1"]["kernel"]), p["msg.1.weight"].T)
    np.testing.assert_array_equal(np.asarray(v["upd_0"]["kernel"]), p["upd.0.weight"].T)
    np.testing.assert_array_equal(np.asarray(v["value_out"]["bias"]), p["value_out.bias"])
    # the flax module's own init has the same tree: the converter's layout is flax's
    import jax

    ref = jax.eval_shape(lambda: jax_ref.PolicyValueNet(32).init(
        jax.random.key(0), jnp.asarray(encoding.edge_index(5)), jnp.zeros((1, 20, 3)), jnp.zeros((1,))))
    assert jax.tree.map(jnp.shape, ref["params"]) == jax.tree.map(jnp.shape, v)


def test_flax_torch_direct_round_trip():
    p = np_ref.init_params(1, 5, 32)
    back = torch_ref.from_native(torch_ref.to_native(jax_ref.from_native(jax_ref.to_native(p))))
    assert all(np.array_equal(back[k], p[k]) for k in p)
    sd = torch_ref.from_native(torch_ref.to_native(p).state_dict())
    assert all(np.array_equal(sd[k], p[k]) for k in p)


def test_to_flax_rejects_bad_names():
    with pytest.raises(ValueError, match="unexpected parameter name"):
        jax_ref.to_native({"node_in.gamma": np.zeros(3, np.float32)})


def test_batched_equals_single_and_outputs_in_range():
    rng = np.random.default_rng(0)
    p = np_ref.init_params(0, 6, 32)
    colours = rng.integers(0, 3, size=(3, 15))
    ei, ea = encoding.encode(colours)
    role = np.array([0, 1, 1])
    logits, value = np_ref.policy_value(p, ei, ea, role)
    assert logits.shape == (3, 15) and value.shape == (3,)
    assert np.all(np.abs(value) <= 1)
    for b in range(3):
        l1, v1 = np_ref.policy_value(p, ei, ea[b], role[b])
        np.testing.assert_allclose(l1, logits[b], rtol=1e-12)
        assert v1 == pytest.approx(value[b], rel=1e-12)


def test_same_weights_work_on_every_board_size():
    p = np_ref.init_params(0, 4, 32)
    flax_p, torch_p = jax_ref.to_native(p), torch_ref.to_native(p)
    for n in (4, 6):
        ei, ea = encoding.encode(np.zeros(encoding.num_edges(n), np.int64))
        ln, vn = np_ref.policy_value(p, ei, ea, 0)
        lj, vj = jax_ref.policy_value(flax_p, ei, ea, 0)
        with torch.no_grad():
            lt, vt = torch_ref.policy_value(torch_p, torch.from_numpy(ei), torch.from_numpy(ea), 0)
        np.testing.assert_allclose(np.asarray(lj), ln, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lt.numpy(), ln, rtol=1e-5, atol=1e-6)
        assert float(vj) == pytest.approx(vn, abs=1e-6) and float(vt) == pytest.approx(vn, abs=1e-6)
        # empty board of K_n: every edge is equivalent, so the logits are all equal
        assert np.ptp(ln) < 1e-12


def test_oracle_vjp_matches_torch_autograd_in_float64():
    """The float64 oracle's hand-written backward pass (used by the trajectory oracle) is autograd's."""
    rng = np.random.default_rng(0)
    p = np_ref.init_params(0, 5, 8)
    ei, ea = encoding.encode(rng.integers(0, 3, size=(3, 10)))
    role = np.array([0, 1, 1])
    dl, dv = rng.normal(size=(3, 10)), rng.normal(size=3)
    g = np_ref._vjp(p, ei, ea, role, dl, dv)
    m = torch_ref.PolicyValueNet(8).double()
    m.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in p.items()})
    lg, v = m(torch.from_numpy(ei), torch.tensor(ea, dtype=torch.float64), torch.tensor(role, dtype=torch.float64))
    ((lg * torch.from_numpy(dl)).sum() + (v * torch.from_numpy(dv)).sum()).backward()
    for k, prm in m.named_parameters():
        np.testing.assert_allclose(g[k], prm.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=k)


def test_oracle_vjp_matches_finite_differences():
    rng = np.random.default_rng(1)
    p = {k: v.astype(np.float64) for k, v in np_ref.init_params(1, 4, 6).items()}
    ei, ea = encoding.encode(rng.integers(0, 3, size=(2, 6)))
    role = np.array([1, 0])
    dl, dv = rng.normal(size=(2, 6)), rng.normal(size=2)
    g = np_ref._vjp(p, ei, ea, role, dl, dv)

    def f(q):
        lg, v = np_ref.policy_value(q, ei, ea, role)
        return float(np.sum(lg * dl) + np.sum(v * dv))

    h = 1e-6
    for k, idx in [("msg.0.weight", (2, 3)), ("edge.1.bias", (4,)), ("node_in.weight", (0, 3)),
                   ("policy_out.weight", (0, 5)), ("value_hidden.weight", (1, 6))]:
        qp = {kk: vv.copy() for kk, vv in p.items()}
        qm = {kk: vv.copy() for kk, vv in p.items()}
        qp[k][idx] += h
        qm[k][idx] -= h
        assert g[k][idx] == pytest.approx((f(qp) - f(qm)) / (2 * h), rel=1e-5, abs=1e-9), k


def test_torch_policy_value_rejects_a_state_dict():
    with pytest.raises(ValueError, match="PolicyValueNet"):
        torch_ref.policy_value({"node_in.weight": torch.zeros(1)}, None, None, 0)

