"""Interceptors: feed injected draws to real code that draws inside, without the user monkeypatching.

Real AlphaZero code draws its root noise inside ``expand`` (``np.random.dirichlet``), EGGROLL scripts seed
from the clock (``jax.random.PRNGKey(int(time.time()))``). To run such code on the harness's inputs::

    from harness import intercept

    with intercept.np_dirichlet(draws) as calls:          # draws[i] answers the i-th call
        visits = user_search(state)
    assert calls.count == 1

Each interceptor is a context manager yielding a ``Calls`` record (``count``, ``args`` of every call).
``draws`` is a sequence (the i-th call gets ``draws[i]``) or a callable ``(index, *args, **kwargs) ->
draw``; a draw's shape must be the shape the call asks for (a clear ``ParityError`` names the call
otherwise), and a call beyond the injected draws is an error, never a silent real draw.

Scoped and thread-safe: only the thread that opened the scope is intercepted (other threads reach the real
function meanwhile); scopes of one target nest (the innermost answers). On exit every patched attribute is
restored, and so is the global random state the scope could have moved: NumPy's legacy global
``RandomState``, torch's default generator (CPU), Python's ``random``.

Targets
-------
``np_dirichlet``     ``np.random.dirichlet(alpha, size=None)`` (the legacy global function, looked up as
                     ``np.random.dirichlet`` at call time). Not reachable: a ``RandomState`` / ``Generator``
                     instance's method (C types, immutable) and a name bound by ``from numpy.random import
                     dirichlet`` before the scope; seed those with the harness's seed instead.
``jax_dirichlet``    ``jax.random.dirichlet(key, alpha, shape=None, dtype=float)``. Eager calls get the draw
                     directly; calls traced under ``jax.jit`` / ``lax.scan`` fetch it when the compiled code
                     runs (an ordered ``io_callback``; the scope enters its own jit-cache context, so that
                     compilation is never reused outside). Not under ``vmap`` (ordered callbacks cannot be
                     batched): draw outside the vmap.
``torch_dirichlet``  ``torch.distributions.Dirichlet(concentration).sample(shape)`` / ``.rsample(shape)``.
``jax_keys``         ``jax.random.PRNGKey(seed)`` and ``jax.random.key(seed)``: the i-th call gets the
                     injected seed (an int) instead of its argument (the clock's), so the code's own key
                     chain follows from the harness's seed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .base import ParityError

__all__ = ["Calls", "np_dirichlet", "jax_dirichlet", "torch_dirichlet", "jax_keys"]

_LOCK = threading.RLock()


@dataclasses.dataclass
class Calls:
    """What an interceptor saw: how many calls, and each call's arguments (as given)."""

    target: str
    draws: Any
    count: int = 0
    args: list = dataclasses.field(default_factory=list)
    thread: int = dataclasses.field(default_factory=threading.get_ident)

    def next(self, *args, **kwargs) -> Any:
        """The draw for this call (and count it)."""
        with _LOCK:
            i = self.count
            self.count += 1
            self.args.append((args, kwargs))
        if callable(self.draws):
            return self.draws(i, *args, **kwargs)
        if i >= len(self.draws):
            raise ParityError(f"intercepted {self.target}: call #{i} (from 0) but only {len(self.draws)} draws were "
                              f"injected -- the code draws more often than the harness expected")
        return self.draws[i]


# one stack of open scopes per target: the innermost scope of the calling thread answers
_SCOPES: dict[str, list[Calls]] = {}


def _scope_for(target: str) -> Calls | None:
    me = threading.get_ident()
    with _LOCK:
        for calls in reversed(_SCOPES.get(target, [])):
            if calls.thread == me:
                return calls
    return None


@contextlib.contextmanager
def _global_rng_saved() -> Iterator[None]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    torch = sys.modules.get("torch")
    torch_state = torch.get_rng_state() if torch is not None else None
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        if torch_state is not None:
            torch.set_rng_state(torch_state)


@contextlib.contextmanager
def _patched(target: str, draws, patches: Sequence[tuple[Any, str, Callable[[Callable], Callable]]]
             ) -> Iterator[Calls]:
    """Open a scope of ``target``: each ``(owner, attribute, make)`` replaced by ``make(original)`` while the
    first scope of the target is open (later scopes of it only stack)."""
    if not (callable(draws) or isinstance(draws, (list, tuple, np.ndarray))):
        raise ParityError(f"intercept {target}: draws must be a sequence or a callable (index, *args) -> draw, "
                          f"got {type(draws).__name__}")
    calls = Calls(target, draws)
    saved = []
    with _LOCK:
        stack = _SCOPES.setdefault(target, [])
        if not stack:
            for owner, attr, make in patches:
                original = getattr(owner, attr)
                saved.append((owner, attr, original))
                setattr(owner, attr, make(original))
        stack.append(calls)
    try:
        with _global_rng_saved():
            yield calls
    finally:
        with _LOCK:
            stack.remove(calls)
            if not stack:
                for owner, attr, original in saved or _ORIGINALS.pop(target, []):
                    setattr(owner, attr, original)
            elif saved:  # an inner scope still open in another thread: it restores when it closes
                _ORIGINALS[target] = saved


