"""EGGROLL sharded over S shards, NumPy float64 oracle: the shards are threads, the collectives plain sums.

    sharded_epochs(shards, params, es_key, data, configs, epochs, steps=None)
        -> {config name: [record of epoch t for t < epochs]}

``shards`` None runs the single-process oracle (``np_ref``'s functions, as ``np_ref.epoch``); ``shards`` S
splits the population over S shards as ``steps`` describes (all-gather F before shaping, one
all-reduce SUM of the per-shard partial gradients, the optimiser step replicated) and gathers every
per-member output back in global member order. A record (``steps.record``)::

    {"noise": {name: {"A": (N, a, r), "B": (N, b, r)} | {"E": (N, *shape)}},   # trainable parameters
     "forward": (N, M, O) network outputs, "fitness": F (N,), "shaped": f (N,),
     "grads": {name: ES gradient}, "params": {name: parameters after the step}}

The network is the small MLP of ``np_ref._mlp_fitness`` (w1, b1, w2, b2, out_scale; roles in the config).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from reference.eggroll import np_ref
from reference.eggroll.config import trainable_role
from reference.eggroll.sharded import steps as plan_

F64 = np.float64


def _mlp_outputs(params, noise, data):
    """Every member's network output out_scale * (W2 tanh(W1 x + b1) + b2), (N, M, O) (np_ref._mlp_fitness)."""
    p = {k: np.asarray(v, F64) for k, v in params.items()}
    x = np.asarray(data["x"], F64)
    n = next(iter(noise.values()))[0].shape[0]
    h = np.broadcast_to(x, (n,) + x.shape)
    h = np.tanh(np_ref._linear(h, p["w1"], noise.get("w1")) + np_ref._bias(p["b1"], noise.get("b1")))
    return (np_ref._linear(h, p["w2"], noise.get("w2")) + np_ref._bias(p["b2"], noise.get("b2"))) * p["out_scale"]


def _noise(cfg, params, keys, signs):
    out = {}
    for j, name in enumerate(sorted(params)):
        role = trainable_role(cfg, name)
        if role == "lowrank":
            out[name] = np_ref.lowrank_noise(keys[j], signs, np.shape(params[name]), cfg["rank"], cfg["sigma"])
        elif role == "fullrank":
            out[name] = (np_ref.fullrank_noise(keys[j], signs, np.shape(params[name]), cfg["sigma"]),)
    return out


def _partial_update(shaped, noise, population):
    """This shard's share of the ES gradient: -sqrt(N) einsum(f A, B) / N (low rank) or -(1/sqrt N) sum f E,
    with N the WHOLE population (summing the shards' shares gives lowrank_update / fullrank_update)."""
    f = np.asarray(shaped, F64)
    if len(noise) == 2:
        return -math.sqrt(population) * np.einsum("nir,njr->ij", f[:, None, None] * noise[0], noise[1]) / population
    return -np.tensordot(f, noise[0], axes=(0, 0)) / math.sqrt(population)


def _step(cfg, params, state, grads):
    trainable = {name: np.asarray(params[name], F64) for name in grads}
    if state is None:
        state = np_ref.optimizer_init(trainable, cfg["optimizer"])
    new, state = np_ref.optimizer_step(trainable, grads, state, cfg["optimizer"])
    out = {k: np.asarray(v, F64) for k, v in params.items()}
    out.update(new)
    return out, state


def _single(params, es_key, data, cfg, epochs):
    """The single-process oracle, instrumented: the same computation as np_ref.epoch."""
    names, n = sorted(params), cfg["population"]
    k, s = np_ref.pair_index_sign(n)
    recs, state = [], None
    for t in range(epochs):
        keys = np_ref.member_keys(es_key, len(names), np_ref.noise_epoch(t, cfg["noise_reuse"]), k)
        noise = _noise(cfg, params, keys, s)
        out = _mlp_outputs(params, noise, data)
        fit = -np.mean((out - np.asarray(data["y"], F64)) ** 2, axis=(1, 2))
        f = np_ref.shape_fitness(fit, cfg["group_size"])
        grads = {m: np_ref.lowrank_update(f, *v) if len(v) == 2 else np_ref.fullrank_update(f, v[0])
                 for m, v in noise.items()}
        params, state = _step(cfg, params, state, grads)
        recs.append(plan_.record(noise, out, fit, f, grads, params))
    return recs


