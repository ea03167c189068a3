"""EGGROLL sharded over S processes with torch.distributed (gloo), PyTorch reference.

    sharded_epochs(shards, params, es_key, data, configs, epochs, steps=None)
        -> {config name: [record of epoch t for t < epochs]}          (contract: spec.py)

``shards`` None runs the single-process torch reference (``torch_ref``'s functions, exactly as
``torch_ref.epoch``); ``shards`` S runs the population split over S ranks of a gloo process group
(``steps``: all-gather F before shaping, one all-reduce SUM of the partial gradients, the same
torch.optim step on every rank) and gathers every per-member output back in global member order.

Processes: one group of ``WORLD`` (4) ranks is started on first use with ``torch.multiprocessing`` (spawn,
a free local port) and kept for the life of the calling process; S = 1, 2, 4 run on the sub-groups of ranks
[0, S). Starting ranks costs seconds (each imports torch), a task on a started group milliseconds. A rank
that raises, dies or exceeds ``PARITY_DIST_TIMEOUT`` seconds (default 180; starting: at least 300) makes the
call raise with the rank's message; the group is then torn down (processes killed) and the next call starts a new one.
"""

from __future__ import annotations

import atexit
import datetime
import math
import os
import queue
import socket
import time
import traceback

import numpy as np
import torch

from reference.eggroll import _rng, torch_ref
from reference.eggroll.config import trainable_role
from reference.eggroll.sharded import steps as plan_

F32 = torch.float32
WORLD = 4


def _t(x, dtype=F32):
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(dtype)


def _mlp_outputs(params, noise, data):
    """Every member's network output out_scale * (W2 tanh(W1 x + b1) + b2), (N, M, O) (torch_ref._mlp_fitness)."""
    x = data["x"]
    n = next(iter(noise.values()))[0].shape[0]
    h = x.expand((n,) + tuple(x.shape)).contiguous()
    h = torch.tanh(torch_ref._linear(h, params["w1"], noise.get("w1")) + torch_ref._bias(params["b1"], noise.get("b1")))
    return (torch_ref._linear(h, params["w2"], noise.get("w2")) + torch_ref._bias(params["b2"], noise.get("b2"))) \
        * params["out_scale"]


def _noise(cfg, params, es_key, tau, k, s):
    """Noise of members with pair indices k and signs s: one draw per distinct pair (as torch_ref.epoch),
    every member takes its pair's draw -- correct also when a shard holds only one member of a pair."""
    names = sorted(params)
    pairs, member_pair = torch.unique(k, return_inverse=True)
    keys = torch_ref.member_keys(es_key, len(names), tau, pairs)
    out = {}
    for j, name in enumerate(names):
        role = trainable_role(cfg, name)
        shape = tuple(int(d) for d in params[name].shape)
        if role == "lowrank":
            z = _rng.torch_normal(keys[j], (shape[0] + shape[1], cfg["rank"]))[member_pair]
            out[name] = torch_ref._lowrank_from_z(z, s, shape[1], cfg["rank"], cfg["sigma"])
        elif role == "fullrank":
            out[name] = (torch_ref._fullrank_from_eps(_rng.torch_normal(keys[j], shape)[member_pair], s, cfg["sigma"]),)
    return out


def _partial_update(shaped, noise, population):
    """This shard's share of the ES gradient, scaled by the WHOLE population N (torch_ref's formulas)."""
    if len(noise) == 2:
        a, b = noise
        n, ai, r = a.shape
        fa = (shaped[:, None, None] * a).permute(1, 0, 2).reshape(ai, n * r)
        return -math.sqrt(population) * (fa @ b.permute(1, 0, 2).reshape(b.shape[1], n * r).T) / population
    return -torch.tensordot(shaped, noise[0], dims=([0], [0])) / math.sqrt(population)


def _epoch_body(cfg, params, state, es_key, t, k, s, data, shape, reduce, population):
    tau = torch_ref.noise_epoch(t, cfg["noise_reuse"])
    noise = _noise(cfg, params, es_key, tau, k, s)
    out = _mlp_outputs(params, noise, data)
    fit = -torch.mean((out - data["y"]) ** 2, dim=(1, 2))
    f = shape(fit)
    grads = {name: reduce(_partial_update(f, nz, population)) for name, nz in noise.items()}
    trainable = {name: params[name] for name in grads}
    if state is None:
        state = torch_ref.optimizer_init(trainable, cfg["optimizer"])
    new, state = torch_ref.optimizer_step(trainable, grads, state, cfg["optimizer"])
    params = dict(params)
    params.update(new)
    return params, state, plan_.record(noise, out, fit, f, grads, params)


