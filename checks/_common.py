"""Helpers shared by the check modules: array conversion, the EGGROLL case pieces several checks draw, the
seeded hypothesis strategies, controls that rewrite one argument, and leaf attribution for whole-output checks.

Nothing here knows a framework's internals: a control plants its divergence through the component's public
arguments (a config field, a knob, a wrapped public function), never through a reference's ``_private`` code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.base import Control

U32 = 0xFFFFFFFF
SEEDS = (0, 2**31 - 1)  # hypothesis seed range of the cases built from a seed
FLOAT_DTYPES = (np.float32, np.float64)

# ------------------------------------------------------------------------------------------ arrays


def to_numpy(x):
    """Any framework's array (or a Python scalar) as a NumPy array (JAX typed keys as their key data)."""
    if hasattr(x, "detach"):
        import torch

        t = x.detach().cpu()
        if t.dtype in (torch.uint32,):
            t = t.to(torch.int64)
        return t.numpy()
    try:
        import jax

        if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(x)


def like(ref, value, dtype=None):
    """``value`` (NumPy) in the framework of ``ref`` (numpy / jax / torch array), float32 unless told."""
    value = np.asarray(value)
    if dtype is None:
        dtype = value.dtype if value.dtype.kind in "iub" else (np.float64 if isinstance(ref, np.ndarray) and
                                                               ref.dtype == np.float64 else np.float32)
    value = value.astype(dtype)
    if hasattr(ref, "detach"):
        import torch

        return torch.from_numpy(np.ascontiguousarray(value))
    if type(ref).__module__.startswith(("jax", "jaxlib")):
        import jax.numpy as jnp

        return jnp.asarray(value)
    return value


def keys_u32(x):
    """Key words as uint32 whatever the carrier (torch int32 bits, JAX uint32 / typed keys, NumPy)."""
    return (to_numpy(x).astype(np.int64) & U32).astype(np.uint32)


def i64(x):
    return to_numpy(x).astype(np.int64)


def as_dtype(case, dtype):
    """Every float array of a case in ``dtype`` (float64 inputs: JAX with x64 off computes in float32, the
    harness then holds the pair to float32's tolerance; torch computes in float64)."""
    return {k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for k, v in case.items()}


# ------------------------------------------------------------------------------------ EGGROLL pieces

# the parameter roles of the small MLP the EGGROLL trajectory / sharded / trace checks train
MLP_ROLES = {"b1": "fullrank", "b2": "fullrank", "out_scale": "excluded", "w1": "lowrank", "w2": "lowrank"}


def es_key(seed):
    return np.array([0, seed & U32], np.uint32)


def rand_keys(rng, n):
    return rng.integers(0, 2**32, size=(n, 2), dtype=np.uint64).astype(np.uint32)


def signs(n):
    return np.where(np.arange(n) % 2 == 0, 1.0, -1.0).astype(np.float32)


