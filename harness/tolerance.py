"""The one dtype policy.

Defaults are torch.testing's table (``torch.testing.assert_close``): a pair of leaves is judged with the
tolerance of the LESS precise of the two dtypes (a float32 implementation against the float64 oracle is
held to float32's tolerance). Integers and bools are always exact. Any override is a ``Tolerance`` with a
written reason, declared next to the check that needs it.
"""

from __future__ import annotations

from .base import Exact, Statistical, Tolerance, Ulp

# dtype name -> (rtol, atol)
DEFAULTS: dict[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}

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


def resolve(mode, dtype_a: str, dtype_b: str) -> tuple[float, float]:
    """(rtol, atol) for a tolerance comparison of two float leaves."""
    d = coarser(dtype_a, dtype_b)
    rtol, atol = DEFAULTS.get(d, DEFAULTS["float64"])
    if isinstance(mode, Tolerance):
        rtol = mode.rtol if mode.rtol is not None else rtol
        atol = mode.atol if mode.atol is not None else atol
    return rtol, atol


def describe(mode) -> dict:
    """The tolerance as recorded in the report."""
    if isinstance(mode, Tolerance):
        return {"mode": "tolerance", "rtol": mode.rtol, "atol": mode.atol,
                "source": "override: " + mode.reason if mode.reason else "dtype policy (torch.testing table)"}
    if isinstance(mode, Ulp):
        return {"mode": "ulp", "max_ulp": mode.max_ulp, "source": mode.reason or "declared"}
    if isinstance(mode, Exact):
        return {"mode": "exact", "source": "bitwise floats, equal integers"}
    if isinstance(mode, Statistical):
        return {"mode": "statistical", "test": mode.test, "alpha": mode.alpha,
                "source": "false-failure budget alpha per check, Bonferroni over leaves"}
    return {"mode": str(mode)}