def _numpy(tree):
    if isinstance(tree, dict):
        return {k: _numpy(v) for k, v in tree.items()}
    return tree.detach().cpu().numpy() if isinstance(tree, torch.Tensor) else tree


def _inputs(params, es_key, data):
    params = {k: _t(v) for k, v in sorted(params.items())}
    data = {"x": _t(data["x"]), "y": _t(data["y"])}
    return params, _rng._as_i32(torch.as_tensor(np.asarray(es_key).astype(np.int64))), data


def _single(params, es_key, data, cfg, epochs):
    """The single-process torch reference, instrumented (the computation of torch_ref.epoch)."""
    n = cfg["population"]
    k, s = torch_ref.pair_index_sign(n)
    recs, state = [], None
    with torch.no_grad():
        for t in range(epochs):
            params, state, rec = _epoch_body(
                cfg, params, state, es_key, t, k, s, data,
                lambda fit: torch_ref.shape_fitness(fit, cfg["group_size"]), lambda g: g, n)
            recs.append(_numpy(rec))
    return recs


class DistComm:
    """Collectives of one rank on a torch.distributed (gloo) group of ranks [0, size)."""

    def __init__(self, rank, size, group, rows):
        self.rank, self.size, self._group, self._rows = rank, size, group, rows

    def all_gather(self, x):
        import torch.distributed as dist

        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(self.size)]
        dist.all_gather(parts, x, group=self._group)
        return torch.cat(parts, dim=0)

    def all_reduce_sum(self, x):
        import torch.distributed as dist

        x = x.clone().contiguous()
        dist.all_reduce(x, op=dist.ReduceOp.SUM, group=self._group)
        return x

    def local(self, full):
        return full[self._rows]


def _shard_epochs(comm, steps, params, es_key, data, cfg, epochs, ids, k, s):
    """What rank ``comm.rank`` runs: ``epochs`` epochs on its members ``ids``; returns its local records."""
    n = cfg["population"]
    params, _, data = _inputs(params, es_key, data)
    key = _rng._as_i32(torch.as_tensor(np.asarray(steps["shard_key"](np.asarray(es_key, np.uint32), comm.rank),
                                                  np.uint32).astype(np.int64)))
    k, s = torch.as_tensor(np.asarray(k, np.int64)).to(torch.int32), _t(s)
    recs, state = [], None
    with torch.no_grad():
        for t in range(epochs):
            params, state, rec = _epoch_body(
                cfg, params, state, key, t, k, s, data,
                lambda fit: steps["shape"](comm, fit, cfg["group_size"], torch_ref.shape_fitness),
                lambda g: steps["reduce"](comm, g), n)
            recs.append(_numpy(rec))
    return recs


