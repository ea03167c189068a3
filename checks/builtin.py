"""The project's own implementations, assembled from ``reference/<algorithm>/{np,jax,torch}_ref.py``.

Every reference module exposes ``COMPONENTS = {"<algorithm>.<function>": function}``; the references
know nothing of the harness. This module turns them into three ``Implementation`` objects:
``numpy`` (the float64 oracle), ``jax`` and ``torch``.
"""

from __future__ import annotations

import importlib
import importlib.util

from harness.base import Implementation

OPTIONAL = ("jax", "jaxlib", "torch", "flax", "optax", "mctx", "chex", "ml_dtypes")
ALGORITHMS = ("toy", "rng", "eggroll", "losses", "nets", "train", "mcts")
FILES = {"numpy": "np_ref", "jax": "jax_ref", "torch": "torch_ref"}
# further reference modules per framework (same COMPONENTS convention): the sharded EGGROLL runs
EXTRA = {"numpy": ("reference.eggroll.sharded_np",), "jax": ("reference.eggroll.sharded_jax",),
         "torch": ("reference.eggroll.sharded_torch",)}
ROLE = {"numpy": "oracle", "jax": "reference", "torch": "reference"}
DESCRIPTION = {
    "numpy": "NumPy float64 oracle (reads like the equations)",
    "jax": "JAX reference (optax / flax)",
    "torch": "PyTorch reference (torch.optim)",
}


def _components(framework: str) -> dict:
    comps: dict = {}
    for algo in ALGORITHMS:
        modname = f"reference.{algo}.{FILES[framework]}"
        if importlib.util.find_spec(f"reference.{algo}") is None:
            continue
        if importlib.util.find_spec(modname) is None:
            continue
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name in OPTIONAL:  # e.g. JAX without optax / flax: that algorithm's components are absent
                continue
            raise
        comps.update(getattr(mod, "COMPONENTS", {}))
    for modname in EXTRA.get(framework, ()):
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError:  # an optional dependency (optax, flax) missing: that component is not provided
            continue
        comps.update(getattr(mod, "COMPONENTS", {}))
    return comps


def implementation(framework: str) -> Implementation:
    return Implementation(name=framework, framework=framework, components=_components(framework),
                          role=ROLE[framework], description=DESCRIPTION[framework])

