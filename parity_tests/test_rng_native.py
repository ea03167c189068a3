"""The optional C kernels of the torch stream (reference/rng/_native.py) against the pure-torch path.

The torch reference runs on the kernels when a C compiler is there (test_rng_stream.py then proves them
against JAX on many shapes, test_rng_exhaustive.py on all 2^23 float32 normal inputs) and falls back to the
pure-torch ops otherwise. This file holds the two paths bit-identical on every entry point, shape, key batch and
dtype, so the fallback inherits the proofs; and checks the switch (environment, no compiler) and its report.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference.rng import _native, torch_ref

pytestmark = pytest.mark.skipif(not _native.enabled(), reason=f"no native kernels here: {_native.status()}")

SHAPES = [(), (0,), (1,), (2, 3), (4, 0, 3), (1023,), (32769,), (3, 70001)]
DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def _keys(seed: int, batch: tuple) -> torch.Tensor:
    k = torch_ref.key(seed)
    n = int(np.prod(batch)) if batch else 0
    return k if not batch else torch_ref.split(k, n).reshape(batch + (2,))


def _torch_path(fn, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(torch_ref, "_kernels", lambda: None)
        return fn()


def _same(a: torch.Tensor, b: torch.Tensor, what: str):
    assert a.dtype == b.dtype and a.shape == b.shape, (what, a.dtype, b.dtype, a.shape, b.shape)
    ia = a.contiguous().view(torch.int16 if a.element_size() == 2 else torch.int32)
    ib = b.contiguous().view(torch.int16 if b.element_size() == 2 else torch.int32)
    bad = (ia != ib).nonzero()
    assert bad.numel() == 0, f"{what}: {bad.shape[0]} of {a.numel()} differ, first at {bad[0].tolist()}"


@pytest.mark.parametrize("seed, batch", [(0, ()), (2**32 - 1, (3,)), (20261130, (2, 5)), (7, (130,))])
def test_kernels_equal_the_torch_path(seed, batch, monkeypatch):
    k = _keys(seed, batch)
    for shape in SHAPES if len(batch) < 2 or batch[0] < 100 else [(12, 3), (1,)]:
        cases = {"bits": lambda: torch_ref.bits(k, shape),
                 "uniform": lambda: torch_ref.uniform(k, shape, torch.float32, -2.5, 3.75)}
        for dt in DTYPES:
            cases[f"normal {dt}"] = lambda dt=dt: torch_ref.normal(k, shape, dt)
        for what, fn in cases.items():
            _same(fn(), _torch_path(fn, monkeypatch), f"{what} {shape} keys {tuple(batch)}")


def test_key_derivation_equals_the_torch_path(monkeypatch):
    k = _keys(5, (4,))
    data = torch.tensor([0, 1, -1, 2**31 - 1], dtype=torch.int64)
    cases = {"split": lambda: torch_ref.split(k, 3), "fold_in": lambda: torch_ref.fold_in(k, 7),
             "fold_in array": lambda: torch_ref.fold_in(k[:, None], data[None, :]),
             "threefry2x32": lambda: torch.stack(torch_ref._threefry2x32(k[:, :1], k[:, 1:], data[None], data[None]))}
    for what, fn in cases.items():
        _same(fn(), _torch_path(fn, monkeypatch), what)


def test_erfinv_kernel_handles_the_ends_like_the_torch_path(monkeypatch):
    x = torch.tensor([0.0, -0.0, 1.0, -1.0, 0.5, -0.999999940395, 0.99999994, 1e-30, float("nan")])
    fn = lambda: torch_ref._erfinv_f32(x)
    _same(fn(), _torch_path(fn, monkeypatch), "erfinv_f32")


def test_non_contiguous_keys_and_large_counters(monkeypatch):
    k = _keys(11, (6, 2))[:, 0]  # a strided view of keys
    fn = lambda: torch_ref.normal(k, (5,))
    _same(fn(), _torch_path(fn, monkeypatch), "normal on strided keys")
    for draw in (torch_ref.bits, torch_ref.normal):  # refused before anything is allocated (16 GB)
        with pytest.raises(ValueError, match="2\\^32 - 1"):
            draw(torch_ref.key(0), (1 << 16, 1 << 16))


def test_switch_off_by_environment_and_status_says_why(monkeypatch):
    monkeypatch.setenv(_native.ENV_DISABLE, "0")
    _native._reset_for_tests()
    try:
        assert _native.lib() is None and not _native.enabled()
        assert "disabled" in _native.status() and _native.ENV_DISABLE in _native.status()
        _same(torch_ref.normal(torch_ref.key(1), (9,)),
              _torch_path(lambda: torch_ref.normal(torch_ref.key(1), (9,)), monkeypatch), "disabled")
    finally:
        monkeypatch.delenv(_native.ENV_DISABLE)
        _native._reset_for_tests()
    assert _native.enabled()


def test_no_compiler_falls_back_to_torch_and_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(_native, "_compiler", lambda: None)
    monkeypatch.setenv(_native.ENV_CACHE, str(tmp_path))  # nothing cached there
    _native._reset_for_tests()
    try:
        assert _native.lib() is None
        assert "pure torch" in _native.status() and "no C compiler" in _native.status()
        assert torch_ref.normal(torch_ref.key(0), (3,)).shape == (3,)
    finally:
        monkeypatch.undo()
        _native._reset_for_tests()
    assert _native.enabled()


def test_build_is_cached_and_atomic(tmp_path, monkeypatch):
    monkeypatch.setenv(_native.ENV_CACHE, str(tmp_path))
    a = _native.build()
    mtime = a.stat().st_mtime_ns
    assert _native.build() == a and a.stat().st_mtime_ns == mtime  # built once per source, compiler and flags
    assert [p.name for p in tmp_path.iterdir()] == [a.name]  # no temporary left behind
