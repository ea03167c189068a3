"""EGGROLL throughput, JAX and torch, measured side by side in one run.

Population forward of a 2-layer MLP (width d -> d -> d, tanh; both weights low-rank perturbed, one input
row per member unless --rows) in four variants, per framework:

    plain        batched inference of the unperturbed weights (the ceiling)
    lr_pregen    low-rank perturbation, noise A, B pre-generated (y = x W^T + (x B) A^T, never A B^T)
    lr_keys      low-rank perturbation, noise regenerated from keys inside the forward, as in training:
                 member keys fold_in(fold_in(key_layer, tau), k) and ONE normal draw per antithetic pair
                 (x viewed as (N/2, 2, M, d); the pair's two members share Z and differ only by the sign)
    materialised W_i = W + A_i B_i^T formed per member (chunks of 16 members), then x_i W_i^T

and the ES update: einsum('nir,njr->ij', f A, B) against a per-member loop of outer products.

Timing: all variants of one configuration are timed in interleaved rounds (variant order rotated each
round) and the median per variant is kept, so that load drifting on a shared machine hits every variant
alike. Ratios are throughput relative to ``plain`` (t_plain / t_variant) and the speed-up of lr_pregen over
materialised. Results: bench/results/eggroll.json (written atomically) and a table on stdout.

    .venv/bin/python bench/bench_eggroll.py            # full grid (< 3 minutes)
    .venv/bin/python bench/bench_eggroll.py --quick    # target configuration only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.numerics import pin  # noqa: E402

TARGET = {"width": 1024, "population": 256, "rank": 1}
GOALS = {"lr_pregen_vs_plain": 0.85, "lr_keys_vs_plain": 0.60, "speedup_vs_materialised": 30.0}
NORMALS = {"xla": "jax.random.normal (XLA)", "exact": "JAX stream, bit-exact torch emulation (eager)",
           "compiled": "JAX stream, bit-exact emulation under torch.compile",
           "native": "torch.randn, Generator seeded from fold_in(key, tau) (not JAX's stream)"}
CHUNK = 16  # members per chunk when materialising W + A B^T (bounds memory at CHUNK * d^2 floats)


# ------------------------------------------------------------------------------------------------ timing


def interleaved(fns: dict, rounds: int, warmup: int = 1, seed: int = 0) -> dict:
    """Median seconds per variant over ``rounds`` interleaved rounds, the order shuffled every round (a
    fixed rotation would always put the same variant after the same neighbour)."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    rng = np.random.default_rng(seed)
    names = list(fns)
    times = {n: [] for n in names}
    for _ in range(rounds):
        for i in rng.permutation(len(names)):
            t0 = time.perf_counter()
            fns[names[i]]()
            times[names[i]].append(time.perf_counter() - t0)
    return {n: (float(np.median(v)), float(np.min(v))) for n, v in times.items()}


# --------------------------------------------------------------------------------------------------- JAX


