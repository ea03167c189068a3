"""EGGROLL parity checks (spec: shared/spec/eggroll.md), one module per check group, in report order:
``noise`` (pairs and signs, reuse windows, A / B / E layout), ``forward``, ``fitness``, ``update`` (low- and
full-rank updates, the spec's invariants), ``optimizer``, ``trajectory``, ``stats`` (native samplers by
distribution) and ``config`` (validation).

Deterministic checks take the noise AS INPUT wherever they can, so a port that draws with native torch
randomness is still checked on everything except the draw (``eggroll.stats.noise`` covers the draw by
distribution). Components a port provides (see the README's porting guide for signatures and layouts):

    eggroll.noise_epoch(epoch, noise_reuse) -> tau
    eggroll.pair_index_sign(population) -> (k (N,), s (N,))
    eggroll.member_keys(es_key (2,), num_params, tau, pair_index (N,)) -> (P, N, 2) key words
    eggroll.lowrank_noise(keys (N, 2), signs (N,), (a, b), rank, sigma) -> (A (N, a, r) scaled, B (N, b, r))
    eggroll.fullrank_noise(keys (N, 2), signs (N,), shape, sigma) -> E (N, *shape) scaled
    eggroll.forward(x (N, M, b), W (a, b), A, B) -> (N, M, a)        x W^T + (x B) A^T
    eggroll.forward_xw(x (N, M, a), W (a, b), A, B) -> (N, M, b)     x W + (x A) B^T
    eggroll.shape_fitness(F (N,), group_size) -> f (N,)
    eggroll.lowrank_update(f, A, B) -> (a, b);  eggroll.fullrank_update(f, E) -> shape
    eggroll.optimizer_init(params, opt) -> state;  eggroll.optimizer_step(params, grads, state, opt) -> (params, state)
    eggroll.epoch(params, opt_state | None, es_key, epoch, data, config) -> (params, opt_state, fitness)
    eggroll.validate_config(config) -> config | ValueError

The random stream itself: ``checks/eggroll_rng.py``; sharded runs: ``checks/eggroll_sharded.py``.
"""

GROUPS = ("noise", "forward", "fitness", "update", "optimizer", "trajectory", "stats", "config")


def catalogue() -> list:
    """Every check of the groups above, in report order (``checks.MODULES`` lists the group modules)."""
    import importlib

    return [c for g in GROUPS for c in importlib.import_module(f"{__name__}.{g}").CHECKS]
