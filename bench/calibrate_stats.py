"""Calibration of every statistical check: its false-failure rate on identical distributions.

For each check in ``Statistical`` mode, for seeds s = 0 .. n-1, one implementation (default: the numpy
oracle, the cheapest path; the check's statistic is the same whatever produced the samples) runs the check
on ``inputs(2 s)`` and on ``inputs(2 s + 1)``: two independent samples from the same distribution. The
harness's own comparison (``harness.compare.compare`` with the check's mode: KS per leaf, Bonferroni)
decides pass / fail exactly as ``parity check`` would. A failure here is a false failure.

Besides the rate at the check's stated budget ``alpha``, the script records every seed's
Bonferroni-adjusted smallest p-value (min p x tested leaves), so the false-failure rate is also known at
alpha = 0.01, 0.05, 0.1, where 1000 seeds measure it well: an honest check has rate <= alpha at every
level (up to sampling error; the JSON carries a 95 % Clopper-Pearson interval).

    nice -n 10 .venv/bin/python bench/calibrate_stats.py [--seeds 1000] [-k EXPR] [--impl numpy]

Results: bench/results/calibration.json (written atomically). Not a test: it takes minutes.
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

LEVELS = (0.001, 0.01, 0.05, 0.1)


def clopper_pearson(k: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    from scipy import stats

    a = (1 - conf) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def calibrate(check, impl, runner, seeds: int, progress=None) -> dict:
    from harness.compare import compare

    adjusted: list[float] = []
    fails = 0
    leaves_failing: dict[str, int] = {}
    t0 = time.perf_counter()
    for s in range(seeds):
        outs = []
        for seed in (2 * s, 2 * s + 1):
            o = runner.outputs(check, impl, check.inputs(seed), None)
            if o.status != "ok":
                raise SystemExit(f"{check.name}: {impl.name} gave {o.status}: {o.message}")
            outs.append(o.value)
        comp = compare(outs[0], outs[1], check.mode)
        ps = [l.p_value for l in comp.leaves if l.p_value is not None]
        adjusted.append(min(1.0, min(ps) * len(ps)) if ps else 1.0)
        if not comp.ok:
            fails += 1
            for l in comp.failing:
                leaves_failing[l.path] = leaves_failing.get(l.path, 0) + 1
        if progress and (s + 1) % 50 == 0:
            progress(f"{check.name}: {s + 1}/{seeds} seeds, {fails} false failures, "
                     f"{(s + 1) / (time.perf_counter() - t0):.1f} seeds/s")
    alpha = check.mode.alpha
    lo, hi = clopper_pearson(fails, seeds)
    levels = {}
    for a in sorted(set(LEVELS) | {alpha}):
        k = sum(p < a for p in adjusted)
        l2, h2 = clopper_pearson(k, seeds)
        levels[f"{a:g}"] = {"false_failures": k, "rate": k / seeds, "ci95": [l2, h2]}
    # a defect: the measured rate at some level is significantly above that level
    defect = any(v["ci95"][0] > float(a) for a, v in levels.items())
    return {"check": check.name, "implementation": impl.name, "seeds": seeds, "pairs_of_seeds": "(2s, 2s+1)",
            "budget_alpha": alpha, "false_failures": fails, "rate": fails / seeds, "ci95": [lo, hi],
            "leaves": len(comp.leaves), "tested_leaves": len([l for l in comp.leaves if l.p_value is not None]),
            "failing_leaves": leaves_failing, "by_level": levels,
            "within_budget": fails / seeds <= alpha or lo <= alpha, "defect": defect,
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("-k", dest="keyword", default=None)
    ap.add_argument("--impl", default="numpy", help="implementation whose sampler is used on both sides")
    ap.add_argument("--out", default=str(HERE / "results" / "calibration.json"))
    args = ap.parse_args(argv)

    from harness import catalogue, numerics, ports
    from harness.base import Statistical
    from harness.fixtures import atomic_write_bytes
    from harness.report import environment
    from harness.runner import Runner

    numerics.pin()
    checks, _ = catalogue.load()
    checks = [c for c in catalogue.select(checks, args.keyword) if isinstance(c.mode, Statistical)]
    impls, _ = ports.builtin((args.impl,) if args.impl == "numpy" else ("numpy", args.impl))
    runner = Runner(impls)
    rows = []
    for c in checks:
        if impls[args.impl].framework not in c.frameworks:
            print(f"{c.name}: skipped ({args.impl} not among its frameworks)", file=sys.stderr)
            continue
        row = calibrate(c, impls[args.impl], runner, args.seeds, progress=lambda m: print(m, file=sys.stderr))
        print(f"{c.name}: {row['false_failures']}/{row['seeds']} false failures (rate {row['rate']:.4f}, "
              f"budget {row['budget_alpha']:g}); at 0.05: {row['by_level']['0.05']['rate']:.3f}", file=sys.stderr)
        rows.append(row)
    out = {"created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
           "command": "bench/calibrate_stats.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "method": __doc__.split("\n\n")[1].replace("\n", " "), "environment": environment(), "checks": rows}
    path = Path(args.out)
    if args.keyword and path.exists():  # keep the other checks' rows
        old = json.loads(path.read_text())
        keep = [r for r in old.get("checks", []) if r["check"] not in {r2["check"] for r2 in rows}]
        out = {**old, **out, "checks": keep + rows}  # other checks' rows and notes kept
    atomic_write_bytes(path, (json.dumps(out, indent=1) + "\n").encode())
    print(f"wrote {path}", file=sys.stderr)
    return 1 if any(r["defect"] or not r["within_budget"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
