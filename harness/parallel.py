"""Beyond one process: JAX host devices for the sharded checks, and ``parity check --jobs N``.

``host_devices()`` asks XLA:CPU for ``HOST_DEVICES`` host devices (the sharded EGGROLL checks run meshes of
1, 2 and 4 devices) by adding ``--xla_force_host_platform_device_count`` to XLA_FLAGS; it must run before JAX
initialises its backend, so ``numerics.pin()`` calls it first. It never overrides a count the user set and
does nothing once the backend is up. Un-sharded programs still run on device 0 alone: the extra host devices
change no compiled program and no number (checked by the test suite).

``run_parallel`` runs the checks of a ``parity check`` / ``parity report`` in N worker processes (spawned, each
sets up the same implementations), one check (its pairs and its negative controls) per task, and returns the
results in catalogue order -- the same rows as the serial run. A worker that dies or exceeds the per-check
timeout is killed and replaced; its check gets one ``error`` row per pair and per control, naming the cause.
"""

from __future__ import annotations

import os
import queue
import time
import traceback

HOST_DEVICES = 4
_FLAG = "--xla_force_host_platform_device_count"


def host_devices(count: int = HOST_DEVICES) -> bool:
    """Request ``count`` XLA:CPU host devices unless a count is already set or JAX's backend is up.

    Returns True when the flag is (now) in XLA_FLAGS."""
    flags = os.environ.get("XLA_FLAGS", "")
    if _FLAG in flags:
        return True
    import sys

    if "jax" in sys.modules:
        try:
            from jax._src import xla_bridge

            if xla_bridge.backends_are_initialized():
                return False
        except Exception:  # noqa: BLE001 - an unknown JAX layout: leave the environment alone
            return False
    os.environ["XLA_FLAGS"] = f"{flags} {_FLAG}={count}".strip()
    return True


# ------------------------------------------------------------------------------- parity --jobs N

DEFAULT_TIMEOUT = 900.0  # seconds per check (PARITY_JOB_TIMEOUT or --job-timeout)
SETUP_TIMEOUT = 600.0  # seconds for a worker to import the frameworks and build the implementations


def _worker(wid, args, tasks, results):  # pragma: no cover - runs in the spawned workers
    try:
        from .cli import _setup

        checks, runner, _ = _setup(args)
        by_name = {c.name: c for c in checks}
    except BaseException:  # noqa: BLE001 - reported to the parent
        results.put((wid, None, "setup", traceback.format_exc()))
        return
    results.put((wid, None, "ready", None))
    while True:
        name = tasks.get()
        if name is None:
            return
        try:
            out = runner.run_all([by_name[name]], seed=args.seed, controls=not args.no_controls,
                                 parity=not args.controls_only)
            results.put((wid, name, "ok", out))
        except BaseException:  # noqa: BLE001 - the worker reports everything, SystemExit included, to the parent
            results.put((wid, name, "crash", traceback.format_exc()))


def _error_rows(check, runner, args, message):
    from .base import Result, Status
    from .runner import reproduce_command

    rows = []
    if not getattr(args, "controls_only", False):
        rows += [Result(check.name, check.component, p, Status.ERROR, seed=args.seed, message=message,
                        mode=check.mode.kind, components=list(check.components),
                        failing_components=list(check.components),
                        reproduce=reproduce_command(check, args.seed, runner.port_specs))
                 for p in runner.pairs(check)]
    if not getattr(args, "no_controls", False):
        rows += [Result(check.name, check.component, (f"{ctl.target}~{ctl.name}", ctl.against), Status.ERROR,
                        seed=args.seed, control=ctl.name, message=message, mode=check.mode.kind,
                        components=list(check.components))
                 for ctl in check.controls]
    return rows


def _last_line(text):
    lines = [x for x in (text or "").strip().splitlines() if x.strip()]
    return lines[-1].strip() if lines else "no message"


