"""EGGROLL sharded over devices / processes against the single-process run (spec: shared/spec/eggroll.md).

One component carries a port's sharded run (signature and record layout: reference/eggroll/sharded/spec.py):

    eggroll.sharded_epochs(shards, params, es_key, data, configs, epochs, steps=None)
        -> {config name: [record per epoch]},  record = {"noise", "forward", "fitness", "shaped", "grads", "params"}

``shards`` None is the port's ordinary single-process run; ``shards`` S splits the population over S devices
(JAX) or processes (torch.distributed), and every per-member output comes back gathered in global member order.
The references start their process group / mesh once and reuse it; ``steps`` is how the negative controls
below plant the classic sharding bugs in the references (a port may ignore it).

Checks (``kind="property"``: each implementation's sharded run at S = 1, 2, 4 against its OWN single-process
run, so the float32 references are judged on float32 numbers):
    eggroll.sharded.noise       A, B and E of every member, bit for bit (keys and draws do not depend on S)
    eggroll.sharded.forward     network outputs and fitness F of every member
    eggroll.sharded.fitness     shaped fitness over the WHOLE population (groups that do / do not straddle shards)
    eggroll.sharded.update      the ES gradient after the all-reduce
    eggroll.sharded.trajectory  parameters after each of 3 epochs (SGD with momentum: replicated state)
    eggroll.sharded.frameworks  the sharded runs across implementations: JAX-sharded vs torch-distributed vs the
                                float64 oracle's simulated shards (kind "pair")
N = 12 members: S = 4 gives 3 members per shard, so a shard boundary splits an antithetic pair; G = 4 groups
straddle the shards at S = 2 and 4, G = 6 groups align with S = 2 shards.
"""

from __future__ import annotations

import numpy as np

from checks._common import U32, es_config, es_key, mlp_problem
from harness.base import Check, Control, Exact, Tolerance

SHARDS = (1, 2, 4)
EPOCHS = 3
POPULATION = 12
SGD_MOMENTUM = {"name": "sgd", "lr": 0.2, "momentum": 0.9, "nesterov": False}
GRID = ((0, 1), (4, 0), (6, 2))  # (group size G, noise reuse R)


def _inputs(seed):
    params, data = mlp_problem(np.random.default_rng(seed))
    configs = {f"G{g}_R{r}": es_config(POPULATION, g, r, SGD_MOMENTUM) for g, r in GRID}
    # key words with the high bits set (seed 0 would give [0, 0], under which a mis-masked key passes)
    return {"params": params, "data": data, "es_key": es_key(U32 - (seed & U32)), "configs": configs, "epochs": EPOCHS,
            "shards": list(SHARDS), "token": f"seed{seed}"}


# One run per implementation serves every check: (single-process, {S: sharded}) memoised on the component
# object (kept alive with the entry, so its id cannot be reused) and the case token.
_MEMO: dict = {}


def _runs(c, case):
    fn = c["eggroll.sharded_epochs"]
    key = (id(fn), c.framework, case["token"])
    hit = _MEMO.get(key)
    if hit is None or hit[0] is not fn:
        args = (case["params"], case["es_key"], case["data"], case["configs"], case["epochs"])
        try:
            value = (fn(None, *args), {f"S{s}": fn(int(s), *args) for s in case["shards"]})
        except Exception as e:  # noqa: BLE001 - remembered: a failed group start is not retried per check
            value = e
        if len(_MEMO) > 32:
            _MEMO.clear()
        hit = _MEMO[key] = (fn, value)
    if isinstance(hit[1], Exception):
        raise hit[1]
    return hit[1]


def _pick(runs, field):
    return {cfg: [epoch[field] for epoch in epochs] for cfg, epochs in runs.items()}


def _property(*fields):
    def run(c, case):
        single, sharded = _runs(c, case)
        want = {f: _pick(single, f) for f in fields}
        return ({s: {f: _pick(r, f) for f in fields} for s, r in sharded.items()},
                {s: want for s in sharded})
    return run


def _run_frameworks(c, case):
    return _runs(c, case)[1]


# -------------------------------------------------------------------------------- planted sharding bugs
# Module-level functions (the torch ranks import them by name); each replaces one step of
# reference/eggroll/sharded/steps.py.


