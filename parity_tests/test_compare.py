"""The comparison engine on crafted cases: both sides of every tolerance boundary, NaN / Inf patterns,
-0.0 in exact mode, ulp distances, shapes, dtypes, nested containers, NumPy / JAX / torch mixtures."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from harness import tolerance
from harness.base import PREFIX, Exact, ParityError, Statistical, Tolerance, Ulp
from harness.compare import assert_parity, compare, ulp_distance


def leaf(a, e, mode=Tolerance()):
    c = compare(a, e, mode)
    assert len(c.leaves) == 1
    return c.leaves[0]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_tolerance_boundary_both_sides(dtype):
    rtol, atol = tolerance.DEFAULTS[dtype]
    e = np.array([1.0, 100.0], dtype=np.float64)
    allowed = atol + rtol * np.abs(e)
    inside = e + 0.5 * allowed
    outside = e + 2.0 * allowed
    assert leaf(inside.astype(np.float64), e, Tolerance()).ok if dtype == "float64" else True
    # the tolerance comes from the coarser dtype of the pair: judge a `dtype` leaf against float64
    lo = compare(np.asarray(e, dtype), e).leaves[0]
    assert lo.ok
    if dtype == "float64":
        assert leaf(inside, e).ok
        r = leaf(outside, e)
        assert not r.ok and r.mismatches == 2 and r.reason == "values"
        assert r.allowed_abs == atol and r.allowed_rel == rtol


def test_float32_boundary_exact_numbers():
    e = np.array([0.0, 1.0], np.float32)
    ok = np.array([9.9e-6, 1.0 + 1e-5], np.float32)  # atol 1e-5 at 0; at 1: 1e-5 + 1.3e-6
    bad = np.array([1.1e-5, 1.0 + 1.2e-5], np.float32)
    assert leaf(ok, e).ok
    r = leaf(bad, e)
    assert not r.ok and r.mismatches == 2
    assert "not close" in r.message and "up to 1e-05 allowed" in r.message


def test_override_needs_reason():
    with pytest.raises(ParityError, match="reason"):
        Tolerance(rtol=1e-3)
    t = Tolerance(rtol=1e-3, atol=0, reason="accumulated float32 rounding over 40 steps")
    assert leaf(np.float32(1.0009), np.float32(1.0), t).ok
    assert not leaf(np.float32(1.0011), np.float32(1.0), t).ok


def test_integers_are_exact_whatever_the_mode():
    r = leaf(np.array([1, 2, 3]), np.array([1, 2, 4]), Tolerance())
    assert not r.ok and r.mismatches == 1 and r.worst_index == (2,)
    assert leaf(np.array([1, 2], np.int32), np.array([1, 2], np.int64)).ok  # widths may differ


def test_dtype_kind_mismatch():
    r = leaf(np.array([1.0, 2.0]), np.array([1, 2]))
    assert not r.ok and r.reason == "dtype"
    r = leaf(np.array([True]), np.array([1]))
    assert not r.ok and r.reason == "dtype"


def test_shape_mismatch():
    r = leaf(np.zeros((2, 3)), np.zeros((3, 2)))
    assert not r.ok and r.reason == "shape" and "(2, 3)" in r.message


@pytest.mark.parametrize("bad,label", [(np.nan, "NaN"), (np.inf, "+Inf"), (-np.inf, "-Inf")])
def test_nan_inf_patterns_must_agree(bad, label):
    e = np.array([1.0, bad, 3.0])
    assert leaf(e.copy(), e).ok  # same pattern: fine
    a = np.array([1.0, 2.0, 3.0])
    r = leaf(a, e)
    assert not r.ok and r.reason == "nan_pattern" and label in r.message and r.worst_index == (1,)


def test_inf_sign_matters():
    assert not leaf(np.array([np.inf]), np.array([-np.inf])).ok


def test_exact_mode_distinguishes_signed_zero():
    assert not leaf(np.array([-0.0]), np.array([0.0]), Exact()).ok
    assert leaf(np.array([-0.0]), np.array([0.0]), Tolerance()).ok
    assert leaf(np.array([-0.0]), np.array([0.0]), Ulp(0)).ok


def test_exact_mode_bits_and_nan():
    a = np.array([1.0, np.nan], np.float32)
    assert leaf(a, a.copy(), Exact()).ok
    b = np.nextafter(a, np.float32(2))
    b[1] = np.nan
    r = leaf(b, a, Exact())
    assert not r.ok and r.mismatches == 1 and r.max_ulp == 1
    r = leaf(a.astype(np.float64), a, Exact())
    assert not r.ok and r.reason == "dtype"


def test_ulp_mode():
    x = np.array([1.0, -2.0, 1e-30], np.float32)
    y = x.copy()
    for _ in range(3):
        y = np.nextafter(y, np.float32(np.inf))
    assert list(ulp_distance(x, y, "float32")) == [3, 3, 3]
    assert leaf(y, x, Ulp(3)).ok
    r = leaf(y, x, Ulp(2))
    assert not r.ok and r.mismatches == 3 and "ulp distance exceeds 2" in r.message
    # crossing zero: -tiny to +tiny is 2 ulp
    t = np.array([np.float32(1e-45)])
    assert int(ulp_distance(-t, t, "float32")[0]) == 2


def test_ulp_in_the_coarser_dtype():
    x = np.float64(1.0) + 1e-12  # same float32 value as 1.0
    assert leaf(np.float32(1.0), x, Ulp(0)).ok


def test_bfloat16_leaves_from_every_framework():
    v = np.array([1.0, 1.5, -3.0], np.float32)
    t = torch.tensor(v, dtype=torch.bfloat16)
    j = jnp.asarray(v, dtype=jnp.bfloat16)
    assert leaf(t, j, Exact()).ok
    r = leaf(t, np.array([1.0, 1.5, -3.0001]))
    assert r.ok  # bfloat16 tolerance (rtol 1.6e-2) applies: coarser dtype of the pair


@dataclasses.dataclass
class Params:
    w: object
    b: object


class Out(NamedTuple):
    loss: object
    params: Params


def test_nested_containers_and_framework_mixture():
    base = np.arange(6, dtype=np.float32).reshape(2, 3)
    expected = {"a": [base, (np.int64(3), 2.0)], "out": Out(np.float32(1.0), Params(base, base[0]))}
    actual = {"a": [torch.from_numpy(base.copy()), (jnp.asarray(3), 2.0)],
              "out": Out(jnp.float32(1.0), Params(jnp.asarray(base), torch.from_numpy(base[0].copy())))}
    c = compare(actual, expected)
    assert c.ok, c.summary()
    assert [l.path for l in c.leaves] == ["['a'][0]", "['a'][1][0]", "['a'][1][1]", "['out'].loss",
                                         "['out'].params.w", "['out'].params.b"]


def test_every_failing_leaf_is_listed_with_path_prefix_and_reproduce():
    e = {"x": np.zeros(3), "y": np.zeros(2), "z": np.zeros(1)}
    a = {"x": np.ones(3), "y": np.zeros(2), "z": np.full(1, np.nan)}
    with pytest.raises(AssertionError) as ei:
        assert_parity(a, e, label="demo [a vs b]", reproduce="parity check -k demo --seed 0")
    msg = str(ei.value)
    assert msg.startswith(PREFIX)
    assert "2 of 3 leaves differ" in msg and "['x']" in msg and "['z']" in msg and "['y']" not in msg
    assert "3 / 3 mismatched" in msg and "at index (0,)" in msg
    assert msg.splitlines()[-1] == "Reproduce: parity check -k demo --seed 0"


def test_missing_and_extra_keys_and_structure():
    c = compare({"a": 1, "b": 2}, {"a": 1, "c": 2})
    reasons = sorted((l.path, l.reason) for l in c.failing)
    assert reasons == [("['b']", "missing"), ("['c']", "missing")]
    c = compare([1, 2], [1, 2, 3])
    assert not c.ok and c.failing[0].reason == "structure"
    c = compare([1, 2], {"a": 1})
    assert not c.ok and c.failing[0].reason == "type"


def test_worst_index_and_relative_difference():
    e = np.array([[1.0, 2.0], [3.0, 4.0]])
    a = e.copy()
    a[1, 0] += 0.5
    a[0, 1] += 0.1
    r = leaf(a, e)
    assert r.worst_index == (1, 0) and r.max_abs == pytest.approx(0.5) and r.max_rel == pytest.approx(0.5 / 3)
    assert r.mismatches == 2 and r.total == 4


def test_statistical_mode():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=4000), rng.normal(size=3000)
    assert compare({"x": a}, {"x": b}, Statistical(alpha=1e-3)).ok  # sizes may differ
    c = compare({"x": a + 0.3}, {"x": b}, Statistical(alpha=1e-3))
    assert not c.ok and "KS" in c.failing[0].message


def test_python_scalars_and_none():
    assert leaf(1.0, np.float32(1.0)).ok
    assert leaf(3, np.int32(3)).ok
    assert leaf(None, None).ok
    assert not leaf("a", "b").ok


def test_jax_prng_keys_compare_by_key_data():
    import jax

    k = jax.random.key(3)
    assert leaf(k, np.array([0, 3], np.uint32), Exact()).ok
