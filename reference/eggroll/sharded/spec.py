"""EGGROLL sharded over S shards: one component, ``eggroll.sharded_epochs``, that must give the single-process
numbers (spec eggroll.md: sharding is an execution detail). The plan every shard follows (members, pairs,
keys, the all-gather before shaping, one all-reduce SUM) is ``steps.py``; its three runs: ``np_ref`` (threads,
plain sums), ``jax_ref`` (``shard_map`` over S devices), ``torch_ref`` (a gloo group of ranks).

    sharded_epochs(shards, params, es_key, data, configs, epochs, steps=None)
        -> {config name: [record of epoch t for t < epochs]}

``shards`` None runs the single-process reference; ``steps`` (a dict) replaces plan steps (the harness's
negative controls hand in the classic sharding bugs). A record (``steps.record``)::

    {"noise": {name: {"A": (N, a, r), "B": (N, b, r)} | {"E": (N, *shape)}},   # trainable parameters
     "forward": (N, M, O) network outputs, "fitness": F (N,), "shaped": f (N,),
     "grads": {name: ES gradient}, "params": {name: parameters after the step}}

The network is the small MLP of ``np_ref._mlp_fitness`` (w1, b1, w2, b2, out_scale; roles in the config).
"""

AREA = "eggroll"


def sharded_epochs(shards, params, es_key, data, configs, epochs, steps=None):
    """``epochs`` EGGROLL epochs per config"""
    ...