def pairs_from_zero(ids):
    """Every shard numbers its pairs from 0: k = local index // 2 (shards draw duplicate noise)."""
    ids = np.asarray(ids, np.int64)
    local = ids - ids[0]
    return (local // 2).astype(np.int32), np.where(ids % 2 == 0, 1.0, -1.0)


def pairs_within_shard(ids):
    """Pairs assumed whole inside a shard: local members (2j, 2j + 1) paired, sign from the local index --
    wrong when a shard boundary splits an antithetic pair (N / S odd)."""
    ids = np.asarray(ids, np.int64)
    j = np.arange(ids.size)
    return (ids[0] // 2 + j // 2).astype(np.int32), np.where(j % 2 == 0, 1.0, -1.0)


def key_folded_with_rank(es_key, rank):
    """Each shard derives its keys from fold_in(es_key, rank) (a per-rank seed)."""
    from reference.rng import np_ref

    return np.asarray(np_ref.fold_in(np.asarray(es_key, np.uint32), int(rank)), np.uint32).reshape(2)


def shape_per_shard(comm, fitness_local, group_size, shape_fitness):
    """Fitness normalised on each shard's own members (no all-gather): local mean and variance."""
    g = group_size
    if isinstance(g, (int, np.integer)) and g and fitness_local.shape[0] % g:
        g = 0  # groups larger than the shard: the shard's mean (a traced G, in JAX, shapes partial groups)
    return shape_fitness(fitness_local, g)


def reduce_mean_again(comm, partial):
    """Gradients summed over ranks and then averaged again (DDP-style mean on an already global sum)."""
    return comm.all_reduce_sum(partial) / comm.size


def reduce_none(comm, partial):
    """Gradients never all-reduced: each rank steps with its own shard's share."""
    return partial


def _with(**steps):
    def patch(orig):
        def mutant(shards, params, es_key, data, configs, epochs, steps_=None):
            return orig(shards, params, es_key, data, configs, epochs, steps=steps)
        return mutant
    return {"eggroll.sharded_epochs": patch}


def _control(name, description, target, against="invariant", **steps):
    return Control(name, description, _with(**steps), target=target, against=against)


# Every per-member leaf of a correct sharded run equals the single-process one up to float32 rounding: the
# per-member work is identical and only the sums change order (all-gather then shape; S partial sums, then
# an all-reduce, instead of one sum over N), a few ulp of the result -- inside the float32 policy.
_COMPONENTS = ("eggroll.sharded_epochs",)
_DESC = "at S = 1, 2, 4 shards against the same implementation's single-process run"

CHECKS = [
    Check(
        name="eggroll.sharded.noise", components=_COMPONENTS, inputs=_inputs, run=_property("noise"),
        mode=Exact(), kind="property", fixture=False,
        description="every member's low-rank A, B and full-rank E, bit for bit, " + _DESC,
        controls=(
            _control("pairs_from_zero", "every shard numbers its pairs from 0 (duplicate noise across shards)",
                     "torch", pairs=pairs_from_zero),
            _control("boundary_splits_pair", "a shard boundary splits an antithetic pair (N / S odd) and the "
                     "shard pairs its local members", "torch", pairs=pairs_within_shard),
            _control("key_folded_with_rank", "noise keys folded with the rank", "jax",
                     shard_key=key_folded_with_rank),
        ),
    ),
    Check(
        name="eggroll.sharded.forward", components=_COMPONENTS, inputs=_inputs, run=_property("forward", "fitness"),
        mode=Tolerance(), kind="property", fixture=False,
        description="every member's network outputs and fitness F " + _DESC,
        controls=(
            _control("pairs_from_zero", "every device numbers its pairs from 0", "jax", pairs=pairs_from_zero),
            _control("key_folded_with_rank", "noise keys folded with the rank", "torch",
                     shard_key=key_folded_with_rank),
        ),
    ),
    Check(
        name="eggroll.sharded.fitness", components=_COMPONENTS, inputs=_inputs, run=_property("shaped"),
        mode=Tolerance(), kind="property", fixture=False,
        description="shaped fitness over the WHOLE population (G = 0, 4 straddling shards, 6 aligned at S = 2) "
                    + _DESC,
        controls=(
            _control("per_shard_fitness", "fitness normalised per shard (local mean and variance)", "torch",
                     shape=shape_per_shard),
        ),
    ),
    Check(
        name="eggroll.sharded.update", components=_COMPONENTS, inputs=_inputs, run=_property("grads"),
        mode=Tolerance(), kind="property", fixture=False,
        description="the ES gradient after the all-reduce (low rank w1, w2; full rank b1, b2) " + _DESC,
        controls=(
            _control("mean_after_sum", "gradients summed over ranks, then averaged again", "torch",
                     reduce=reduce_mean_again),
            _control("not_all_reduced", "gradients not all-reduced (each device steps on its share)", "jax",
                     reduce=reduce_none),
        ),
    ),
    Check(
        name="eggroll.sharded.trajectory", components=_COMPONENTS, inputs=_inputs, run=_property("params"),
        mode=Tolerance(), kind="property", fixture=False,
        description=f"parameters after each of {EPOCHS} epochs (SGD momentum 0.9, G x R in {list(GRID)}) " + _DESC,
        controls=(
            _control("per_shard_fitness", "fitness normalised per device", "jax", shape=shape_per_shard),
            _control("not_all_reduced", "gradients not all-reduced (each rank steps on its share)", "torch",
                     reduce=reduce_none),
            _control("mean_after_sum", "gradients summed over shards, then averaged again", "numpy",
                     reduce=reduce_mean_again),
        ),
    ),
    Check(
        name="eggroll.sharded.frameworks", components=_COMPONENTS, inputs=_inputs, run=_run_frameworks,
        mode=Tolerance(), fixture=False,
        description="the sharded runs (S = 1, 2, 4; noise, outputs, fitness, gradients, parameters) across "
                    "implementations: JAX shard_map vs torch.distributed vs the float64 oracle's simulated shards",
        controls=(
            _control("key_folded_with_rank", "torch ranks fold the rank into the noise keys", "torch",
                     against="numpy", shard_key=key_folded_with_rank),
            _control("boundary_splits_pair", "JAX devices pair their local members across a split pair", "jax",
                     against="torch", pairs=pairs_within_shard),
        ),
    ),
]
