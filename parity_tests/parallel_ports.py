"""Ports for the ``parity check --jobs`` tests: one hangs in a component, one kills its process."""

from __future__ import annotations

import os
import time

from checks import builtin
from harness import Implementation


def _hang(*args, **kwargs):
    time.sleep(3600)


def _die(*args, **kwargs):
    os._exit(7)


def hanging():
    toy = {k: v for k, v in builtin.implementation("numpy").components.items() if k.startswith("toy.")}
    return Implementation("hangs", "numpy", {**toy, "toy.argmax": _hang})


def dying():
    toy = {k: v for k, v in builtin.implementation("numpy").components.items() if k.startswith("toy.")}
    return Implementation("dies", "numpy", {**toy, "toy.softmax": _die})


# ---------------------------------------------------------------- steps for the torch process-group tests


def reduce_raises_on_rank1(comm, partial):
    if comm.rank == 1:
        raise FloatingPointError("planted failure on rank 1")
    return comm.all_reduce_sum(partial)


def reduce_hangs_on_rank1(comm, partial):
    if comm.rank == 1:
        time.sleep(3600)
    return comm.all_reduce_sum(partial)
