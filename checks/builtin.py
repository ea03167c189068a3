"""The project's own implementations, discovered from the specs (``reference/_contract.py``).

Every area declares its components once in ``reference/<area>/spec.py``; its ``np_ref.py``, ``jax_ref.py``
and ``torch_ref.py`` implement them (their public functions ARE the contract); the references know nothing
of the harness. This module turns them into three ``Implementation`` objects: ``numpy`` (the float64
oracle), ``jax`` and ``torch``.
"""

from __future__ import annotations

from harness.base import Implementation
from reference import _contract

FILES = _contract.FRAMEWORKS
ROLE = {"numpy": "oracle", "jax": "reference", "torch": "reference"}
DESCRIPTION = {
    "numpy": "NumPy float64 oracle (reads like the equations)",
    "jax": "JAX reference (optax / flax)",
    "torch": "PyTorch reference (torch.optim)",
}


def modules(framework: str) -> list[str]:
    """The reference modules the framework's components come from (``reference.<area>.<fw>_ref``)."""
    return _contract.modules(framework)


def sources(framework: str) -> dict[str, tuple[str, str]]:
    """{component: (reference module, function name)} for the areas declared by a spec."""
    return _contract.sources(framework)


def module_components(module) -> dict:
    """{component: function} of one reference module (a mutated copy, say), checked against its spec."""
    return _contract.components_of(module)


def implementation(framework: str) -> Implementation:
    return Implementation(name=framework, framework=framework, components=_contract.components(framework),
                          role=ROLE[framework], description=DESCRIPTION[framework])
