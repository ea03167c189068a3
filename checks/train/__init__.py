"""Checks of the training pieces (reference/train), one module per check group, in report order: ``optim``
(warmup, clipping, coupled weight decay + Adam), ``stopping`` (ReduceLROnPlateau, early stopping), ``targets``
(value targets / examples), ``trajectory`` (the JAX vs torch training trajectory) and ``defaults`` (the same
pieces called with their default hyper-parameters).

Negative controls plant the seed JAX port's drifts: warmup one step behind, adamw instead of coupled
decay, no weight decay, no clipping, decay before clipping, plateau patience off by one, no best restore,
intermediate values 0.0, draws -1, fixed perspective inverted, a dropped policy weight in the loop.
"""

from harness.base import Tolerance

GROUPS = ("optim", "stopping", "targets", "trajectory", "defaults")

SCHEDULE_TOL = Tolerance(rtol=1.3e-6, atol=0.0, reason="learning rates are 1e-4..1e-1: the float32 absolute "
                         "floor 1e-5 would hide a 10% schedule error; float32 lrs are within 1 ulp (6e-8 rel)")


def catalogue() -> list:
    """Every check of the groups above, in report order (``checks.MODULES`` lists the group modules)."""
    import importlib

    return [c for g in GROUPS for c in importlib.import_module(f"{__name__}.{g}").CHECKS]
