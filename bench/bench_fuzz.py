"""Examples per second of `parity fuzz` on a loss check and on a search check (goal: >= 50 / s on the loss check).

For each check the fuzzer (harness.fuzz.Fuzzer, the code `parity fuzz` runs) first runs a warm-up round
(JAX compiles each function once per shape: the strategies draw shapes from small fixed sets), then a timed
budget of examples over every pair of the three references (numpy, jax, torch). Reported per check:
end-to-end examples / s (hypothesis generation + three implementations + three comparisons), the harness
share (running and comparing only) and the warm-up time, and the same per CPU-second of this process: on the
shared 2-core machine the wall-clock rate measures the neighbours' load as much as the fuzzer (the load
average is recorded beside it). One pinned CPU, like every benchmark here.

    .venv/bin/python bench/bench_fuzz.py [--examples 300] [--checks losses.policy,mcts.visits]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import load_average, pin_cpus

GOAL = {"losses.policy": 50.0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=300, help="timed examples for the loss check")
    ap.add_argument("--search-examples", type=int, default=20, help="timed examples for the search check")
    ap.add_argument("--checks", default="losses.policy,mcts.visits")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    cpus = pin_cpus(args.threads)

    from harness import catalogue, numerics, ports
    from harness.fixtures import atomic_write_bytes
    from harness.fuzz import Fuzzer
    from harness.report import environment
    from harness.runner import Runner

    numerics.pin()
    checks, _ = catalogue.load()
    by_name = {c.name: c for c in checks}
    impls, _ = ports.builtin()
    rows = []
    for name in args.checks.split(","):
        check = by_name[name]
        n = args.examples if name.startswith("losses") else args.search_examples
        runner = Runner(impls)
        t0 = time.perf_counter()
        Fuzzer(runner, [check], seed=1, stream=None).run(examples=max(3, n // 10))  # warm-up: compiles
        warm = time.perf_counter() - t0
        fz = Fuzzer(runner, [check], seed=2, stream=None)
        c0 = time.process_time()
        s = fz.run(examples=n)
        cpu = time.process_time() - c0
        st = s.per_check[name]
        row = {"check": name, "examples": s.examples, "seconds": round(s.seconds, 3),
               "examples_per_s": round(s.rate, 1), "cpu_seconds": round(cpu, 3),
               "examples_per_cpu_s": round(s.examples / cpu, 1),
               "harness_examples_per_s": round(st["examples"] / st["seconds"], 1),
               "harness_share": round(st["seconds"] / s.seconds, 3), "warmup_s": round(warm, 2),
               "pairs": [list(p) for p in fz.pairs(check)], "counterexamples": len(s.found)}
        if name in GOAL:
            row["goal_per_s"] = GOAL[name]
            row["goal_met_wall"] = row["examples_per_s"] >= GOAL[name]
            row["goal_met_cpu"] = row["examples_per_cpu_s"] >= GOAL[name]
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    out = {"created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
           "method": __doc__.split("\n\n")[1].replace("\n", " "), "cpus": cpus, "load_average": load_average(),
           "environment": environment(), "results": rows}
    path = HERE / "results" / "fuzz.json"
    atomic_write_bytes(path, (json.dumps(out, indent=1) + "\n").encode())
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
