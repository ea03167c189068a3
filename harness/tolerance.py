"""The one dtype policy.

Defaults are torch.testing's table (``torch.testing.assert_close``): a pair of leaves is judged with the
tolerance of the LESS precise of the two dtypes (a float32 implementation against the float64 oracle is
held to float32's tolerance). Integers and bools are always exact. Any override is a ``Tolerance`` with a
written reason, declared next to the check that needs it. The modes themselves (how a leaf is judged, how the
report records and shows it) are classes in ``harness/modes.py``.
"""

from __future__ import annotations

# dtype name -> (rtol, atol)
DEFAULTS: dict[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}

# A tolerance wider than this fraction of the term it compares (``LeafResult.slack``) hides divergences of
# that size: a check whose passing rows exceed it says why (``Check.slack_reason``), or its inputs change.
SLACK_LIMIT = 0.01

# significand bits (precision): the less precise dtype of a pair decides the tolerance
PRECISION = {"bfloat16": 8, "float16": 11, "float32": 24, "complex64": 24, "float64": 53, "complex128": 53}


def kind(dtype_name: str) -> str:
    """'float', 'int', 'bool' or 'complex'."""
    if dtype_name == "bool":
        return "bool"
    if dtype_name.startswith(("int", "uint")):
        return "int"
    if dtype_name.startswith("complex"):
        return "complex"
    if dtype_name.startswith(("float", "bfloat")):
        return "float"
    return dtype_name


def coarser(a: str, b: str) -> str:
    """The less precise of two floating dtype names."""
    return a if PRECISION.get(a, 53) <= PRECISION.get(b, 53) else b


def coarsest(names) -> str:
    """The least precise of some floating dtype names."""
    out = None
    for n in names:
        out = n if out is None else coarser(out, n)
    return out
