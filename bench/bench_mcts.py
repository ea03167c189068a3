"""Benchmark: simulations per second of the batched MCTS searches, side by side, in one run.

    /work/main/.venv/bin/python bench/bench_mcts.py [--quick] [--out bench/results/mcts.json]

Same game (clique game K_6, 4-clique, symmetric, E = 15), same table evaluator, same injected noise,
profile ``classic`` (the one mctx reproduces), for batch sizes 1, 16, 64 and 32 / 128 simulations:

* ``jax``   reference/mcts/search/jax_ref.py, compiled at XLA's default optimisation (jit, vmap over games, lax loops)
* ``mctx``  mctx.muzero_policy through reference/mcts/search/mctx_oracle.search_optimized
* ``torch`` reference/mcts/search/torch_ref.search (batched in lockstep, eager CPU)
* ``numpy`` reference/mcts/search/np_ref.search (the readable float64 oracle, one game at a time)

Before timing, every implementation's root visit counts are checked equal to the oracle's (a benchmark
of a search that computes something else would be meaningless). Compile time is reported separately
and excluded from the rates. Rate = batch x simulations / wall time (the best of >= 3 calls and >= 0.3 s of
calls: the machine is shared, the minimum is the least disturbed estimate).
Ratios: jax / mctx (target >= 1.0 from batch 16), torch / numpy, torch / jax.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from _common import pin_cpus

PINNED_CPUS = pin_cpus(1)  # before JAX starts: JAX, mctx and torch all get one CPU (see bench/_common.py)

from harness import numerics

numerics.pin()

import jax
import torch

from reference.mcts import config as C
from reference.mcts.game import np_ref as game_np
from reference.mcts.game import states as game_states
from reference.mcts.search import jax_ref as search_jax
from reference.mcts.search import np_ref as search_np
from reference.mcts.search import torch_ref as search_torch

GAME = C.GameConfig(6, 4, "symmetric")


def positions(batch: int, seed: int) -> dict:
    """``batch`` ongoing positions after 0..E/2 random moves."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < batch:
        s = game_states.initial_state(GAME, batch=None)
        for a in rng.permutation(GAME.num_edges)[: rng.integers(0, GAME.num_edges // 2)]:
            nxt = game_np.apply_move(s, np.int64(a), GAME)
            if nxt["outcome"] != 0:
                break
            s = nxt
        out.append(s)
    return game_states.stack(out)


def _timed(fn, repeats, min_total=0.3, max_runs=50):
    """Best (minimum) wall time of at least ``repeats`` calls, more while the total stays under
    ``min_total`` seconds: on a shared machine the minimum is the estimate least disturbed by other load."""
    times = []
    while len(times) < repeats or (sum(times) < min_total and len(times) < max_runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _visits(out):
    v = out["visits"]
    return v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


def run(batches, sims_list, repeats, numpy_max_sims):
    try:
        from reference.mcts.search import mctx_oracle
    except ImportError:  # pragma: no cover - mctx optional
        mctx_oracle = None
    torch.set_num_threads(1)
    rows = []
    for sims in sims_list:
        cfg = C.profile("classic", game=GAME, num_reads=sims)
        for b in batches:
            st = positions(b, seed=b * 1000 + sims)
            noise = search_np.sample_noise(b + sims, game_np.legal_moves(st, GAME), cfg)
            st_j = {k: jax.numpy.asarray(v) for k, v in st.items()}
            noise_j = jax.numpy.asarray(noise)
            st_t = {k: torch.as_tensor(v) for k, v in st.items()}
            noise_t = torch.as_tensor(noise)
            impls = {
                "jax": lambda: jax.block_until_ready(search_jax._run(st_j, noise_j, cfg, optimized=True)),
                "torch": lambda: search_torch.search(st_t, noise_t, cfg),
            }
            if mctx_oracle is not None:
                impls["mctx"] = lambda: jax.block_until_ready(mctx_oracle.search_optimized(st_j, noise_j, cfg))
            if b * sims <= numpy_max_sims:
                impls["numpy"] = lambda: search_np.search(st, noise, cfg)
            row = {"batch": b, "sims": sims}
            oracle = None
            for name, fn in impls.items():
                t = time.perf_counter()
                out = fn()  # first call: compile (jax, mctx) + the visit-count check
                first = time.perf_counter() - t
                if name == "numpy":
                    oracle = _visits(out)
                row[f"{name}_first_s"] = first
                row[f"_{name}_visits"] = _visits(out)
                sec = _timed(fn, 1 if name == "numpy" else repeats)
                row[f"{name}_sims_per_s"] = b * sims / sec
            if oracle is None:  # numpy skipped at this size: check against the torch search instead
                oracle = row["_torch_visits"]
            row["visits_equal"] = {n: bool(np.array_equal(row.pop(f"_{n}_visits"), oracle)) for n in impls}
            r = lambda a, c: row.get(f"{a}_sims_per_s", np.nan) / row.get(f"{c}_sims_per_s", np.nan)
            row["jax_over_mctx"] = r("jax", "mctx")
            row["torch_over_numpy"] = r("torch", "numpy")
            row["torch_over_jax"] = r("torch", "jax")
            rows.append(row)
            print(_fmt_row(row), flush=True)
    return rows


HEADER = ("| batch | sims | jax sims/s | mctx sims/s | jax/mctx | torch sims/s | numpy sims/s | torch/numpy "
          "| torch/jax | visits equal | compile jax / mctx (s) |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")


def _fmt(x, spec=".0f"):
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def _fmt_row(r):
    eq = "yes" if all(r["visits_equal"].values()) else "NO: " + ",".join(k for k, v in r["visits_equal"].items() if not v)
    return (f"| {r['batch']} | {r['sims']} | {_fmt(r.get('jax_sims_per_s'))} | {_fmt(r.get('mctx_sims_per_s'))} "
            f"| {_fmt(r['jax_over_mctx'], '.2f')} | {_fmt(r.get('torch_sims_per_s'))} "
            f"| {_fmt(r.get('numpy_sims_per_s'))} | {_fmt(r['torch_over_numpy'], '.2f')} "
            f"| {_fmt(r['torch_over_jax'], '.3f')} | {eq} "
            f"| {_fmt(r.get('jax_first_s'), '.1f')} / {_fmt(r.get('mctx_first_s'), '.1f')} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch 1 and 16, 32 simulations, 2 repeats")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--numpy-max-sims", type=int, default=16 * 128,
                    help="skip the numpy oracle above this many simulations per call (it is slow)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "mcts.json"),
                    help="results JSON, written atomically (tmp file + os.replace)")
    args = ap.parse_args(argv)
    batches, sims_list = ((1, 16), (32,)) if args.quick else ((1, 16, 64), (32, 128))
    repeats = 2 if args.quick else args.repeats
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# MCTS benchmark: K_{GAME.n}, {GAME.k}-clique {GAME.mode}, profile classic, table evaluator; "
          f"{platform.machine()} {os.cpu_count()} cpus, load avg {load:.1f}; jax {jax.__version__}, "
          f"torch {torch.__version__} (1 thread)")
    print(HEADER)
    rows = run(batches, sims_list, repeats, args.numpy_max_sims)
    ok = all(all(r["visits_equal"].values()) for r in rows)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"what": "MCTS simulations per second: jax vs mctx.muzero_policy, torch vs numpy and jax",
                   "game": {"n": GAME.n, "k": GAME.k, "mode": GAME.mode}, "profile": "classic",
                   "rows": rows, "visits_equal": ok,
                   "env": {"load_avg": load, "cpus": os.cpu_count(), "jax": jax.__version__,
                           "torch": torch.__version__, "torch_threads": 1, "pinned_cpus": PINNED_CPUS,
                           "quick": args.quick}},
                  fh, indent=1, default=float)
    os.replace(tmp, args.out)
    print("visit counts equal across implementations:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