def jax_variants(d, n, r, m, seed=0):
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    sigma = 0.01
    x = jnp.asarray(rng.normal(size=(n, m, d)).astype(np.float32))
    w1 = jnp.asarray((rng.normal(size=(d, d)) / math.sqrt(d)).astype(np.float32))
    w2 = jnp.asarray((rng.normal(size=(d, d)) / math.sqrt(d)).astype(np.float32))
    base = jax.random.split(jax.random.key(seed), 2)  # one base key per layer
    signs = jnp.where(jnp.arange(n) % 2 == 0, 1.0, -1.0).astype(jnp.float32)
    scale = sigma / math.sqrt(r)

    def noise_pairs(key, tau):
        ks = jax.vmap(lambda k: jax.random.fold_in(jax.random.fold_in(key, tau), k))(jnp.arange(n // 2))
        z = jax.vmap(lambda k: jax.random.normal(k, (2 * d, r), jnp.float32))(ks)  # (N/2, a + b, r)
        return z[:, d:], z[:, :d]  # A (unscaled), B

    a1, b1 = jax.jit(noise_pairs)(base[0], 0)
    a2, b2 = jax.jit(noise_pairs)(base[1], 0)
    rep = lambda z: jnp.repeat(z, 2, axis=0)  # noqa: E731
    A1, B1 = rep(a1) * (scale * signs)[:, None, None], rep(b1)
    A2, B2 = rep(a2) * (scale * signs)[:, None, None], rep(b2)

    # weights are arguments, never closed-over constants (XLA would fold them into the executable)
    @jax.jit
    def plain(x, w1, w2):
        return jnp.tanh(x @ w1.T) @ w2.T

    def lr_layer(h, w, a, b):
        return h @ w.T + jnp.einsum("nmr,nir->nmi", jnp.einsum("nmj,njr->nmr", h, b), a)

    # pre-generated noise is stored rank-major, (N, r, d): XLA's batched dots with the long axis last were
    # ~10% faster here than with (N, d, r) (measured: 7.3 vs 8.4 ms per layer at d 1024, N 256, r 4)
    T1, U1, T2, U2 = (jnp.swapaxes(z, 1, 2) for z in (A1, B1, A2, B2))

    def lr_layer_rm(h, w, at, bt):
        return h @ w.T + jnp.einsum("nmr,nri->nmi", jnp.einsum("nmj,nrj->nmr", h, bt), at)

    @jax.jit
    def lr_pregen_rm(x, w1, w2, T1, U1, T2, U2):
        return lr_layer_rm(jnp.tanh(lr_layer_rm(x, w1, T1, U1)), w2, T2, U2)

    @jax.jit
    def lr_pregen(x, w1, w2, A1, B1, A2, B2):
        return lr_layer(jnp.tanh(lr_layer(x, w1, A1, B1)), w2, A2, B2)

    pair_sign = jnp.array([scale, -scale], jnp.float32)

    def lr_pair_layer(h, w, key, tau):
        a, b = noise_pairs(key, tau)  # one draw per pair, (N/2, d, r)
        a, b = jnp.swapaxes(a, 1, 2), jnp.swapaxes(b, 1, 2)  # rank-major (a reshape for r = 1)
        hp = h.reshape(n // 2, 2, m, d)
        xb = jnp.einsum("pkmj,prj->pkmr", hp, b) * pair_sign[None, :, None, None]
        return (h @ w.T) + jnp.einsum("pkmr,pri->pkmi", xb, a).reshape(n, m, d)

    @jax.jit
    def lr_keys(x, w1, w2, base, tau):
        return lr_pair_layer(jnp.tanh(lr_pair_layer(x, w1, base[0], tau)), w2, base[1], tau)

    def mat_layer(h, w, a, b):
        hc = h.reshape(n // CHUNK, CHUNK, m, d)
        ac = a.reshape(n // CHUNK, CHUNK, d, r)
        bc = b.reshape(n // CHUNK, CHUNK, d, r)

        def chunk(args):
            hh, aa, bb = args
            wi = w[None] + jnp.einsum("cir,cjr->cij", aa, bb)  # (CHUNK, d, d) materialised
            return jnp.einsum("cmj,cij->cmi", hh, wi)
        return jax.lax.map(chunk, (hc, ac, bc)).reshape(n, m, d)

    @jax.jit
    def materialised(x, w1, w2, A1, B1, A2, B2):
        return mat_layer(jnp.tanh(mat_layer(x, w1, A1, B1)), w2, A2, B2)

    # the results agree (checked once per configuration)
    y0, y1 = plain(x, w1, w2), lr_pregen(x, w1, w2, A1, B1, A2, B2)
    y2, y3 = lr_keys(x, w1, w2, base, jnp.int32(0)), materialised(x, w1, w2, A1, B1, A2, B2)
    err = max(float(jnp.max(jnp.abs(y1 - y2))), float(jnp.max(jnp.abs(y1 - y3))))
    assert err < 1e-3, f"jax variants disagree by {err}"
    assert float(jnp.max(jnp.abs(y0 - y1))) > 1e-6, "perturbation had no effect"

    f = jnp.asarray(rng.normal(size=n).astype(np.float32))

    @jax.jit
    def upd_einsum(f, A, B):
        return -math.sqrt(n) * jnp.einsum("nir,njr->ij", f[:, None, None] * A, B) / n

    @jax.jit
    def upd_loop(f, A, B):
        g = jax.lax.fori_loop(0, n, lambda i, g: g + f[i] * (A[i] @ B[i].T), jnp.zeros((d, d), jnp.float32))
        return -g / math.sqrt(n)

    e = float(jnp.max(jnp.abs(upd_einsum(f, A1, B1) - upd_loop(f, A1, B1))))
    assert e < 1e-4, f"jax update variants disagree by {e}"
    blk = lambda y: y.block_until_ready()  # noqa: E731
    err = float(jnp.max(jnp.abs(lr_pregen_rm(x, w1, w2, T1, U1, T2, U2) - y1)))
    assert err < 1e-3, f"jax rank-major variant disagrees by {err}"
    fwd = {"plain": lambda: blk(plain(x, w1, w2)), "lr_pregen": lambda: blk(lr_pregen_rm(x, w1, w2, T1, U1, T2, U2)),
           "lr_keys": lambda: blk(lr_keys(x, w1, w2, base, jnp.int32(1))),
           "materialised": lambda: blk(materialised(x, w1, w2, A1, B1, A2, B2))}
    upd = {"update_einsum": lambda: blk(upd_einsum(f, A1, B1)), "update_loop": lambda: blk(upd_loop(f, A1, B1))}
    return fwd, upd


# ------------------------------------------------------------------------------------------------- torch


def torch_variants(d, n, r, m, seed=0, compiled_normal=None, native=None, keys_only=False):
    import torch

    from reference.rng import torch_ref as trng

    rng = np.random.default_rng(seed)
    sigma = 0.01
    x = torch.from_numpy(rng.normal(size=(n, m, d)).astype(np.float32))
    w1 = torch.from_numpy((rng.normal(size=(d, d)) / math.sqrt(d)).astype(np.float32))
    w2 = torch.from_numpy((rng.normal(size=(d, d)) / math.sqrt(d)).astype(np.float32))
    base = trng.split(trng.key(seed), 2)  # one base key per layer (int32 bits)
    scale = sigma / math.sqrt(r)
    signs = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0)
    pair_idx = torch.arange(n // 2)
    normal = compiled_normal or (lambda k, shape: trng.normal(k, shape))

    def noise_pairs(key, tau):
        if native is not None:
            return native(key, tau, n // 2, d, r)
        ks = trng.fold_in(trng.fold_in(key, tau).expand(n // 2, 2).contiguous(), pair_idx)
        z = normal(ks, (2 * d, r))
        return z[:, d:], z[:, :d]

    a1, b1 = noise_pairs(base[0], 0)
    a2, b2 = noise_pairs(base[1], 0)
    A1, B1 = a1.repeat_interleave(2, 0) * (scale * signs)[:, None, None], b1.repeat_interleave(2, 0)
    A2, B2 = a2.repeat_interleave(2, 0) * (scale * signs)[:, None, None], b2.repeat_interleave(2, 0)

    def plain():
        return torch.tanh(x @ w1.T) @ w2.T

    def lr_layer(h, w, a, b):
        return h @ w.T + torch.bmm(torch.bmm(h, b), a.transpose(1, 2))

    def lr_pregen():
        return lr_layer(torch.tanh(lr_layer(x, w1, A1, B1)), w2, A2, B2)

    pair_sign = torch.tensor([scale, -scale], dtype=torch.float32)

    def lr_pair_layer(h, w, key, tau):
        a, b = noise_pairs(key, tau)  # one draw per pair
        hp = h.reshape(n // 2, 2 * m, d)  # the pair's rows stacked: both members share B and A
        xb = torch.bmm(hp, b).view(n // 2, 2, m, r) * pair_sign[None, :, None, None]
        return h @ w.T + torch.bmm(xb.view(n // 2, 2 * m, r), a.transpose(1, 2)).view(n, m, d)

    def lr_keys(tau=1):
        return lr_pair_layer(torch.tanh(lr_pair_layer(x, w1, base[0], tau)), w2, base[1], tau)

    def mat_layer(h, w, a, b):
        out = torch.empty(n, m, d)
        for c in range(0, n, CHUNK):
            wi = w[None] + torch.bmm(a[c:c + CHUNK], b[c:c + CHUNK].transpose(1, 2))  # (CHUNK, d, d)
            out[c:c + CHUNK] = torch.bmm(h[c:c + CHUNK], wi.transpose(1, 2))
        return out

    def materialised():
        return mat_layer(torch.tanh(mat_layer(x, w1, A1, B1)), w2, A2, B2)

    f = torch.from_numpy(rng.normal(size=n).astype(np.float32))

    def upd_einsum():
        fa = (f[:, None, None] * A1).permute(1, 0, 2).reshape(d, n * r)
        return -math.sqrt(n) * (fa @ B1.permute(1, 0, 2).reshape(d, n * r).T) / n

    def upd_loop():
        g = torch.zeros(d, d)
        for i in range(n):
            g += f[i] * (A1[i] @ B1[i].T)
        return -g / math.sqrt(n)

    with torch.inference_mode():
        y0, y1, y2 = plain(), lr_pregen(), lr_keys(0)
        err = float((y1 - y2).abs().max())
        if not keys_only:  # the materialised forward and the update loop are the same for every noise source
            err = max(err, float((y1 - materialised()).abs().max()))
            e = float((upd_einsum() - upd_loop()).abs().max())
            assert e < 1e-4, f"torch update variants disagree by {e}"
        assert err < 1e-3, f"torch variants disagree by {err}"
        assert float((y0 - y1).abs().max()) > 1e-6, "perturbation had no effect"

    def im(fn):
        def run():
            with torch.inference_mode():
                return fn()
        return run

    fwd = {"plain": im(plain), "lr_pregen": im(lr_pregen), "lr_keys": im(lr_keys), "materialised": im(materialised)}
    upd = {"update_einsum": im(upd_einsum), "update_loop": im(upd_loop)}
    return fwd, upd


def native_torch_normal():
    """A torch-native port's noise: ONE torch.randn per layer and epoch from a Generator seeded with the
    layer's key words and tau (no Threefry at all); pair k takes slice k. Deterministic from keys, but
    not JAX's stream: such a port is checked by eggroll.stats.noise, not bit for bit."""
    import torch

    gen = torch.Generator()

    def noise_pairs(key, tau, npairs, d, r):
        w = key.to(torch.int64) & 0xFFFFFFFF
        gen.manual_seed((int(w[0]) * 1_000_003 + int(w[1]) * 7919 + int(tau)) & 0x7FFFFFFFFFFFFFFF)
        z = torch.randn((npairs, 2 * d, r), generator=gen)
        return z[:, d:], z[:, :d]
    return noise_pairs


def compile_torch_normal(notes: list):
    """torch.compile of the bit-exact JAX-stream normal (reference.rng.torch_ref.normal): opt-in, the
    compile took minutes on the shared 2-core machine."""
    import torch

    from reference.rng import torch_ref as trng

    t0 = time.perf_counter()
    try:
        fn = torch.compile(lambda k, shape: trng.normal(k, shape), dynamic=False)
        k = trng.split(trng.key(0), 4)
        ok = torch.equal(fn(k, (64, 2)), trng.normal(k, (64, 2)))
    except Exception as e:  # noqa: BLE001 - the benchmark falls back to the eager emulation
        notes.append(f"torch.compile of the normal failed: {type(e).__name__}: {str(e)[:120]}")
        return None
    notes.append(f"torch.compile of the normal: {time.perf_counter() - t0:.1f} s, bit-exact: {ok}")
    return fn if ok else None


# -------------------------------------------------------------------------------------------------- main


def grid(quick):
    if quick:
        return [(TARGET["width"], TARGET["population"], TARGET["rank"])]
    return [(d, n, r) for d in (256, 1024) for n in (64, 256) for r in (1, 4)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only width 1024, N 256, rank 1")
    ap.add_argument("--rows", type=int, default=1, help="input rows per member (default 1)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds per configuration")
    ap.add_argument("--compile", action="store_true", help="torch: also time torch.compile'd JAX-stream normals")
    ap.add_argument("--threads", type=int, default=1,
                    help="intra-op threads for torch and XLA:CPU (default 1: on a shared machine multi-threaded "
                         "ops stall behind other processes and the medians measure the neighbours)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "eggroll.json"))
    args = ap.parse_args(argv)
    if "jax" in sys.modules:
        raise SystemExit("bench_eggroll: run as a script (XLA threads must be set before JAX is imported)")
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen="
                               f"{'true' if args.threads > 1 else 'false'} "
                               f"intra_op_parallelism_threads={args.threads}").strip()
    pin()
    import jax
    import torch

    torch.set_num_threads(args.threads)
    notes: list[str] = [f"intra-op threads: {args.threads} (torch.set_num_threads, XLA_FLAGS={os.environ['XLA_FLAGS']})"]
    compiled = compile_torch_normal(notes) if args.compile else None
    t_start = time.perf_counter()
    rows = []
    for d, n, r in grid(args.quick):
        big = d * d * n >= 1024 * 1024 * 256
        rounds = args.rounds
        for fw in ("jax", "torch"):
            variants = [("xla", None)] if fw == "jax" else [("exact", None), ("native", None)] + (
                [("compiled", compiled)] if compiled is not None else [])
            for tag, cn in variants:
                if fw == "jax":
                    fwd, upd = jax_variants(d, n, r, args.rows)
                else:
                    fwd, upd = torch_variants(d, n, r, args.rows, compiled_normal=cn, keys_only=tag != "exact",
                                              native=native_torch_normal() if tag == "native" else None)
                if tag in ("compiled", "native"):  # only the key-regenerated variant differs
                    fwd = {k: v for k, v in fwd.items() if k in ("plain", "lr_keys")}
                    upd = {}
                # the fast variants interleaved; the slow ones (seconds at the top size) timed on their own so
                # that their big temporaries do not evict the fast ones' working set (already warm: the
                # agreement check ran every variant once)
                slow = {k: fwd.pop(k) for k in ("materialised",) if k in fwd}
                t = interleaved(fwd, rounds)
                t.update(interleaved(slow, 1 if big else 3, warmup=0))
                if upd:
                    t.update(interleaved(upd, 3, warmup=0))
                row = {"framework": fw, "noise": tag, "normal": NORMALS[tag], "width": d, "population": n, "rank": r, "rows": args.rows,
                       "rounds": rounds, "ms": {k: round(v[0] * 1e3, 3) for k, v in t.items()},
                       "ms_min": {k: round(v[1] * 1e3, 3) for k, v in t.items()}}
                tmin = {k: v[1] for k, v in t.items()}
                t = {k: v[0] for k, v in t.items()}
                row["lr_pregen_vs_plain"] = t["plain"] / t["lr_pregen"] if "lr_pregen" in t else None
                row["lr_keys_vs_plain"] = t["plain"] / t["lr_keys"]
                row["speedup_vs_materialised"] = t["materialised"] / t["lr_pregen"] if "materialised" in t else None
                row["update_einsum_speedup"] = t["update_loop"] / t["update_einsum"] if "update_loop" in t else None
                row["from_min"] = {"lr_pregen_vs_plain": tmin["plain"] / tmin["lr_pregen"] if "lr_pregen" in tmin else None,
                                   "lr_keys_vs_plain": tmin["plain"] / tmin["lr_keys"]}
                rows.append(row)
                print(_fmt(row), flush=True)
    total = time.perf_counter() - t_start
    result = {"benchmark": "eggroll", "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "load_avg_at_end": os.getloadavg()},
              "versions": {"jax": jax.__version__, "torch": torch.__version__, "numpy": np.__version__,
                           "backend": jax.default_backend(), "torch_threads": torch.get_num_threads()},
              "goals_at_target": {"config": TARGET, **GOALS}, "notes": notes, "seconds": round(total, 1),
              "results": rows, "at_target": _at_target(rows)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".eggroll.", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(result, fh, indent=2)
    os.replace(tmp, out)
    print(f"\nat target (width 1024, N 256, rank 1), goals {GOALS}:")
    for line in result["at_target"]:
        print("  " + line)
    print(f"wrote {out} ({total:.0f} s)")
    return 0


def _fmt(row):
    r = lambda v: "   -  " if v is None else f"{v:6.2f}"  # noqa: E731
    ms = row["ms"]
    return (f"{row['framework']:5s} {row['noise']:8s} d={row['width']:4d} N={row['population']:3d} "
            f"r={row['rank']}  plain {ms['plain']:8.2f} ms  pregen/plain {r(row['lr_pregen_vs_plain'])}  "
            f"keys/plain {r(row['lr_keys_vs_plain'])}  materialised/pregen {r(row['speedup_vs_materialised'])}  "
            f"update loop/einsum {r(row['update_einsum_speedup'])}")


def _at_target(rows):
    out = []
    for row in rows:
        if (row["width"], row["population"], row["rank"]) != tuple(TARGET.values()):
            continue
        parts = []
        for k, goal in GOALS.items():
            v = row.get(k)
            if v is not None:
                parts.append(f"{k} {v:.2f} ({'meets' if v >= goal else 'below'} {goal})")
        out.append(f"{row['framework']} [{row['noise']}]: " + ", ".join(parts))
    return out


if __name__ == "__main__":
    sys.exit(main())