class _Worker:
    def __init__(self, ctx, wid, args, results):
        self.wid = wid
        self.tasks = ctx.Queue()
        # not a daemon: a check may start processes of its own (the torch.distributed group of the sharded checks)
        self.proc = ctx.Process(target=_worker, args=(wid, args, self.tasks, results), daemon=False,
                                name=f"parity-job-{wid}")
        self.proc.start()
        self.check = None  # the check it is running
        self.since = time.monotonic()
        self.ready = False

    def dead(self):
        """Exited? (its sentinel is ready: robust where the exit status was reaped elsewhere)."""
        from multiprocessing.connection import wait

        return bool(wait([self.proc.sentinel], timeout=0))

    def give(self, name):
        self.check, self.since = name, time.monotonic()
        self.tasks.put(name)

    def kill(self):
        import signal

        if not self.dead():  # never trust is_alive() alone: another handler may have reaped the status
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.join(timeout=5)
        self.tasks.cancel_join_thread()
        self.tasks.close()


def run_parallel(args, checks, runner, jobs: int, progress=None, timeout: float | None = None):
    """Run ``checks`` in ``jobs`` worker processes; results in catalogue order (as ``Runner.run_all``)."""
    import multiprocessing as mp

    timeout = float(timeout or os.environ.get("PARITY_JOB_TIMEOUT", DEFAULT_TIMEOUT))
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    order = [c.name for c in checks]
    by_name = {c.name: c for c in checks}
    pending = list(order)
    done: dict[str, list] = {}
    emitted = 0
    next_id = 0

    def spawn():
        nonlocal next_id
        next_id += 1
        return _Worker(ctx, next_id, args, results)

    def finish(name, rows):
        nonlocal emitted
        done[name] = rows
        while emitted < len(order) and order[emitted] in done:  # progress in catalogue order
            for r in done[order[emitted]]:
                if progress:
                    progress(r)
            emitted += 1

    def feed(w):
        w.check = None
        if pending:
            w.give(pending.pop(0))

    workers = {w.wid: w for w in (spawn() for _ in range(max(1, min(jobs, len(order)))))}
    try:
        while len(done) < len(order):
            try:
                wid, name, status, value = results.get(timeout=0.5)
            except queue.Empty:
                wid = None
            w = workers.get(wid)
            if w is not None:
                if status == "ready":
                    w.ready = True
                    feed(w)
                elif status == "setup":
                    raise RuntimeError(f"a --jobs worker could not set up: {_last_line(value)}")
                elif name == w.check:
                    rows = value if status == "ok" else _error_rows(
                        by_name[name], runner, args, f"PARITY: check {name} crashed its worker: {_last_line(value)}")
                    finish(name, rows)
                    feed(w)
            now = time.monotonic()
            for wid, w in list(workers.items()):
                dead = w.dead()
                if not w.ready and not dead and now - w.since > max(timeout, SETUP_TIMEOUT):
                    w.kill()  # a worker that cannot set up in time is as good as dead
                    dead = True
                late = w.check is not None and now - w.since > timeout
                if not (dead or late) or (dead and w.check is None and not pending):
                    continue
                why = (f"its worker process died (exit code {w.proc.exitcode})" if dead
                       else f"it ran past the per-check timeout of {timeout:g} s (PARITY_JOB_TIMEOUT); its worker "
                            "was killed")
                if w.check is not None:
                    finish(w.check, _error_rows(by_name[w.check], runner, args, f"PARITY: check {w.check}: {why}"))
                elif not w.ready and dead:
                    raise RuntimeError(f"a --jobs worker died or hung while setting up (exit code {w.proc.exitcode})")
                w.kill()
                del workers[wid]
                if pending:
                    nw = spawn()
                    workers[nw.wid] = nw
            if not workers and len(done) < len(order):
                raise RuntimeError("every --jobs worker is gone with checks left to run")
    finally:
        for w in workers.values():
            try:
                w.tasks.put(None)
            except Exception:  # noqa: BLE001 - a worker already gone cannot take the stop message; it is joined next
                pass
        for w in workers.values():
            w.proc.join(timeout=5)
            w.kill()
    return [r for name in order for r in done[name]]
