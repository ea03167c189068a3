"""Benchmark: 1M float32 normals from JAX's stream, side by side.

    /work/main/.venv/bin/python bench/bench_rng.py [--n 1048576] [--repeats 7] [--threads N]

Measures, in one process, the median and minimum wall time (and the median CPU time of the process, the
steadier number on a shared machine; the 1-minute load average is recorded per row) of: jax.random.normal
(jitted), torch.randn, the torch reference's exact path (table gather, one key and ``--keys`` keys drawing
n / keys values each as EGGROLL does, and op by op), its fast path (exact=False), its raw bits, and the
NumPy reference. Writes ``bench/results/rng.json`` atomically (tmp file + os.replace) and prints a table
with ratios to torch.randn (same total number of values in every row).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _measure(fn, repeats: int, sync=lambda r: r) -> dict:
    sync(fn())  # warm-up (compilation, table build, allocator)
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        sync(fn())
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"wall_ms": statistics.median(walls) * 1e3, "cpu_ms": statistics.median(cpus) * 1e3,
            "wall_ms_min": min(walls) * 1e3, "repeats": repeats,
            "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 20)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--keys", type=int, default=128, help="keys of the batched row (n / keys values per key)")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPUs for the process, torch and XLA (default 1: same budget for every row)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "rng.json"))
    args = ap.parse_args(argv)

    from _common import pin_cpus

    pinned_cpus = pin_cpus(args.threads)
    from harness import numerics

    numerics.pin()
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    from reference.rng import jax_ref, np_ref, torch_ref

    torch.set_num_threads(args.threads)
    n, reps = args.n, args.repeats
    shape = (n,)
    rows: dict[str, dict] = {}

    kj = jax.random.key(0)
    jnormal = jax.jit(lambda k: jax.random.normal(k, shape, jnp.float32))
    rows["jax.random.normal (jit)"] = _measure(lambda: jnormal(kj), reps, sync=lambda r: r.block_until_ready())
    rows["torch.randn"] = _measure(lambda: torch.randn(shape), reps)

    kt = torch_ref.key(0)
    t0 = time.perf_counter()
    torch_ref.normal_table()
    table_build_s = time.perf_counter() - t0
    rows["torch exact (table gather)"] = _measure(lambda: torch_ref.normal(kt, shape), reps)
    nk = max(1, args.keys)
    kb, shape_b = torch_ref.split(kt, nk), (n // nk,)
    batched = f"torch exact, {nk} keys x {n // nk}"
    rows[batched] = _measure(lambda: torch_ref.normal(kb, shape_b), reps)
    saved = torch_ref.TABLE_MIN, torch_ref._F32_TABLE
    torch_ref.TABLE_MIN, torch_ref._F32_TABLE = 1 << 62, []  # force the op-by-op exact path
    try:
        rows["torch exact (op by op)"] = _measure(lambda: torch_ref.normal(kt, shape), max(3, reps // 2))
    finally:
        torch_ref.TABLE_MIN, torch_ref._F32_TABLE = saved
    rows["torch fast (exact=False)"] = _measure(lambda: torch_ref.normal(kt, shape, exact=False), reps)
    rows["torch bits only"] = _measure(lambda: torch_ref.bits(kt, shape), reps)
    kn = np_ref.key(0)
    rows["numpy exact"] = _measure(lambda: np_ref.normal(kn, shape), 3)
    rows["numpy fast (exact=False)"] = _measure(lambda: np_ref.normal(kn, shape, exact=False), 3)

    # the paths must agree with JAX on what was just timed (exact ones bit for bit)
    ref = np.asarray(jax_ref.normal(kj, shape))
    checks = {
        "torch_exact_bit_identical": bool(np.array_equal(torch_ref.normal(kt, shape).numpy(), ref)),
        "torch_exact_batched_bit_identical": bool(np.array_equal(
            torch_ref.normal(kb, shape_b).numpy(), np.asarray(jax_ref.normal(kb.numpy().view(np.uint32), shape_b)))),
        "numpy_exact_bit_identical": bool(np.array_equal(np_ref.normal(kn, shape), ref)),
        "torch_fast_max_ulp": int(np.max(np.abs(torch_ref.normal(kt, shape, exact=False).numpy().view(np.int32)
                                                .astype(np.int64) - ref.view(np.int32).astype(np.int64)))),
    }

    base = rows["torch.randn"]
    for r in rows.values():
        r["wall_vs_randn"] = r["wall_ms"] / base["wall_ms"]
        r["cpu_vs_randn"] = r["cpu_ms"] / base["cpu_ms"]
        r["min_vs_randn"] = r["wall_ms_min"] / base["wall_ms_min"]
    result = {
        "what": f"{n} float32 normals, median of repeats",
        "rows": rows,
        "torch_table_build_s": table_build_s,
        "checks": checks,
        "env": {
            "jax": jax.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "torch_threads": torch.get_num_threads(), "pinned_cpus": pinned_cpus, "chunk": torch_ref.CHUNK,
            "cipher_chunk": torch_ref._chunk(),
            "table_min": torch_ref.TABLE_MIN, "cpus": os.cpu_count(), "machine": platform.machine(),
            "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh, indent=2)
    os.replace(tmp, args.out)

    print(f"{n} float32 normals; torch threads {torch.get_num_threads()}, load avg {result['env']['loadavg_1m']}")
    print(f"{'path':30s} {'wall ms':>9s} {'x randn':>8s} {'min ms':>9s} {'x randn':>8s} {'cpu ms':>9s} {'x randn':>8s}"
          f" {'load':>5s}")
    for name, r in rows.items():
        load = r["loadavg_1m"] if r["loadavg_1m"] is not None else float("nan")
        print(f"{name:30s} {r['wall_ms']:9.2f} {r['wall_vs_randn']:8.2f} {r['wall_ms_min']:9.2f}"
              f" {r['min_vs_randn']:8.2f} {r['cpu_ms']:9.2f} {r['cpu_vs_randn']:8.2f} {load:5.2f}")
    print(f"torch table build (once): {table_build_s:.2f} s; checks: {checks}")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
