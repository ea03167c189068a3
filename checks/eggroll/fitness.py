"""EGGROLL fitness shaping: group mean, GLOBAL variance (ddof 0), eps inside the square root."""

from __future__ import annotations

import numpy as np

from checks._common import control, like, to_numpy
from harness.base import Check, Tolerance

GROUP_N = (8, 16)
SCALES = (1e-3, 1.0, 100.0)


def spread(rng, n, scale):
    """n fitness values apart from each other (gap >= scale / (4 n)), centred near scale / 3."""
    for _ in range(100):
        v = rng.normal(scale / 3, scale, size=n)
        if np.min(np.diff(np.sort(v))) >= scale / (4 * n):
            return v.astype(np.float32)
    raise AssertionError("could not draw separated fitness values")  # pragma: no cover


def _group_inputs(seed):
    rng = np.random.default_rng(seed)
    return {f"N{n}_s{s:g}": {"fitness": spread(rng, n, s), "groups": [0, 2, 4, n]} for n in GROUP_N for s in SCALES}


def _run_group(c, case):
    return {name: {f"G{g}": c["eggroll.shape_fitness"](v["fitness"], g) for g in v["groups"]}
            for name, v in case.items()}


def fitness_vectors(n, exponents=(-10, 6)):
    """n distinct fitness values: distinct integers in [-2^20, 2^20] times 2^e. Values apart from each other
    (no near-ties), and exact in float32 together with their sum and mean, so that F - mean carries no
    float32 cancellation error that a tolerance would have to absorb."""
    from hypothesis import strategies as st

    ints = st.lists(st.integers(-2**20, 2**20), min_size=n, max_size=n, unique=True)
    return st.builds(lambda v, e: (np.asarray(v, np.float64) * 2.0 ** e).astype(np.float32),
                     ints, st.integers(*exponents))


def _group_strategy():
    from hypothesis import strategies as st

    return st.tuples(fitness_vectors(8), fitness_vectors(16)).map(
        lambda t: {f"N{len(v)}": {"fitness": v, "groups": [0, 2, 4, len(v)]} for v in t})


def fitness_mutant(fn):
    """A shape_fitness mutant computed in NumPy from ``fn(F float64, G)`` and returned in F's framework."""
    def make(orig):
        def mutant(fitness, group_size):
            ref = orig(fitness, group_size)
            return like(ref, fn(to_numpy(fitness).astype(np.float64), int(group_size)))
        return mutant
    return make


def _centred(f, g):
    return f - f.mean() if g == 0 else (f.reshape(-1, g) - f.reshape(-1, g).mean(1, keepdims=True)).reshape(-1)


def per_group_variance(f, g):
    if g == 0:
        return _centred(f, 0) / np.sqrt(f.var() + 1e-5)
    blocks = f.reshape(-1, g)
    return ((blocks - blocks.mean(1, keepdims=True)) / np.sqrt(blocks.var(1, keepdims=True) + 1e-5)).reshape(-1)


def _ddof1(f, g):
    return _centred(f, g) / np.sqrt(f.var(ddof=1) + 1e-5)


def _eps_outside(f, g):
    return _centred(f, g) / (np.sqrt(f.var()) + 1e-5)


CHECKS = [
    Check(
        name="eggroll.fitness.group_norm", components=("eggroll.shape_fitness",),
        inputs=_group_inputs, run=_run_group, mode=Tolerance(), strategy=_group_strategy,
        description="f = (F - group mean) / sqrt(global var + 1e-5), ddof 0, G in {0, 2, 4, N}, "
                    "fitness scales 1e-3 / 1 / 100",
        controls=(
            control("per_group_variance", "each group divided by its own std",
                    "eggroll.shape_fitness", fitness_mutant(per_group_variance)),
            control("ddof1", "sample variance (ddof 1, torch.var's default)",
                    "eggroll.shape_fitness", fitness_mutant(_ddof1), target="jax"),
            control("eps_outside_sqrt", "(F - mean) / (std + 1e-5)",
                    "eggroll.shape_fitness", fitness_mutant(_eps_outside)),
        ),
    ),
]