_ORIGINALS: dict[str, list] = {}


def _shaped(target: str, i: int, draw: Any, shape: tuple[int, ...]) -> np.ndarray:
    d = np.asarray(draw.detach().cpu().numpy() if hasattr(draw, "detach") else draw)
    if d.shape != tuple(shape):
        raise ParityError(f"intercepted {target} call #{i}: the code asks for shape {tuple(shape)}, the injected "
                          f"draw has shape {d.shape}")
    return d


# ---------------------------------------------------------------------------------------------- NumPy


def np_dirichlet(draws) -> contextlib.AbstractContextManager[Calls]:
    """Intercept ``np.random.dirichlet``: the i-th call returns draw i (float64, shape
    ``size + (len(alpha),)``)."""
    target = "np.random.dirichlet"

    def answer(original, alpha, size=None, *rest):
        calls = _scope_for(target)
        if calls is None:
            return original(alpha, size, *rest)
        i = calls.count
        k = len(np.asarray(alpha).reshape(-1))
        shape = (() if size is None else ((size,) if np.ndim(size) == 0 else tuple(size))) + (k,)
        return _shaped(target, i, calls.next(alpha, size), shape).astype(np.float64)

    def make_function(original):
        return lambda alpha, size=None: answer(original, alpha, size)

    return _patched(target, draws, [(np.random, "dirichlet", make_function)])


# ---------------------------------------------------------------------------------------------- torch


def torch_dirichlet(draws) -> contextlib.AbstractContextManager[Calls]:
    """Intercept ``torch.distributions.Dirichlet.sample`` / ``.rsample``: the i-th call returns draw i as a
    tensor of the distribution's dtype, shape ``sample_shape + batch_shape + event_shape``."""
    import torch

    target = "torch.distributions.Dirichlet"
    cls = torch.distributions.Dirichlet

    def make(original):
        def sample(self, sample_shape=torch.Size()):
            calls = _scope_for(target)
            if calls is None:
                return original(self, sample_shape)
            i = calls.count
            shape = tuple(self._extended_shape(torch.Size(sample_shape)))
            d = _shaped(target, i, calls.next(self.concentration, sample_shape), shape)
            return torch.as_tensor(np.array(d), dtype=self.concentration.dtype)
        return sample

    return _patched(target, draws, [(cls, "sample", make), (cls, "rsample", make)])


# ---------------------------------------------------------------------------------------------- JAX

_JAX_CONTEXT: Any = None


def _jax_context():
    global _JAX_CONTEXT
    if _JAX_CONTEXT is None:
        import jax

        maker = getattr(jax, "make_user_context", None)
        _JAX_CONTEXT = maker(False) if maker is not None else False
    return _JAX_CONTEXT or None


@contextlib.contextmanager
def _jax_scope(target, draws, patches):
    ctx = _jax_context()
    with _patched(target, draws, patches) as calls:
        with (ctx(True) if ctx is not None else contextlib.nullcontext()):
            yield calls


def jax_dirichlet(draws) -> contextlib.AbstractContextManager[Calls]:
    """Intercept ``jax.random.dirichlet``: the i-th call (in execution order, eager or compiled) returns draw i
    (shape ``shape + alpha.shape[-1:]``, the call's dtype)."""
    import jax
    import jax.numpy as jnp

    target = "jax.random.dirichlet"

    def make(original):
        def dirichlet(key, alpha, shape=None, dtype=float):
            owner = _scope_for(target)
            if owner is None:
                return original(key, alpha, shape, dtype)
            alpha = jnp.asarray(alpha)
            batch = tuple(shape) if shape is not None else alpha.shape[:-1]
            out_shape = batch + alpha.shape[-1:]
            dt = jnp.dtype(jax.dtypes.canonicalize_dtype(dtype))

            def fetch():
                i = owner.count
                return _shaped(target, i, owner.next(out_shape), out_shape).astype(dt)

            if isinstance(alpha, jax.core.Tracer) or isinstance(key, jax.core.Tracer):
                from jax.experimental import io_callback

                return io_callback(fetch, jax.ShapeDtypeStruct(out_shape, dt), ordered=True)
            return jnp.asarray(fetch())
        return dirichlet

    return _jax_scope(target, draws, [(jax.random, "dirichlet", make)])


def jax_keys(seeds) -> contextlib.AbstractContextManager[Calls]:
    """Intercept ``jax.random.PRNGKey`` and ``jax.random.key``: the i-th call gets seed ``seeds[i]`` instead of
    its own argument (typically ``int(time.time())``), so the code's key chain starts from the harness's."""
    import jax

    target = "jax.random.PRNGKey"

    def make(original):
        def key(seed, *args, **kwargs):
            owner = _scope_for(target)
            if owner is None:
                return original(seed, *args, **kwargs)
            injected = owner.next(seed)
            if not isinstance(injected, (int, np.integer)):
                raise ParityError(f"intercepted {target} call #{owner.count - 1}: an injected seed must be an int, "
                                  f"got {type(injected).__name__}")
            return original(int(injected), *args, **kwargs)
        return key

    return _jax_scope(target, seeds, [(jax.random, "PRNGKey", make), (jax.random, "key", make)])
