"""The cost of ``harness.tap`` outside a parity run, side by side in one process.

Claims measured (ratios of medians of per-round paired times, rounds interleaved, order shuffled):
- jit: a jitted training-like step (``lax.scan`` over S steps of a small MLP: forward, loss, gradient,
  update) with 4 taps per step, compiled OUTSIDE a recording, against the same function without taps:
  ratio t_tapped / t_plain (the tap is decided at trace time: no callback is staged, so ~1.0 is the claim).
- jit_recording: the same tapped function compiled and run INSIDE ``recording()`` (every tap a host
  callback), against the plain one: the price of a trace check, for information.
- eager: ns per ``tap(name, x)`` call outside a recording (a function call, one global read).
Writes ``bench/results/tap.json`` atomically. Run: ``./run setup && .venv/bin/python bench/bench_tap.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench._common import load_average, pin_cpus


def build(steps: int, width: int, tapped: bool):
    import jax
    import jax.numpy as jnp

    from harness import tap

    t = tap if tapped else (lambda name, v: v)

    def loss(p, x, y):
        h = jnp.tanh(x @ p["w1"])
        out = h @ p["w2"]
        return jnp.mean((out - y) ** 2)

    def step(p, xy):
        x, y = xy
        l, g = jax.value_and_grad(loss)(p, x, y)
        t("bench.loss", l)
        gn = t("bench.grad_norm", jnp.sqrt(sum(jnp.sum(v * v) for v in jax.tree.leaves(g))))
        p = jax.tree.map(lambda a, b: a - 1e-2 * b / jnp.maximum(gn, 1.0), p, g)
        t("bench.params", p)
        t("bench.lr", jnp.float32(1e-2))
        return p, l

    @jax.jit
    def run(p, xs, ys):
        return jax.lax.scan(step, p, (xs, ys))

    k = jax.random.split(jax.random.key(0), 4)
    p = {"w1": jax.random.normal(k[0], (width, width)) / width ** 0.5,
         "w2": jax.random.normal(k[1], (width, 8)) / width ** 0.5}
    xs = jax.random.normal(k[2], (steps, 32, width))
    ys = jax.random.normal(k[3], (steps, 32, 8))
    return run, (p, xs, ys)


def timed(fn, args, reps):
    import jax

    best = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best.append(time.perf_counter() - t0)
    return min(best)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "tap.json"))
    args = ap.parse_args()
    pinned = pin_cpus(1)
    import jax

    from harness import recording, tap
    from harness.numerics import pin

    pin()
    plain, a = build(args.steps, args.width, tapped=False)
    tapped, _ = build(args.steps, args.width, tapped=True)
    same_hlo = plain.lower(*a).as_text() == tapped.lower(*a).as_text()  # outside a recording
    jax.block_until_ready(plain(*a))
    jax.block_until_ready(tapped(*a))  # compiled outside a recording: no callbacks staged
    with recording() as tr:
        jax.block_until_ready(tapped(*a))  # compiled again inside one (its own jit-cache context)
    assert len(tr) == 4 * args.steps, len(tr)

    def rec_run(*xs):
        with recording():
            return tapped(*xs)

    variants = {"plain": lambda: timed(plain, a, args.reps), "tapped": lambda: timed(tapped, a, args.reps),
                "recording": lambda: timed(rec_run, a, max(1, args.reps // 2))}
    times = {k: [] for k in variants}
    rng = random.Random(0)
    for _ in range(args.rounds):
        order = list(variants)
        rng.shuffle(order)
        for k in order:
            times[k].append(variants[k]())
    paired = lambda k: statistics.median(x / y for x, y in zip(times[k], times["plain"]))

    x = jax.numpy.ones(3)
    n = 200_000
    t0 = time.perf_counter()
    for _ in range(n):
        tap("bench.eager", x)
    eager_ns = (time.perf_counter() - t0) / n * 1e9
    def identity(name, v):
        return v

    t0 = time.perf_counter()
    for _ in range(n):
        identity("bench.eager", x)
    identity_ns = (time.perf_counter() - t0) / n * 1e9

    result = {
        "claims": {
            "jit_tapped_over_plain": {"target": "<= 1.02 (no callback staged outside a recording)",
                                      "measured": round(paired("tapped"), 4),
                                      "identical_program": same_hlo},
            "jit_recording_over_plain": {"target": "information: the price of a trace check",
                                         "measured": round(paired("recording"), 2)},
            "eager_tap_ns_per_call": {"target": "information", "measured": round(eager_ns, 1),
                                      "identity_function_ns": round(identity_ns, 1)},
        },
        "median_seconds": {k: statistics.median(v) for k, v in times.items()},
        "config": {"steps": args.steps, "width": args.width, "taps_per_step": 4, "rounds": args.rounds,
                   "reps": args.reps, "pinned_cpus": pinned, "load_average": load_average(),
                   "jax": jax.__version__},
        "method": "median over rounds of the per-round paired ratio t_variant / t_plain; each time is the "
                  "best of --reps calls; rounds interleaved, order shuffled",
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh, indent=2)
    os.replace(tmp, args.out)
    for k, v in result["claims"].items():
        print(f"{k:28s} {v['measured']}")


if __name__ == "__main__":
    main()