# ------------------------------------------------------------------------------- the process group


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, tasks, results):  # pragma: no cover - runs in the spawned ranks
    import torch.distributed as dist

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_float32_matmul_precision("highest")
    try:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=float(os.environ.get("PARITY_DIST_TIMEOUT", 180))))
        groups = {size: dist.new_group(list(range(size))) for size in range(1, world)}
        groups[world] = dist.group.WORLD
    except BaseException:  # noqa: BLE001 - reported to the parent
        results.put((None, rank, "error", traceback.format_exc()))
        return
    results.put((None, rank, "ready", None))
    parent = os.getppid()
    while True:
        try:
            task = tasks.get(timeout=2.0)
        except queue.Empty:
            if os.getppid() != parent:  # the parent was killed: never outlive it
                break
            continue
        if task is None:
            break
        tid, shards, args = task
        if rank >= shards:
            results.put((tid, rank, "idle", None))
            continue
        try:
            steps, params, es_key, data, cfg, epochs = args
            ids, k, s = plan_.plan(shards, cfg["population"], steps)
            rows = torch.arange(rank * ids.shape[1], (rank + 1) * ids.shape[1])
            comm = DistComm(rank, shards, groups[shards], rows)
            recs = _shard_epochs(comm, steps, params, es_key, data, cfg, epochs, ids[rank], k[rank], s[rank])
            results.put((tid, rank, "ok", recs))
        except BaseException as e:  # noqa: BLE001 - reported to the parent, which tears the group down
            results.put((tid, rank, "error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
    dist.destroy_process_group()


def _exited(proc) -> bool:
    """Has the process exited? Its sentinel says so even where its exit status was reaped elsewhere."""
    from multiprocessing.connection import wait

    return bool(wait([proc.sentinel], timeout=0))


class ProcessGroup:
    """``world`` gloo ranks started once (torch.multiprocessing, spawn), serving tasks until closed."""

    def __init__(self, world=WORLD, timeout=None, start_timeout=300.0):
        import torch.multiprocessing as mp

        self.world = world
        self.timeout = float(timeout or os.environ.get("PARITY_DIST_TIMEOUT", 180))
        ctx = mp.get_context("spawn")
        self._tasks = [ctx.Queue() for _ in range(world)]
        self._results = ctx.Queue()
        port = _free_port()
        self._procs = [ctx.Process(target=_rank_main, args=(r, world, port, self._tasks[r], self._results),
                                   daemon=True, name=f"parity-gloo-rank{r}") for r in range(world)]
        self._tid = 0
        for p in self._procs:
            p.start()
        try:
            self._collect(None, "starting the gloo process group", max(self.timeout, start_timeout))
        except BaseException:
            self.close()
            raise

    def _collect(self, tid, what, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        got = {}
        while len(got) < self.world:
            try:
                t, rank, status, value = self._results.get(timeout=0.25)
            except queue.Empty:
                dead = [(i, p.exitcode) for i, p in enumerate(self._procs) if _exited(p)]
                if dead:
                    raise RuntimeError(f"torch.distributed rank {dead[0][0]} died (exit code {dead[0][1]}) while "
                                       f"{what}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"torch.distributed group timed out after {timeout:g} s while {what} "
                                       f"(PARITY_DIST_TIMEOUT); ranks answered: {sorted(got)}") from None
                continue
            if t != tid:
                continue
            if status == "error":
                first = value.strip().splitlines()[0] if value else "error"
                raise RuntimeError(f"torch.distributed rank {rank} raised while {what}: {first}")
            got[rank] = value
        return got

    def run(self, shards, args):
        """Run one task on ranks [0, shards); the ranks' local records, in rank order."""
        if not self.alive():
            raise RuntimeError("torch.distributed group is closed")
        self._tid += 1
        for q in self._tasks:
            q.put((self._tid, shards, args))
        got = self._collect(self._tid, f"running {shards} shard(s)")
        return [got[r] for r in range(shards)]

    def alive(self):
        return not any(_exited(p) for p in self._procs)

    def close(self):
        for q in self._tasks:
            try:
                q.put(None)
            except Exception:  # noqa: BLE001 - a rank already gone cannot take the stop message; it is joined next
                pass
        for p in self._procs:
            p.join(timeout=2)
        for p in self._procs:
            if not _exited(p):
                try:
                    os.kill(p.pid, 9)  # SIGKILL, whatever is_alive() says
                except ProcessLookupError:
                    pass
                p.join(timeout=2)
        for q in self._tasks + [self._results]:
            q.cancel_join_thread()
            q.close()


_GROUP: ProcessGroup | None = None


def _group() -> ProcessGroup:
    """The process's gloo group, started on first use (and again after a failure)."""
    global _GROUP
    if _GROUP is None or not _GROUP.alive():
        if _GROUP is not None:
            _GROUP.close()
        _GROUP = None
        _GROUP = ProcessGroup()
    return _GROUP


def _close_group() -> None:
    global _GROUP
    if _GROUP is not None:
        _GROUP.close()
        _GROUP = None


atexit.register(_close_group)


def _sharded(shards, steps, params, es_key, data, cfg, epochs):
    if shards > WORLD:
        raise ValueError(f"sharded eggroll (torch): at most {WORLD} ranks, got shards={shards}")
    args = (steps, {k: np.asarray(v, np.float32) for k, v in params.items()}, np.asarray(es_key, np.uint32),
            {"x": np.asarray(data["x"], np.float32), "y": np.asarray(data["y"], np.float32)}, cfg, epochs)
    g = _group()
    try:
        per_rank = g.run(shards, args)
    except BaseException:
        _close_group()  # a rank may be stuck in a collective: never reuse the group
        raise
    return plan_.gather_records(per_rank)


def _to_numpy(x):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.to(torch.int64) if x.dtype == torch.int32 else x).numpy()
    return np.asarray(x)


def sharded_epochs(shards, params, es_key, data, configs, epochs, steps=None):
    """``epochs`` EGGROLL epochs per config, single-process (shards None) or over ``shards`` gloo ranks; every
    per-member output gathered in global member order. Returns {config name: [record per epoch]}."""
    steps = plan_.resolve(steps)
    params = {k: _to_numpy(v) for k, v in params.items()}
    data = {k: _to_numpy(data[k]) for k in ("x", "y")}
    es_key = (_to_numpy(es_key).astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    out = {}
    for name, config in configs.items():
        cfg = torch_ref.validate_config(config)
        s = plan_.validate_shards(shards, cfg["population"])
        if s is None:
            p, k, d = _inputs(params, es_key, data)
            out[name] = _single(p, k, d, cfg, int(epochs))
        else:
            out[name] = _sharded(s, steps, params, es_key, data, cfg, int(epochs))
    return out

