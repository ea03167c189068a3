"""EGGROLL sharded over S JAX devices (``jax.shard_map`` on a 1-D ``Mesh``), JAX (+ optax) reference.

    sharded_epochs(shards, params, es_key, data, configs, epochs, steps=None)
        -> {config name: [record of epoch t for t < epochs]}          (contract: spec.py)

``shards`` None runs the single-process JAX reference (one device, the computation of ``jax_ref.epoch``);
``shards`` S runs one epoch as a ``shard_map`` over a mesh of S devices with axis ``"pop"``: each device
holds N / S members (``steps``), all-gathers F before shaping (``lax.all_gather``), all-reduces the
partial gradients once (``lax.psum``) and applies the same optax step (parameters and optimiser state
replicated). Per-member outputs come back sharded over ``"pop"``, i.e. gathered in global member order.

On CPU the devices are host devices: XLA_FLAGS=--xla_force_host_platform_device_count=4 must be set before
JAX initialises its backend (``harness.numerics.pin`` does it when nothing else asked for a device count).
"""

from __future__ import annotations

import functools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from reference.eggroll import jax_ref
from reference.eggroll.config import static_key, trainable_role
from reference.eggroll.sharded import steps as plan_

AXIS = "pop"


def _mlp_outputs(params, noise, data):
    """Every member's network output out_scale * (W2 tanh(W1 x + b1) + b2), (N, M, O) (jax_ref._mlp_fitness)."""
    x = data["x"]
    n = jax.tree_util.tree_leaves(noise)[0].shape[0]
    h = jnp.broadcast_to(x, (n,) + x.shape)
    h = jnp.tanh(jax_ref._linear(h, params["w1"], noise.get("w1")) + jax_ref._bias(params["b1"], noise.get("b1")))
    return (jax_ref._linear(h, params["w2"], noise.get("w2")) + jax_ref._bias(params["b2"], noise.get("b2"))) \
        * params["out_scale"]


def _partial_update(shaped, noise, population):
    """This shard's share of the ES gradient, scaled by the WHOLE population N (jax_ref's formulas)."""
    if len(noise) == 2:
        return -jnp.float32(math.sqrt(population)) * jnp.einsum("nir,njr->ij", shaped[:, None, None] * noise[0],
                                                                 noise[1]) / population
    return -jnp.tensordot(shaped, noise[0], axes=(0, 0)) / jnp.float32(math.sqrt(population))


def _epoch_body(cfg, tx, params, opt_state, key, t, noise_reuse, group_size, data, k, s, member_pair, shape,
                reduce):
    names = sorted(params)
    tau = jax_ref.noise_epoch(t, noise_reuse)
    keys = jax_ref._member_keys(key, len(names), tau.astype(jnp.uint32), k.astype(jnp.uint32))
    noise = jax_ref._all_noise(keys, s, {n: tuple(params[n].shape) for n in names}, cfg, member_pair)
    out = _mlp_outputs(params, noise, data)
    fit = -jnp.mean((out - data["y"]) ** 2, axis=(1, 2))
    f = shape(fit, group_size)
    grads = {name: reduce(_partial_update(f, nz, cfg["population"])) for name, nz in noise.items()}
    trainable = {name: params[name] for name in grads}
    updates, opt_state = tx.update(grads, opt_state, trainable)
    new = dict(params)
    new.update(optax.apply_updates(trainable, updates))
    return new, opt_state, (noise, out, fit, f, grads)


