"""Glue: the library's own entry points reached as harness components (no change to the library)."""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax

from harness import Implementation

from .drifted import DriftedEGGROLL
from .eggroll import EGGROLL, ESConfig, normalize_fitness, perturbed_bias, perturbed_linear


def mlp(params, noise, x):  # the harness's model (checks/eggroll/trajectory.py: eggroll.trajectory) in the library's layers
    h = jnp.tanh(perturbed_linear(x, params["w1"], noise.get("w1")) + perturbed_bias(params["b1"], noise.get("b1")))
    return ((perturbed_linear(h, params["w2"], noise.get("w2")) + perturbed_bias(params["b2"], noise.get("b2")))
            * params["out_scale"])


@functools.cache
def _es(cls, cfg, roles, lr):  # one compiled library instance per config
    return cls(cfg, dict(roles), mlp, lambda out, y: -jnp.mean((out - y) ** 2), optax.sgd(lr))


def epoch(params, opt_state, es_key, t, data, config, cls=EGGROLL):
    opt = config["optimizer"]
    assert opt["name"] == "sgd" and not opt["momentum"], "this library's trainer uses plain SGD"
    cfg = ESConfig(config["population"], config["sigma"], config["rank"], config["group_size"], config["noise_reuse"])
    es = _es(cls, cfg, tuple(sorted(config["roles"].items())), opt["lr"])
    params = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    state = es.init(params) if opt_state is None else opt_state
    return es.step(params, state, jax.random.wrap_key_data(jnp.asarray(es_key, jnp.uint32)), t, data)


def _optimizer(opt):
    if opt["name"] == "sgd":
        return optax.sgd(opt["lr"], opt["momentum"] or None, opt.get("nesterov", False))
    return optax.adamw(opt["lr"], opt["b1"], opt["b2"], opt["eps"], weight_decay=opt.get("weight_decay", 0.0))


@functools.cache
def _es_for(cls, cfg, roles, opt, apply_fn, fitness_fn):  # the caller's model: members' W + A B^T / P + E
    grow = lambda v, nz: v + nz[0] @ nz[1].T if len(nz) == 2 else v + nz[0]
    model = lambda p, noise, x: apply_fn({k: grow(v, noise[k]) if k in noise else v for k, v in p.items()})
    return cls(cfg, dict(roles), model, lambda out, y: fitness_fn(out), _optimizer(dict(opt)))


def step(params, apply_fn, fitness_fn, es_key, t, config, opt_state=None, cls=EGGROLL):
    cfg = ESConfig(config["population"], config["sigma"], config["rank"], config["group_size"], config["noise_reuse"])
    es = _es_for(cls, cfg, tuple(sorted(config["roles"].items())), tuple(sorted(config["optimizer"].items())),
                 apply_fn, fitness_fn)
    params = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    state = es.init(params) if opt_state is None else opt_state
    return es.step(params, state, jax.random.wrap_key_data(jnp.asarray(es_key, jnp.uint32)), t, {"x": None, "y": None})


COMPONENTS = {
    "eggroll.epoch": epoch,
    "eggroll.step": step,
    "eggroll.forward": lambda x, w, a, b: jax.vmap(lambda xi, ai, bi: perturbed_linear(xi, w, (ai, bi)))(x, a, b),
    "eggroll.shape_fitness": lambda f, g: normalize_fitness(jnp.asarray(f), int(g)),
}
PORT = Implementation("eggroll_jax", "jax", COMPONENTS)
DRIFTED = dataclasses.replace(PORT, name="eggroll_jax_drifted", components={
    **COMPONENTS, "eggroll.epoch": functools.partial(epoch, cls=DriftedEGGROLL),
    "eggroll.step": functools.partial(step, cls=DriftedEGGROLL)})
