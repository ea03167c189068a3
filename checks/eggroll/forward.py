"""EGGROLL population forward without materialising A B^T, in both orientations (x W^T and x W)."""

from __future__ import annotations

import numpy as np

from checks._common import control, seeded_dtypes
from harness.base import Check, Tolerance


def _forward_inputs(seed):
    rng = np.random.default_rng(seed)
    n, m, a, b, r = 4, 3, 6, 5, 2
    f32 = lambda *s: rng.normal(size=s).astype(np.float32)
    d = 4  # square W for the x W orientation, so that swapping A and B keeps shapes and changes values
    return {"x": f32(n, m, b), "w": f32(a, b), "a": f32(n, a, r) * np.float32(0.3), "b": f32(n, b, r),
            "x2": f32(n, m, d), "w2": f32(d, d), "a2": f32(n, d, r) * np.float32(0.3), "b2": f32(n, d, r)}


def _run_forward(c, case):
    out = {}
    if "eggroll.forward" in c:
        out["eggroll.forward"] = c["eggroll.forward"](case["x"], case["w"], case["a"], case["b"])
    if "eggroll.forward_xw" in c:
        out["eggroll.forward_xw"] = c["eggroll.forward_xw"](case["x2"], case["w2"], case["a2"], case["b2"])
    return out


def _noise_dropped(orig):
    return lambda x, w, a, b: orig(x, w, a * 0, b)


def _xw_orientation(orig):
    return lambda x, w, a, b: orig(x, w, b, a)


CHECKS = [
    Check(
        name="eggroll.forward", components=("eggroll.forward", "eggroll.forward_xw"),
        inputs=_forward_inputs, run=_run_forward, mode=Tolerance(), strategy=seeded_dtypes(_forward_inputs),
        by_component=True, optional=("eggroll.forward", "eggroll.forward_xw"),
        description="population forward without materialising A B^T, x W^T and x W orientations",
        controls=(
            control("noise_dropped", "perturbation not applied (plain inference)", "eggroll.forward", _noise_dropped),
            control("xw_orientation", "x W layer perturbed as x B A^T instead of x A B^T",
                    "eggroll.forward_xw", _xw_orientation, expect_components=("eggroll.forward_xw",)),
        ),
    ),
]
