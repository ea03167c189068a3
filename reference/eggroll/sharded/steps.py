"""EGGROLL over S shards: the sharding plan, shared by the NumPy, JAX and torch sharded references.

Sharding is an execution detail: a sharded epoch must give the single-process numbers (spec eggroll.md).
What each shard does (members are a contiguous block of N / S; N / S may be odd, so a shard boundary may
split an antithetic pair, and a fitness group of G may straddle shards):

    ids      = members(rank, S, N)               global member indices of this shard
    k, s     = pairs(ids)                        k_i = i // 2, s_i = +1 / -1 from the GLOBAL index i
    key      = shard_key(es_key, rank)           the same es_key on every shard (never folded with the rank)
    noise    = member noise from fold_in(fold_in(split(key, P)[p], tau), k_i)   (per pair, as single-process)
    F_local  = population forward of the shard's members
    f_local  = shape(comm, F_local, G, shape_fitness)   shaped over the WHOLE population (all-gather F)
    g        = reduce(comm, partial)             partial = -(1/sqrt N) sum over local i of f_i E_i (N global);
                                                 all-reduce SUM, once
    then the same optimiser step on every shard (parameters and optimiser state replicated).

Each step is a plain function; ``steps`` (a dict) may replace any of them. The references use ``STEPS``;
the harness's negative controls hand in the classic sharding bugs. The index steps work on NumPy on the
host; ``shape`` and ``reduce`` are written with ``comm`` and arithmetic only, so one function serves NumPy
arrays, torch tensors and JAX tracers. ``comm`` offers ``rank``, ``size``, ``all_gather(x)`` (concatenate
along axis 0 in rank order), ``all_reduce_sum(x)`` and ``local(full)`` (this shard's rows of a
population-length array).
"""

from __future__ import annotations

import numpy as np

SHARD_COUNTS = (1, 2, 4)


def members(rank, shards, population):
    """Global member indices held by shard ``rank`` of ``shards``: a contiguous block of N / S."""
    n = population // shards
    return np.arange(rank * n, (rank + 1) * n, dtype=np.int64)


def pairs(ids):
    """(k, s) for global member indices: k_i = i // 2, s_i = +1 for even i, -1 for odd i."""
    ids = np.asarray(ids, np.int64)
    return (ids // 2).astype(np.int32), np.where(ids % 2 == 0, 1.0, -1.0)


def shard_key(es_key, rank):
    """The ES key a shard derives its member keys from: the same on every shard."""
    return np.asarray(es_key, np.uint32)


def shape(comm, fitness_local, group_size, shape_fitness):
    """Shaped fitness of this shard's members, over the whole population: all-gather F, shape, slice."""
    return comm.local(shape_fitness(comm.all_gather(fitness_local), group_size))


def reduce(comm, partial):
    """The ES gradient from per-shard partial sums (each already scaled by the GLOBAL -1/sqrt(N)): one SUM."""
    return comm.all_reduce_sum(partial)


STEPS = {"members": members, "pairs": pairs, "shard_key": shard_key, "shape": shape, "reduce": reduce}


def resolve(steps):
    """``STEPS`` with the given overrides; an unknown step name is an error."""
    steps = dict(steps or {})
    bad = sorted(set(steps) - set(STEPS))
    if bad:
        raise ValueError(f"sharded eggroll: unknown step(s) {', '.join(bad)} (known: {', '.join(STEPS)})")
    return {**STEPS, **steps}


def validate_shards(shards, population):
    """shards None (single process) or a positive integer dividing the population."""
    if shards is None:
        return None
    if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or shards < 1:
        raise ValueError(f"sharded eggroll: shards must be None or a positive integer, got {shards!r}")
    if population % int(shards):
        raise ValueError(f"sharded eggroll: shards={shards} must divide population={population}")
    return int(shards)


def plan(shards, population, steps):
    """Per-shard index tables on the host: ids (S, n), k (S, n) int32, s (S, n) float64."""
    ids = np.stack([np.asarray(steps["members"](r, shards, population), np.int64) for r in range(shards)])
    ks, ss = zip(*(steps["pairs"](row) for row in ids))
    return ids, np.stack([np.asarray(k, np.int32) for k in ks]), np.stack([np.asarray(s, np.float64) for s in ss])


def record(noise, forward, fitness, shaped, grads, params):
    """One epoch's gathered outputs, in global member order (the contract of eggroll.sharded_epochs)."""
    nz = {}
    for name, v in noise.items():
        nz[name] = {"A": v[0], "B": v[1]} if len(v) == 2 else {"E": v[0]}
    return {"noise": nz, "forward": forward, "fitness": fitness, "shaped": shaped, "grads": dict(grads),
            "params": dict(sorted(params.items()))}


def gather_records(per_shard):
    """Concatenate the shards' per-member leaves in rank order; gradients and parameters from shard 0."""
    first = per_shard[0]
    out = []
    for t, rec in enumerate(first):
        recs = [p[t] for p in per_shard]
        cat = lambda get, recs=recs: np.concatenate([get(r) for r in recs], axis=0)
        out.append({
            "noise": {m: {part: cat(lambda r, m=m, part=part: r["noise"][m][part]) for part in leaves}
                      for m, leaves in rec["noise"].items()},
            "forward": cat(lambda r: r["forward"]), "fitness": cat(lambda r: r["fitness"]),
            "shaped": cat(lambda r: r["shaped"]), "grads": rec["grads"], "params": rec["params"]})
    return out