class ThreadComm:
    """Collectives between S threads (one per shard): all-gather and all-reduce SUM in rank order."""

    def __init__(self, rank, size, board, barrier, ids):
        self.rank, self.size, self._board, self._barrier, self._ids = rank, size, board, barrier, ids

    def _exchange(self, x):
        self._board[self.rank] = np.asarray(x, F64)
        self._barrier.wait()
        got = list(self._board)
        self._barrier.wait()
        return got

    def all_gather(self, x):
        return np.concatenate([np.atleast_1d(v) for v in self._exchange(x)], axis=0)

    def all_reduce_sum(self, x):
        got = self._exchange(x)
        total = got[0]
        for v in got[1:]:
            total = total + v
        return total

    def local(self, full):
        return np.asarray(full)[self._ids]


def _shard_epochs(comm, steps, params, es_key, data, cfg, epochs, ids, k, s):
    """What shard ``comm.rank`` runs: ``epochs`` epochs on its members ``ids``; returns its local records."""
    names, n = sorted(params), cfg["population"]
    key = steps["shard_key"](es_key, comm.rank)
    recs, state = [], None
    for t in range(epochs):
        keys = np_ref.member_keys(key, len(names), np_ref.noise_epoch(t, cfg["noise_reuse"]), k)
        noise = _noise(cfg, params, keys, s)
        out = _mlp_outputs(params, noise, data)
        fit = -np.mean((out - np.asarray(data["y"], F64)) ** 2, axis=(1, 2))
        f = steps["shape"](comm, fit, cfg["group_size"], np_ref.shape_fitness)
        grads = {m: steps["reduce"](comm, _partial_update(f, v, n)) for m, v in noise.items()}
        params, state = _step(cfg, params, state, grads)
        recs.append(plan_.record(noise, out, fit, f, grads, params))
    return recs


def _sharded(shards, steps, params, es_key, data, cfg, epochs):
    ids, k, s = plan_.plan(shards, cfg["population"], steps)
    board, barrier = [None] * shards, threading.Barrier(shards, timeout=120)
    results, errors = [None] * shards, []

    def run(r):
        try:
            comm = ThreadComm(r, shards, board, barrier, _local_rows(ids, r))
            results[r] = _shard_epochs(comm, steps, params, es_key, data, cfg, epochs, ids[r], k[r], s[r])
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(r,), daemon=True) for r in range(shards)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if real or errors:
        raise (real or errors)[0]
    return plan_.gather_records(results)


def _local_rows(ids, rank):
    """Positions of shard ``rank``'s members in the all-gathered (rank-ordered) population vector."""
    n = ids.shape[1]
    return np.arange(rank * n, (rank + 1) * n)


def sharded_epochs(shards, params, es_key, data, configs, epochs, steps=None):
    """``epochs`` EGGROLL epochs per config, single-process (shards None) or over ``shards`` shards; every
    per-member output gathered in global member order. Returns {config name: [record per epoch]}."""
    steps = plan_.resolve(steps)
    params = {k: np.asarray(v, F64) for k, v in params.items()}
    data = {"x": np.asarray(data["x"], F64), "y": np.asarray(data["y"], F64)}
    es_key = np.asarray(es_key, np.uint32)
    out = {}
    for name, config in configs.items():
        cfg = np_ref.validate_config(config)
        s = plan_.validate_shards(shards, cfg["population"])
        out[name] = (_single(params, es_key, data, cfg, int(epochs)) if s is None
                     else _sharded(s, steps, params, es_key, data, cfg, int(epochs)))
    return out

