"""harness.intercept: injected draws in call order, counted, scoped to the thread, global state restored."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from harness import intercept
from harness.base import ParityError


def test_np_dirichlet_feeds_draws_in_order_and_restores_everything():
    original = np.random.dirichlet
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    py_before = random.getstate()
    draws = [np.array([0.2, 0.8]), np.array([[0.5, 0.5], [0.1, 0.9]])]
    with intercept.np_dirichlet(draws) as calls:
        a = np.random.dirichlet([0.3, 0.3])
        np.random.rand(5)  # the code may move the global state: restored on exit
        random.random()
        b = np.random.dirichlet(np.full(2, 0.3), size=2)
    assert a.tolist() == [0.2, 0.8] and b.tolist() == [[0.5, 0.5], [0.1, 0.9]]
    assert calls.count == 2 and calls.args[1][0][1] == 2
    assert np.random.dirichlet is original
    assert (np.random.get_state()[1] == before).all() and random.getstate() == py_before
    assert np.random.dirichlet([1.0, 1.0]).shape == (2,)  # the real sampler again


def test_np_dirichlet_errors_name_the_call():
    with pytest.raises(ParityError, match=r"call #1 .* only 1 draws"):
        with intercept.np_dirichlet([np.array([0.5, 0.5])]):
            np.random.dirichlet([1, 1])
            np.random.dirichlet([1, 1])
    with pytest.raises(ParityError, match=r"shape \(3,\), the injected draw has shape \(2,\)"):
        with intercept.np_dirichlet([np.array([0.5, 0.5])]):
            np.random.dirichlet([1, 1, 1])
    assert np.random.dirichlet([1, 1, 1]).shape == (3,)


def test_a_callable_answers_with_the_call_index_and_arguments():
    with intercept.np_dirichlet(lambda i, alpha, size: np.full(len(alpha), 1.0 / len(alpha)) * (i + 1)) as calls:
        assert np.random.dirichlet([1, 1, 1, 1]).tolist() == [0.25] * 4
        assert np.random.dirichlet([1, 1]).tolist() == [1.0, 1.0]
    assert calls.count == 2


def test_other_threads_reach_the_real_sampler():
    seen = {}

    def other():
        seen["x"] = np.random.default_rng(0).random()  # unaffected API
        seen["d"] = np.random.dirichlet([1.0, 1.0, 1.0])

    with intercept.np_dirichlet([np.array([0.0, 1.0])]) as calls:
        t = threading.Thread(target=other)
        t.start()
        t.join()
        np.random.dirichlet([1.0, 1.0])
    assert calls.count == 1 and seen["d"].shape == (3,) and abs(seen["d"].sum() - 1) < 1e-12


def test_torch_dirichlet_sample_and_rsample():
    torch = pytest.importorskip("torch")
    torch.manual_seed(7)
    state = torch.get_rng_state()
    with intercept.torch_dirichlet([np.array([0.1, 0.9]), np.array([[0.3, 0.7]] * 3)]) as calls:
        d = torch.distributions.Dirichlet(torch.tensor([0.3, 0.3]))
        x = d.sample()
        y = torch.distributions.dirichlet.Dirichlet(torch.tensor([0.3, 0.3])).rsample((3,))
        torch.rand(4)
    assert x.dtype == torch.float32 and x.tolist() == pytest.approx([0.1, 0.9])
    assert tuple(y.shape) == (3, 2) and calls.count == 2
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.distributions.Dirichlet(torch.tensor([1.0, 1.0])).sample().shape == (2,)


def test_jax_dirichlet_eager_and_inside_jit_and_scan():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    @jax.jit
    def noisy(key, p):
        def body(c, k):
            return c, jax.random.dirichlet(k, jnp.full((3,), 0.3))
        _, ns = jax.lax.scan(body, 0, jax.random.split(key, 2))
        return p * 0 + ns

    draws = [np.array([0.2, 0.3, 0.5]), np.array([0.6, 0.2, 0.2]), np.array([1.0, 0.0, 0.0])]
    key = jax.random.key(0)
    real = noisy(key, jnp.ones(3))  # compiled outside: the real sampler
    with intercept.jax_dirichlet(draws) as calls:
        e = jax.random.dirichlet(key, jnp.full((3,), 0.3))
        inside = noisy(key, jnp.ones(3))
        jax.effects_barrier()
    assert np.allclose(e, draws[0]) and np.allclose(inside, np.stack(draws[1:])) and calls.count == 3
    assert np.allclose(noisy(key, jnp.ones(3)), real)  # the intercepting compilation is not reused outside


def test_jax_keys_replace_the_clock_seed():
    jax = pytest.importorskip("jax")
    import time

    with intercept.jax_keys([42, 7]) as calls:
        k1 = jax.random.PRNGKey(int(time.time()))
        k2 = jax.random.key(int(time.time()))
    assert (np.asarray(k1) == np.asarray(jax.random.PRNGKey(42))).all()
    assert (np.asarray(jax.random.key_data(k2)) == np.asarray(jax.random.key_data(jax.random.key(7)))).all()
    assert calls.count == 2 and jax.random.PRNGKey(1).shape == (2,)
