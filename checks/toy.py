"""Toy checks: prove the harness end to end (comparison, blame, controls, report, fixtures).

This module is also the smallest example of how to declare a check.
"""

import numpy as np

from harness.base import Check, Control, Exact, Tolerance


def _inputs(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(4, 7)).astype(np.float32) * 3
    target = rng.dirichlet(np.ones(7), size=4).astype(np.float32)
    return {"logits": logits, "target": target}


def _run_softmax(c, case):
    # keyed by component (by_component=True): a divergence names the component it comes from
    return {"toy.softmax": c["toy.softmax"](case["logits"]),
            "toy.cross_entropy": c["toy.cross_entropy"](case["logits"], case["target"])}


def _strategy():
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    floats = st.floats(-30, 30, width=32)
    logits = hnp.arrays(np.float32, (4, 7), elements=floats)
    return logits.map(lambda x: {"logits": x, "target": np.full((4, 7), 1 / 7, np.float32)})


def _sign_flipped_softmax(orig):
    return lambda logits, axis=-1: orig(-logits, axis=axis)


def _argmax_last(orig):
    # ties broken towards the LAST index: a classic port drift (e.g. argmax over a reversed array)
    def f(values):
        import torch
        n = values.shape[-1]
        return (n - 1) - torch.argmax(torch.flip(values, dims=[-1]), dim=-1)
    return f


def _argmax_inputs(seed):
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 3, size=(16, 5)).astype(np.float32)  # small integers: many ties
    return {"values": v}


CHECKS = [
    Check(
        name="toy.math.softmax", components=("toy.softmax", "toy.cross_entropy"), inputs=_inputs, run=_run_softmax,
        mode=Tolerance(), by_component=True, strategy=_strategy,
        description="softmax and cross-entropy agree leaf by leaf",
        controls=(
            Control("sign_flip", "softmax of -logits", {"toy.softmax": _sign_flipped_softmax},
                    target="torch"),
        ),
    ),
    Check(
        name="toy.math.argmax", components=("toy.argmax",), inputs=_argmax_inputs,
        run=lambda c, case: c["toy.argmax"](case["values"]), mode=Exact(),
        description="argmax with first-index tie-break, exact integers",
        controls=(
            Control("last_index_ties", "ties broken towards the last index", {"toy.argmax": _argmax_last},
                    target="torch"),
        ),
    ),
]
