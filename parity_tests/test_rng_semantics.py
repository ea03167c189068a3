"""Version-aware streams (reference/rng/semantics.py): each JAX family's stream, in NumPy and torch alike.

In-process, with the pinned jax 0.10.2: the NumPy and torch flavours agree bit for bit under every mode; the
non-partitionable layout (jax < 0.5) is checked against JAX itself run with ``jax_threefry_partitionable=False``;
the float16 FMA of the 0.11 mode reproduces issue 10's figure (66 / 204 values 1 ulp off the 0.8 form). Against
real older releases (0.4.38 ...): test_jax_versions.py.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest
import torch

from checks import eggroll_rng as E
from harness.base import ParityError
from reference.rng import jax_ref, np_ref, semantics, torch_ref

KEYS = np.array([[0, 7], [0xFFFFFFFF, 3], [12345, 678]], np.uint32)


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.view(torch.int32).numpy().view(np.uint32) if x.dtype in (torch.int32, torch.uint32) else (
            x.float().numpy() if x.dtype == torch.bfloat16 else x.numpy())
    a = np.asarray(x)
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a


@pytest.mark.parametrize("mode", sorted(semantics.MODES))
def test_numpy_and_torch_follow_the_same_semantics(mode):
    with semantics.using(mode):
        for fn, args in (("split", (KEYS, 5)), ("bits", (KEYS, (3, 7))), ("bits", (KEYS, (1,)))):
            a, b = getattr(np_ref, fn)(*args), getattr(torch_ref, fn)(*args)
            assert np.array_equal(_np(a).view(np.uint32), _np(b).view(np.uint32)), (mode, fn, args)
        for dt in ("float32", "bfloat16", "float16"):
            a = np_ref.uniform(KEYS, (5, 9), dt, -2.75, 40.5)
            b = torch_ref.uniform(KEYS, (5, 9), dt, -2.75, 40.5)
            assert np.array_equal(_np(a), _np(b)), (mode, dt)
            a, b = np_ref.normal(KEYS, (37,), dt), torch_ref.normal(KEYS, (37,), dt)
            assert np.array_equal(_np(a).view(np.uint32) if dt == "float32" else _np(a),
                                  _np(b).view(np.uint32) if dt == "float32" else _np(b)), (mode, dt)
        a, b = np_ref.normal(KEYS[:1], (4099,)), torch_ref.normal(KEYS[:1], (4099,))  # both log1p branches
        assert np.array_equal(_np(a).view(np.uint32), _np(b).view(np.uint32)), mode


def test_modes_differ_where_the_releases_differ():
    with semantics.using("0.8"):
        base = {"bits": np_ref.bits(KEYS, (64,)), "f16": np_ref.uniform(KEYS, (64,), "float16", -2.75, 40.5),
                "n": np_ref.normal(KEYS, (4099,))}
    with semantics.using("0.4"):
        assert not np.array_equal(np_ref.bits(KEYS, (64,)), base["bits"])
    with semantics.using("0.5"):
        assert np.array_equal(np_ref.bits(KEYS, (64,)), base["bits"])
        assert not np.array_equal(np_ref.normal(KEYS, (4099,)), base["n"])  # x^3 r fused in log1p
    with semantics.using("0.11"):
        assert not np.array_equal(np_ref.uniform(KEYS, (64,), "float16", -2.75, 40.5), base["f16"])


def test_non_partitionable_layout_is_jax_with_the_flag_off():
    """jax 0.10.2 with jax_threefry_partitionable=False draws the jax 0.4 layout (keys, bits, 8 / 16-bit values)."""
    layout_only = dataclasses.replace(semantics.MODES["0.8"], name="layout", partitionable=False)
    old = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", False)
    try:
        with semantics.using(layout_only):
            for shape in ((7,), (3, 5), (70001,)):
                assert np.array_equal(np.asarray(jax_ref.bits(KEYS, shape)), np_ref.bits(KEYS, shape)), shape
            assert np.array_equal(np.asarray(jax_ref.key_data(jax_ref.split(KEYS, 5))), np_ref.split(KEYS, 5))
            for dt in ("bfloat16", "float16", "float32"):
                for shape in ((7,), (3, 17)):
                    a = np.asarray(jax_ref.uniform(KEYS, shape, dt, -1.5, 3.25)).astype(np.float32)
                    assert np.array_equal(a, np_ref.uniform(KEYS, shape, dt, -1.5, 3.25).astype(np.float32))
                    assert np.array_equal(a, _np(torch_ref.uniform(KEYS, shape, dt, -1.5, 3.25)).astype(np.float32))
            a = np.asarray(jax_ref.normal(KEYS, (3, 17), "bfloat16")).astype(np.float32)
            assert np.array_equal(a, _np(torch_ref.normal(KEYS, (3, 17), "bfloat16")))
    finally:
        jax.config.update("jax_threefry_partitionable", old)


def test_float16_fma_of_0_11_reproduces_issue_10s_figure():
    """jax 0.11.2 on a host with native float16: 66 of the 204 float16 uniforms of eggroll.rng.bits, 1 ulp off."""
    case = E._inputs(0)
    keys = np_ref.fold_in(np_ref.key(case["seed"]), case["pairs"])
    args = (keys, E.SMALL, "float16", case["minval"], case["maxval"])
    with semantics.using("0.8"):
        two = np_ref.uniform(*args)
    with semantics.using("0.11"):
        one = np_ref.uniform(*args)
        assert np.array_equal(_np(torch_ref.uniform(*args)), one)
    d = np.abs(one.view(np.int16).astype(int) - two.view(np.int16).astype(int))
    assert (d != 0).sum() == 66 and d.max() == 1 and d.size == 204


def test_version_mapping_and_detection():
    assert semantics.for_version("0.4.38").name == "0.4"
    assert semantics.for_version("0.6.2").name == "0.5"
    assert semantics.for_version("0.7.2").name == "0.7"
    assert semantics.for_version("0.10.2").name == "0.8"
    assert semantics.for_version("0.11.2", native_float16=True).name == "0.11"
    assert semantics.for_version("0.11.2", native_float16=False).name == "0.8"
    assert semantics.parse("0.9.2").name == "0.8"
    s, why = semantics.detect()
    assert s.name == semantics.for_version(jax.__version__, semantics.host_native_float16()).name
    assert jax.__version__ in why
    with pytest.raises(ValueError, match="expected a JAX version"):
        semantics.parse("latest")


def test_cli_states_semantics_and_rejects_a_bad_one(capsys):
    from harness import numerics
    from harness.cli import main

    assert main(["check", "-k", "toy.math.argmax", "--no-controls", "--jax-semantics", "jax-new"]) == 2
    assert "--jax-semantics" in capsys.readouterr().err
    numerics.configure(jax_semantics="auto")
    with pytest.raises(ParityError, match="--device"):
        numerics.configure(device="tpu")
    if not torch.cuda.is_available():
        assert main(["check", "-k", "toy.math.argmax", "--no-controls", "--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err
    assert numerics.device() == "cpu"
