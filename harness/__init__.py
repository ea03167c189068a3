"""Backend-parity verification harness for PyTorch <-> JAX ports."""

from .base import (
    Check,
    Components,
    Control,
    Exact,
    Implementation,
    ParityError,
    Result,
    Statistical,
    Status,
    Tolerance,
    Ulp,
)
from .compare import assert_parity, compare
from .tap import recording, tap

__all__ = ["Check", "Components", "Control", "Exact", "Implementation", "ParityError", "Result", "Statistical",
           "Status", "Tolerance", "Ulp", "assert_parity", "compare", "recording", "tap"]
