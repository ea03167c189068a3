"""Running a port's code under guard: which component is running, a time limit, seeded global RNGs,
and detection of components that write to their inputs.

- ``CallTracker`` wraps every component a check calls (``Components.__getitem__``): it remembers the
  component that raised (or was running when a time limit hit), so an ``error`` row names it.
- ``time_limit(seconds)`` interrupts a check that runs too long with ``CheckTimeout``. It uses
  ``SIGALRM`` (``signal.setitimer``): POSIX only, main thread only, and it interrupts Python code -- a call
  stuck inside native code (a torch kernel, an XLA compile) is interrupted when it returns to Python.
  Elsewhere (Windows, a worker thread) there is no limit and ``time_limit`` says so (returns False).
  ``CheckTimeout`` derives from ``BaseException`` so that a port's ``except Exception`` cannot swallow it.
- ``seeded_globals(seed)`` seeds Python's ``random``, NumPy's legacy global ``np.random`` and torch's
  global generator (when torch is imported) before a port runs, and restores the caller's states after:
  a port that draws its own randomness (``torch.randn``) gets the same draws at the same ``--seed``.
  JAX has no global random state (keys are explicit), so there is nothing to seed there.
- ``snapshot`` / ``changed_leaves`` find case inputs a component modified in place.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .convert import flatten, is_torch, to_numpy


class CheckTimeout(BaseException):
    """A check ran past its time limit (``--timeout``)."""

    def __init__(self, seconds: float):
        super().__init__(f"no result within {seconds:g} s")
        self.seconds = seconds


class CallTracker:
    """Wraps component calls: the component that raised (innermost) or is running, and an optional hook
    run after each top-level call (used to find the component that modified its input)."""

    def __init__(self, after_call: Callable[[str], None] | None = None):
        self.raised_in: str | None = None
        self.active: list[str] = []
        self.after_call = after_call

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args, **kwargs):
            if not self.active:
                self.raised_in = None  # a caught exception of an earlier call is not this call's
            self.active.append(name)
            try:
                out = fn(*args, **kwargs)
            except BaseException:
                if self.raised_in is None:
                    self.raised_in = name
                raise
            finally:
                self.active.pop()
            if self.after_call is not None and not self.active:
                self.after_call(name)
            return out

        call.__wrapped__ = fn
        return call


# -- time limit -------------------------------------------------------------------------------------

def time_limit_supported() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[bool]:
    """Raise ``CheckTimeout`` in this (main) thread after ``seconds``; yields whether a limit is armed.
    An outer timer (e.g. pytest-timeout's) is restored with its remaining time afterwards."""
    if not seconds or seconds <= 0 or not time_limit_supported():
        yield False
        return
    armed = [True]

    def on_alarm(signum, frame):
        if armed[0]:
            armed[0] = False
            raise CheckTimeout(seconds)

    t0 = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_timer = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_timer[0] > 0:  # give the outer timer back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(old_timer[0] - (time.monotonic() - t0), 1e-3), old_timer[1])


# -- global random state ----------------------------------------------------------------------------

def global_seed(check_name: str, seed: int) -> int:
    """The seed of the global RNGs for one case of one check: a pure function of (check, seed)."""
    return zlib.crc32(f"{check_name}:{seed}".encode()) & 0xFFFFFFFF


@contextlib.contextmanager
def seeded_globals(seed: int) -> Iterator[None]:
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch = sys.modules.get("torch")
    torch_state = torch.random.get_rng_state() if torch is not None else None
    random.seed(seed)
    np.random.seed(seed)
    if torch is not None:
        torch.random.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if torch is not None and torch_state is not None:
            torch.random.set_rng_state(torch_state)


# -- input mutation ---------------------------------------------------------------------------------

def snapshot(tree: Any) -> dict[str, Any]:
    """A copy of every mutable leaf (NumPy arrays, torch tensors) of a case, by path."""
    out: dict[str, Any] = {}
    for path, leaf in flatten(tree):
        if isinstance(leaf, np.ndarray) or is_torch(leaf):
            a, _ = to_numpy(leaf)
            out[path] = np.array(a, copy=True)
        else:
            out[path] = _Immutable
    return out


class _Immutable:
    pass


def changed_leaves(tree: Any, snap: dict[str, Any]) -> list[str]:
    """Paths of the case whose values (or structure) differ from ``snap``."""
    now = dict(flatten(tree))
    out = [p for p in snap if p not in now] + [p for p in now if p not in snap]
    for path, before in snap.items():
        if before is _Immutable or path not in now:
            continue
        a, _ = to_numpy(now[path])
        same = a.shape == before.shape and (
            np.array_equal(a, before, equal_nan=True) if a.dtype.kind in "fc" else np.array_equal(a, before))
        if not same:
            out.append(path)
    return out