@functools.cache
def _single_fn(cfg_key):
    cfg = json.loads(cfg_key)
    tx = jax_ref._make_optimizer(cfg["optimizer"])

    @jax.jit
    def run(params, opt_state, es_key, t, noise_reuse, group_size, data):
        k, s = jax_ref.pair_index_sign(cfg["population"])
        pairs = jnp.arange(cfg["population"] // 2, dtype=jnp.int32)  # one draw per pair, as jax_ref.epoch
        return _epoch_body(cfg, tx, params, opt_state, es_key, t, noise_reuse, group_size, data, pairs, s, k,
                           jax_ref._shape_fitness, lambda g: g)

    return run


class AxisComm:
    """Collectives of one shard inside ``shard_map`` over the mesh axis ``"pop"``."""

    def __init__(self, size, rows):
        self.size, self._rows = size, rows

    @property
    def rank(self):
        return jax.lax.axis_index(AXIS)

    def all_gather(self, x):
        return jax.lax.all_gather(x, AXIS, tiled=True)

    def all_reduce_sum(self, x):
        return jax.lax.psum(x, AXIS)

    def local(self, full):
        return full[self._rows]


def _mesh(shards):
    """A 1-D mesh of ``shards`` devices, or a clear error when JAX has fewer."""
    devices = jax.devices()
    if len(devices) < shards:
        raise RuntimeError(
            f"sharded eggroll (jax): {shards} shard(s) need {shards} JAX devices, this process has {len(devices)} "
            f"({devices[0].platform}); on CPU set XLA_FLAGS=--xla_force_host_platform_device_count={max(shards, 4)} "
            "before JAX initialises (harness.numerics.pin does it when called first)")
    return Mesh(np.array(devices[:shards]), (AXIS,))


@functools.cache
def _sharded_fn(cfg_key, shards, steps_items):
    cfg = json.loads(cfg_key)
    steps = dict(steps_items)
    tx = jax_ref._make_optimizer(cfg["optimizer"])

    def per_shard(params, opt_state, key, t, noise_reuse, group_size, data, k, s, rows):
        comm = AxisComm(shards, rows[0])
        n = k.shape[1]
        return _epoch_body(cfg, tx, params, opt_state, key[0], t, noise_reuse, group_size, data, k[0], s[0],
                           jnp.arange(n), lambda fit, g: steps["shape"](comm, fit, g, jax_ref._shape_fitness),
                           lambda g: steps["reduce"](comm, g))

    rep, pop = P(), P(AXIS)
    fn = jax.shard_map(per_shard, mesh=_mesh(shards),
                       in_specs=(rep, rep, pop, rep, rep, rep, rep, pop, pop, pop),
                       out_specs=(rep, rep, (pop, pop, pop, pop, rep)), check_vma=False)
    return jax.jit(fn)


def _numpy(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def _run(cfg, params, es_key, data, epochs, call):
    trainable = {n: params[n] for n in sorted(params) if trainable_role(cfg, n) != "excluded"}
    opt_state = jax_ref.optimizer_init(trainable, cfg["optimizer"])
    recs = []
    for t in range(epochs):
        params, opt_state, (noise, out, fit, f, grads) = call(params, opt_state, jnp.int32(t),
                                                              jnp.int32(cfg["noise_reuse"]),
                                                              jnp.int32(cfg["group_size"]))
        recs.append(_numpy(plan_.record(noise, out, fit, f, grads, params)))
    return recs


def sharded_epochs(shards, params, es_key, data, configs, epochs, steps=None):
    """``epochs`` EGGROLL epochs per config, single-device (shards None) or over ``shards`` devices; every
    per-member output gathered in global member order. Returns {config name: [record per epoch]}."""
    steps = plan_.resolve(steps)
    params = {k: jnp.asarray(np.asarray(v), jnp.float32) for k, v in sorted(params.items())}
    data = {k: jnp.asarray(np.asarray(data[k]), jnp.float32) for k in ("x", "y")}
    es_key = (np.asarray(es_key).astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    out = {}
    for name, config in configs.items():
        cfg = jax_ref.validate_config(config)
        s = plan_.validate_shards(shards, cfg["population"])
        static = static_key(dict(cfg, noise_reuse=0, group_size=0))  # R and G traced: one compile serves all
        if s is None:
            fn = _single_fn(static)
            key = jnp.asarray(es_key)
            call = lambda p, o, t, r, g, fn=fn, key=key: fn(p, o, key, t, r, g, data)
        else:
            ids, k, sg = plan_.plan(s, cfg["population"], steps)
            keys = np.stack([np.asarray(steps["shard_key"](es_key, r), np.uint32) for r in range(s)])
            rows = np.arange(ids.size, dtype=np.int32).reshape(ids.shape)
            traced = tuple((n, steps[n]) for n in ("reduce", "shape"))  # the host-side steps do not recompile
            fn = _sharded_fn(static, s, traced)
            args = (jnp.asarray(keys), jnp.asarray(k, jnp.int32), jnp.asarray(sg, jnp.float32), jnp.asarray(rows))
            call = lambda p, o, t, r, g, fn=fn, a=args: fn(p, o, a[0], t, r, g, data, a[1], a[2], a[3])
        out[name] = _run(cfg, params, es_key, data, int(epochs), call)
    return out

