"""Taps: name the intermediate quantities of an unchanged loop, so a trace check can compare them.

    from harness import tap

    def train_step(params, batch):
        loss_p = tap("train.loss.policy", policy_loss(...))     # returns its argument unchanged
        ...

``tap(name, value)`` returns ``value`` itself (the same object). Outside a recording it does nothing else:
one global read and a comparison (see ``bench/bench_tap.py`` for the measured cost, in eager code and
inside ``jax.jit``). Inside ``recording()`` it appends a ``Record(name, index, value)`` to the trace,
``index`` counting the calls of that name from 0, ``value`` a NumPy copy (nested dict / list / tuple of
arrays kept as such). The harness's trace checks (``checks/trace.py``) run a whole loop inside a recording
on every implementation and compare the traces tap by tap (``harness.trace``).

Where it works
--------------
- eager NumPy, eager torch (the value is ``detach()``-ed and copied; the autograd graph is untouched),
  eager JAX (a pending ``jax.jit`` computation is waited for first, so the order of records is the
  program's order);
- inside ``jax.jit``, ``lax.scan`` / ``fori_loop`` / ``while_loop`` / ``cond`` and ``jax.grad``: the tap
  becomes ``jax.debug.callback(..., ordered=True)``, so records keep program order (one per scan /
  loop iteration; only the branch that runs of a ``cond``; ``grad`` records the primal value).
  The tap is decided when JAX traces: outside a recording no callback is staged at all, so the compiled
  program is the one without taps. ``recording()`` enters a ``jax.make_user_context`` value that is part
  of JAX's jit cache key: a function compiled outside a recording is traced again (once) inside one, and
  the tapped program is never reused outside.
- inside ``jax.vmap``: JAX calls the callback once per batch element, in batch order. A tap under vmap
  therefore records B calls of the unbatched value; it cannot see the batched array as one value (tap
  outside the vmap for that). Nested vmaps record the elements in row-major order.

What it cannot see
------------------
- values under ``torch.func`` transforms (``vmap`` / ``grad`` functorch tensors) and inside
  ``torch.compile`` graphs (a tap is a graph break there); tap the unbatched / eager value instead;
- ``jax.checkpoint`` / ``remat``: the recomputation in the backward pass may fire a tap again;
- ``pmap`` / ``shard_map``: one callback per device, order between devices unspecified.

A recording is process-wide (JAX runs callbacks on its own threads), guarded by a lock; recordings nest
(the innermost one receives the records). Two threads recording at once would interleave: run trace
checks one at a time per process (pytest-xdist uses processes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["tap", "recording", "active", "Record", "Trace", "component_of"]

_LOCK = threading.RLock()
_STACK: list[Trace] = []  # the recordings in force; the last one receives the records
_ACTIVE: Trace | None = None  # _STACK[-1] or None: the only thing tap() reads outside a recording
_JAX_CONTEXT: Any = None  # jax.make_user_context(False), created on first use


def tap(name: str, value: Any) -> Any:
    """Return ``value`` unchanged; inside ``recording()`` also record ``(name, call index, value)``."""
    if _ACTIVE is None:
        return value
    _record(name, value)
    return value


def active() -> bool:
    """True inside a recording: guard a computation that exists only to be tapped
    (``if active(): tap("x.norm", expensive_norm(x))``)."""
    return _ACTIVE is not None


def component_of(name: str) -> str:
    """The component a tap belongs to: its name without the last dotted part
    (``eggroll.noise.A`` -> ``eggroll.noise``; a two-part name is its own component)."""
    parts = name.split(".")
    return ".".join(parts[:-1]) if len(parts) > 2 else name


# ------------------------------------------------------------------------------------------ records


@dataclasses.dataclass
class Record:
    """One tap call: the tap's name, its call index among the calls of that name, the value (NumPy)."""

    name: str
    index: int
    value: Any


@dataclasses.dataclass
class Trace:
    """The records of one recording, in the order the program emitted them."""

    records: list[Record] = dataclasses.field(default_factory=list)
    _counts: dict[str, int] = dataclasses.field(default_factory=dict, repr=False)

    def add(self, name: str, value: Any) -> None:
        with _LOCK:
            i = self._counts.get(name, 0)
            self._counts[name] = i + 1
            self.records.append(Record(name, i, value))

    def names(self) -> list[str]:
        """Tap names in order of first appearance."""
        return list(dict.fromkeys(r.name for r in self.records))

    def values(self, name: str) -> list[Any]:
        """Every value recorded under ``name``, by call index."""
        return [r.value for r in self.records if r.name == name]

    def count(self, name: str) -> int:
        return self._counts.get(name, 0)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"Trace({len(self.records)} records: {', '.join(f'{n} x{self.count(n)}' for n in self.names())})"


@contextlib.contextmanager
def recording() -> Iterator[Trace]:
    """Record every tap of the enclosed code (process-wide) into the yielded ``Trace``.

    Pending JAX callbacks are flushed (``jax.effects_barrier``) before the block ends, so the trace is
    complete when the ``with`` statement exits.
    """
    global _ACTIVE
    trace = Trace()
    ctx = _jax_context()
    with _LOCK:
        _STACK.append(trace)
        _ACTIVE = trace
    try:
        with (ctx(True) if ctx is not None else contextlib.nullcontext()):
            yield trace
            _jax_barrier()
    finally:
        with _LOCK:
            _STACK.remove(trace)
            _ACTIVE = _STACK[-1] if _STACK else None


# ------------------------------------------------------------------------------------------ internals


def _jax_context():
    """The JAX jit-cache context that separates tapped from untapped compilations (None without JAX)."""
    global _JAX_CONTEXT
    if _JAX_CONTEXT is None and "jax" in sys.modules:
        import jax

        maker = getattr(jax, "make_user_context", None)
        _JAX_CONTEXT = maker(False) if maker is not None else False
    return _JAX_CONTEXT or None


def _jax_barrier() -> None:
    if "jax" in sys.modules:
        import jax

        jax.effects_barrier()


def _is_tracer(x: Any) -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, jax.core.Tracer)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _to_numpy(value: Any) -> Any:
    """A NumPy copy of a nested dict / list / tuple of arrays (NumPy, JAX, torch) and scalars."""
    import numpy as np

    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_to_numpy(v) for v in value)
    if hasattr(value, "_fields"):  # NamedTuple: keep it a plain tuple of its fields
        return tuple(_to_numpy(v) for v in value)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.cpu().numpy().copy()
    if isinstance(value, (bool, int, float, complex, np.generic)):
        return np.asarray(value)
    return np.array(value, copy=True)


def _emit(name: str, trace: Trace | None, value: Any) -> None:
    target = _ACTIVE if trace is None else trace
    if target is not None:
        target.add(name, _to_numpy(value))


def _record(name: str, value: Any) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"tap: the name must be a non-empty string, got {name!r}")
    if any(_is_tracer(x) for x in _leaves(value)):
        import jax

        # staged into the program: the callback runs when the compiled code runs, and hands the value to
        # whatever recording is active then (None: dropped -- only reachable from a program compiled
        # inside a recording whose jit-cache context could not be set, see _jax_context)
        jax.debug.callback(lambda v: _emit(name, None, v), value, ordered=True)
        return
    if "jax" in sys.modules:
        _jax_barrier()  # records of jitted code dispatched before this eager tap come first
    _emit(name, None, value)
