"""EGGROLL: low-rank evolution strategies (spec: shared/spec/eggroll.md), JAX + optax."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import optax

from harness import tap


@dataclasses.dataclass(frozen=True)
class ESConfig:
    population: int
    sigma: float
    rank: int = 1
    group_size: int = 0
    noise_reuse: int = 0  # 0: one fixed noise set; R: epochs (0..R-1), (R..2R-1)... share noise

    def __post_init__(self):
        if self.population < 2 or self.population % 2:
            raise ValueError(f"population must be even and >= 2, got {self.population}")
        if self.group_size and (self.group_size % 2 or self.population % self.group_size):
            raise ValueError(f"group_size must be even and divide the population, got {self.group_size}")
        if self.rank < 1 or not self.sigma > 0 or self.noise_reuse < 0:
            raise ValueError(f"need rank >= 1, sigma > 0, noise_reuse >= 0: {self}")


def perturbed_linear(x, w, noise):
    """x W^T for one member, perturbed: low rank (A, B) -> x W^T + (x B) A^T, full rank (E,) -> x (W + E)^T."""
    if noise is None:
        return x @ w.T
    if len(noise) == 2:
        a, b = noise
        return x @ w.T + (x @ b) @ a.T
    return x @ (w + noise[0]).T


def perturbed_bias(bias, noise):
    return bias if noise is None else bias + noise[0]


def normalize_fitness(fitness, group_size):
    """Centre by the group's mean (G = 0: the whole population), divide by the global std."""
    n = fitness.shape[0]
    g = group_size or n
    centred = (fitness.reshape(n // g, g) - fitness.reshape(n // g, g).mean(axis=1, keepdims=True)).reshape(n)
    return centred / jnp.sqrt(fitness.var() + 1e-5)


class EGGROLL:
    """``apply_fn(params, noise, x)`` runs the user's model with ``noise[name]`` for each perturbed
    parameter (use perturbed_linear / perturbed_bias); ``fitness_fn(outputs, y)`` -> scalar, higher is better.
    ``roles[name]``: "lowrank", "fullrank" or "excluded"."""

    def __init__(self, config, roles, apply_fn, fitness_fn, optimizer):
        self.cfg, self.roles, self.apply_fn, self.fitness_fn, self.tx = config, dict(roles), apply_fn, fitness_fn, optimizer
        self.population_fitness = jax.jit(self._population_fitness)
        self.update = jax.jit(self._update)

    def thread_noise(self, key, epoch, thread_id, shape, role):
        cfg = self.cfg
        tau = 0 if cfg.noise_reuse == 0 else epoch // cfg.noise_reuse
        member = jax.random.fold_in(jax.random.fold_in(key, tau), thread_id // 2)
        sign = jnp.where(thread_id % 2 == 0, 1.0, -1.0)
        if role == "lowrank":
            a, b = shape
            z = jax.random.normal(member, (a + b, cfg.rank))
            return (cfg.sigma * sign / math.sqrt(cfg.rank)) * z[b:], z[:b]
        return (cfg.sigma * sign * jax.random.normal(member, shape),)

    def _noise(self, params, es_key, epoch, thread_id):
        names = sorted(params)
        keys = dict(zip(names, jax.random.split(es_key, len(names))))
        return {n: self.thread_noise(keys[n], epoch, thread_id, params[n].shape, self.roles[n])
                for n in names if self.roles[n] != "excluded"}

    def _population_fitness(self, params, es_key, epoch, data):
        def member(thread_id):
            noise = self._noise(params, es_key, epoch, thread_id)
            return self.fitness_fn(self.apply_fn(params, noise, data["x"]), data["y"])
        return tap("eggroll.fitness.raw", jax.vmap(member)(jnp.arange(self.cfg.population)))

    def _update(self, params, opt_state, fitness, es_key, epoch):
        n = self.cfg.population
        f = tap("eggroll.fitness.shaped", normalize_fitness(fitness, self.cfg.group_size))
        noise = jax.vmap(lambda t: self._noise(params, es_key, epoch, t))(jnp.arange(n))
        grads = {}
        for name, nz in noise.items():
            if len(nz) == 2:
                grads[name] = -jnp.einsum("n,nir,njr->ij", f, nz[0], nz[1]) / math.sqrt(n)
            else:
                grads[name] = -jnp.tensordot(f, nz[0], axes=1) / math.sqrt(n)
        tap("eggroll.grad", grads)
        trainable = {k: params[k] for k in grads}
        updates, opt_state = self.tx.update(grads, opt_state, trainable)
        return {**params, **optax.apply_updates(trainable, updates)}, opt_state

    def init(self, params):
        return self.tx.init({k: v for k, v in params.items() if self.roles[k] != "excluded"})

    def step(self, params, opt_state, es_key, epoch, data):
        fitness = self.population_fitness(params, es_key, epoch, data)
        params, opt_state = self.update(params, opt_state, fitness, es_key, epoch)
        return params, opt_state, fitness