def pairs(n):
    return (np.arange(n) // 2).astype(np.int32)


def mlp_problem(rng):
    """The small MLP (d 4 -> h 8 -> o 2, float32) and its regression data (16 points), drawn from ``rng``."""
    d, h, o, m = 4, 8, 2, 16
    params = {"b1": (0.1 * rng.normal(size=h)).astype(np.float32),
              "b2": (0.1 * rng.normal(size=o)).astype(np.float32),
              "out_scale": rng.uniform(0.5, 1.5, size=o).astype(np.float32),
              "w1": (rng.normal(size=(h, d)) / np.sqrt(d)).astype(np.float32),
              "w2": (rng.normal(size=(o, h)) / np.sqrt(h)).astype(np.float32)}
    x = rng.normal(size=(m, d)).astype(np.float32)
    y = np.tanh(x @ rng.normal(size=(d, o))).astype(np.float32)
    return params, {"x": x, "y": y}


def es_config(population, group_size, noise_reuse, optimizer):
    """An EGGROLL config of the MLP checks: rank 2, sigma 0.1, the MLP's roles."""
    return {"population": population, "rank": 2, "sigma": 0.1, "group_size": group_size, "noise_reuse": noise_reuse,
            "freeze_nonlora": False, "roles": dict(MLP_ROLES), "optimizer": dict(optimizer)}


# ------------------------------------------------------------------------------------------ strategies


def seeded(inputs: Callable[[int], Any]) -> Callable[[], Any]:
    """A ``Check.strategy``: the check's own cases from hypothesis-drawn seeds."""
    def strategy():
        from hypothesis import strategies as st

        return st.integers(*SEEDS).map(inputs)
    return strategy


def seeded_dtypes(inputs: Callable[[int], dict]) -> Callable[[], Any]:
    """A ``Check.strategy``: the check's own cases from drawn seeds, every float array in float32 or float64."""
    def strategy():
        from hypothesis import strategies as st

        return st.builds(lambda seed, dt: as_dtype(inputs(seed), dt), st.integers(*SEEDS),
                         st.sampled_from(FLOAT_DTYPES))
    return strategy


# ------------------------------------------------------------------------------------------ controls


def reference(framework: str, component: str) -> Callable:
    """The project's reference implementation of ``component`` in ``framework``, by its component name (its
    public function): what a control's mutant composes with when it rewrites another part of a loss or a loop."""
    return _references(framework)[component]


def _references(framework: str) -> dict:
    if framework not in _CACHE:
        from checks.builtin import implementation

        _CACHE[framework] = dict(implementation(framework).components)
    return _CACHE[framework]


_CACHE: dict = {}


def control(name: str, description: str, component: str, mutant: Callable[[Callable], Callable], *,
            named: bool = False, **kw) -> Control:
    """A negative control patching one component with ``mutant`` (original -> mutant); ``named``: the check
    must name that component (``expect_components``); ``kw``: ``target``, ``against``, ``expect_components``."""
    if named:
        kw["expect_components"] = (component,)
    return Control(name, description, {component: mutant}, **kw)


def controls(component: str, *rows: tuple, **kw) -> tuple[Control, ...]:
    """Negative controls that all patch ``component``: rows ``(name, description, mutant, target)``."""
    return tuple(control(name, description, component, mutant, target=target, **kw)
                 for name, description, mutant, target in rows)


def with_arg(position: int, change: Callable[[Any], Any]) -> Callable[[Callable], Callable]:
    """A control's patch ``orig -> mutant``: the component called with its argument at ``position`` (positional
    or by its name in ``orig``'s call) rewritten by ``change`` -- a config field, a knob, a hyper-parameter."""
    def make(orig):
        def mutant(*args, **kwargs):
            if position < len(args):
                args = (*args[:position], change(args[position]), *args[position + 1:])
            else:
                import inspect

                name = list(inspect.signature(orig).parameters)[position]
                kwargs[name] = change(kwargs[name]) if name in kwargs else change(
                    inspect.signature(orig).parameters[name].default)
            return orig(*args, **kwargs)
        return mutant
    return make


def with_fields(position: int, **fields) -> Callable[[Callable], Callable]:
    """``with_arg`` for a config dict: the fields given replaced (the caller's dict is not modified)."""
    return with_arg(position, lambda cfg: {**cfg, **fields})


# ------------------------------------------------------------------------------------------ attribution


class Owners:
    """Leaf attribution of a whole-output check (``Check.attribute``): the components its failing leaves name.

    ``rules`` are ``(pattern, component, upstream=(), shared=())`` in data-flow order. A failing leaf whose path
    matches the regular expression ``pattern`` (``re.match``) names ``component``, unless another failing leaf
    matches an ``upstream`` pattern (an input it was computed from diverges already: that leaf names the culprit)
    or a ``shared`` one (two outputs of different components fail together: their common input, which the check
    does not compare, is at fault, and the row is not attributable). ``{name}`` in an upstream / shared pattern
    is the text of ``pattern``'s group ``name`` (the same configuration of the case). A failing leaf that matches
    no rule makes the row not attributable (``[]``), as the runner's default.
    """

    def __init__(self, *rules: tuple):
        self.rules = [(re.compile(r[0]), r[1], tuple(r[2]) if len(r) > 2 else (), tuple(r[3]) if len(r) > 3 else ())
                      for r in rules]

    def __call__(self, failing: Sequence[str]) -> list[str]:
        names: list[str] = []
        for path in failing:
            rule = next(((r, m) for r in self.rules if (m := r[0].match(path))), None)
            if rule is None:
                return []
            (_, comp, upstream, shared), m = rule
            groups = {k: re.escape(v) for k, v in m.groupdict().items() if v is not None}
            others = [p for p in failing if p != path]
            if _matches(shared, groups, others):
                return []
            if not _matches(upstream, groups, others) and comp not in names:
                names.append(comp)
        return names


def _matches(patterns, groups, paths) -> bool:
    return any(re.match(p.format(**groups), other) for p in patterns for other in paths)
