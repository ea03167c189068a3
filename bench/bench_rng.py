"""Benchmark: 1M float32 normals from JAX's stream, side by side.

    /work/main/.venv/bin/python bench/bench_rng.py [--n 1048576] [--rounds 15] [--threads N]

Times, in one process and in interleaved rounds (every round calls every row once, in an order shuffled every
round, so that a row and torch.randn timed in the same round see nearly the same load): jax.random.normal
(jitted), torch.randn, the torch reference's exact path on its C kernels (one key; ``--keys`` keys drawing
n / keys values each as EGGROLL does; bfloat16 and float16), its pure-torch fallback (table gather and op by
op), its fast path (exact=False), its raw bits, and the NumPy reference. The figure of record per row is the
median over rounds of the paired ratio t_row / t_randn (``x_randn``); medians, minimums and the process CPU
time are beside it. Writes ``bench/results/rng.json`` atomically (tmp file + os.replace).
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

METHOD = ("Interleaved rounds: every round calls every row once in a freshly shuffled order, after one warm-up "
          "call each; x_randn = median over rounds of the paired ratio t_row / t_torch.randn of the same round; "
          "ms / ms_min: median / minimum wall time; cpu_ms: median process CPU time. Slow rows (NumPy, the "
          "pure-torch op-by-op path) run in every --slow-every-th round only.")


def _interleaved(fns: dict, rounds: int, slow: set, slow_every: int, seed: int = 0) -> dict:
    import numpy as np

    for f in fns.values():
        f()  # warm-up (compilation, table build, kernel build, allocator)
    rng = np.random.default_rng(seed)
    names = list(fns)
    walls = {n: [] for n in names}
    cpus = {n: [] for n in names}
    pair = {n: [] for n in names}
    for r in range(rounds):
        this = {}
        for i in rng.permutation(len(names)):
            name = names[i]
            if name in slow and r % slow_every:
                continue
            w, c = time.perf_counter(), time.process_time()
            fns[name]()
            this[name] = time.perf_counter() - w
            cpus[name].append(time.process_time() - c)
            walls[name].append(this[name])
        for name, t in this.items():
            pair[name].append(t / this["torch.randn"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {n: {"x_randn": statistics.median(pair[n]), "ms": statistics.median(walls[n]) * 1e3,
                "ms_min": min(walls[n]) * 1e3, "cpu_ms": statistics.median(cpus[n]) * 1e3,
                "min_vs_randn": min(walls[n]) / min(walls["torch.randn"]), "rounds": len(walls[n]),
                "loadavg_1m_end": load} for n in names}


def _pure_torch(torch_ref, fn, table: bool):
    """Run ``fn`` on the pure-torch path (the fallback), with or without the 2^23-entry table."""
    def run():
        saved = torch_ref._kernels, torch_ref.TABLE_MIN, torch_ref._F32_TABLE
        torch_ref._kernels = lambda: None
        if not table:
            torch_ref.TABLE_MIN, torch_ref._F32_TABLE = 1 << 62, []
        try:
            return fn()
        finally:
            torch_ref._kernels, torch_ref.TABLE_MIN, torch_ref._F32_TABLE = saved
    return run


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 20)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--slow-every", type=int, default=3, help="slow rows run every k-th round")
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

    from reference.rng import _native, jax_ref, np_ref, torch_ref

    torch.set_num_threads(args.threads)
    n = args.n
    shape = (n,)
    kj = jax.random.key(0)
    jnormal = jax.jit(lambda k: jax.random.normal(k, shape, jnp.float32))
    kt = torch_ref.key(0)
    t0 = time.perf_counter()
    torch_ref._normal_table()
    table_build_s = time.perf_counter() - t0
    nk = max(1, args.keys)
    kb, shape_b = torch_ref.split(kt, nk), (n // nk,)
    batched = f"torch exact, {nk} keys x {n // nk}"
    kn = np_ref.key(0)
    fns = {
        "jax.random.normal (jit)": lambda: jnormal(kj).block_until_ready(),
        "torch.randn": lambda: torch.randn(shape),
        "torch exact (kernels)": lambda: torch_ref.normal(kt, shape),
        batched + " (kernels)": lambda: torch_ref.normal(kb, shape_b),
        "torch exact bfloat16 (kernels)": lambda: torch_ref.normal(kt, shape, torch.bfloat16),
        "torch exact float16 (kernels)": lambda: torch_ref.normal(kt, shape, torch.float16),
        "torch bits only (kernels)": lambda: torch_ref.bits(kt, shape),
        "torch exact (pure torch, table gather)": _pure_torch(torch_ref, lambda: torch_ref.normal(kt, shape), True),
        "torch bits only (pure torch)": _pure_torch(torch_ref, lambda: torch_ref.bits(kt, shape), True),
        "torch fast (exact=False, pure torch)": lambda: torch_ref.normal(kt, shape, exact=False),
        "torch exact (pure torch, op by op)": _pure_torch(torch_ref, lambda: torch_ref.normal(kt, shape), False),
        "numpy exact": lambda: np_ref.normal(kn, shape),
    }
    slow = {"torch exact (pure torch, op by op)", "numpy exact"}
    kernels = _native.status()
    if not _native.enabled():  # the kernel rows would time the fallback under a wrong name
        fns = {k: v for k, v in fns.items() if "(kernels)" not in k}
    rows = _interleaved(fns, args.rounds, slow, args.slow_every)

    # the paths must agree with JAX on what was just timed (exact ones bit for bit)
    ref = np.asarray(jax_ref.normal(kj, shape))
    refb = np.asarray(jax_ref.normal(kb.numpy().view(np.uint32), shape_b))
    checks = {
        "torch_exact_bit_identical": bool(np.array_equal(torch_ref.normal(kt, shape).numpy(), ref)),
        "torch_exact_batched_bit_identical": bool(np.array_equal(torch_ref.normal(kb, shape_b).numpy(), refb)),
        "torch_pure_torch_bit_identical": bool(np.array_equal(
            _pure_torch(torch_ref, lambda: torch_ref.normal(kt, shape), True)().numpy(), ref)),
        "numpy_exact_bit_identical": bool(np.array_equal(np_ref.normal(kn, shape), ref)),
        "torch_fast_max_ulp": int(np.max(np.abs(torch_ref.normal(kt, shape, exact=False).numpy().view(np.int32)
                                                .astype(np.int64) - ref.view(np.int32).astype(np.int64)))),
    }
    for name, dt in (("bfloat16", torch.bfloat16), ("float16", torch.float16)):
        got = torch_ref.normal(kt, shape, dt).float().numpy()
        checks[f"torch_exact_{name}_bit_identical"] = bool(np.array_equal(
            got, np.asarray(jax_ref.normal(kj, shape, name)).astype(np.float32)))

    result = {
        "what": f"{n} normals, interleaved rounds, paired ratios to torch.randn",
        "method": METHOD,
        "rows": rows,
        "torch_table_build_s": table_build_s,
        "torch_stream_path": kernels,
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

    print(f"{n} normals; torch threads {torch.get_num_threads()}, load avg {result['env']['loadavg_1m']}; "
          f"torch stream: {kernels}")
    print(f"{'path':42s} {'x randn':>8s} {'ms':>9s} {'min ms':>9s} {'cpu ms':>9s} {'rounds':>6s}")
    for name, r in rows.items():
        print(f"{name:42s} {r['x_randn']:8.2f} {r['ms']:9.2f} {r['ms_min']:9.2f} {r['cpu_ms']:9.2f} {r['rounds']:6d}")
    print(f"torch table build (once): {table_build_s:.2f} s; checks: {checks}")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
