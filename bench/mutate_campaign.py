"""Mutation campaign over the references, cheap scopes first, with a time budget (pytest-free).

    nice -n 10 .venv/bin/python bench/mutate_campaign.py --preset cheap --frameworks torch --budget 1800
    nice -n 10 .venv/bin/python bench/mutate_campaign.py --preset all --jobs 2 --budget 14400

Each scope is ``(module, top-level definitions)``; the mutants of every scope are run by ``harness.mutate``
(worker processes, a timeout per mutant) and written as one report (``--out``, default
bench/results/mutation/: mutation.json + mutation.md). What the budget did not reach is listed ``not_run``
with the measured mutants per minute, so the cost of the rest can be projected.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

# the small pure functions of each area: cheap checks, no whole-loop compile
CHEAP = [
    ("reference/losses/{fw}_ref.py", ()),
    ("reference/losses/spec.py", ()),
    ("reference/train/{fw}_ref.py", ("_warmup_lambda", "_warmup_schedule", "warmup_lrs", "clip", "_clip",
                                     "plateau", "_plateau", "early_stopping", "_early_stopping_update", "EarlyStopping",
                                     "value_targets", "make_examples")),
    ("reference/train/spec.py", ("_warmup_steps", "WARMUP_FRACTION", "PERSPECTIVES", "_check_outcome")),
    ("reference/eggroll/{fw}_ref.py", ("noise_epoch", "pair_index_sign", "lowrank_noise", "_lowrank_from_z",
                                       "fullrank_noise", "_fullrank_from_eps", "_fullrank_from_z", "shape_fitness",
                                       "_shape_fitness", "lowrank_update", "fullrank_update")),
    ("reference/mcts/search/{fw}_ref.py", ("puct_scores", "_puct", "backup", "_backup", "temperature",
                                            "target_policy", "select_move", "mix_noise", "_mix_noise", "noise_alpha",
                                            "_mask_renorm", "_settings", "_lookup", "_argmax")),
    ("reference/mcts/search/tables.py", ()),
]
ALL = CHEAP + [
    ("reference/train/{fw}_ref.py", ()),
    ("reference/eggroll/{fw}_ref.py", ()),
    ("reference/eggroll/config.py", ()),
    ("reference/mcts/search/{fw}_ref.py", ()),
    ("reference/mcts/game/{fw}_ref.py", ()),
    # not reference/mcts/config.py: the checks build MCTSConfig / GameConfig from the unmutated module and pass them
    # in, so a mutant of the mutant port's own copy is never instantiated (measured: 66 of its JAX mutants
    # survived, 50 did not load); its validation is tested directly (parity_tests/test_mcts_*.py)
    ("reference/nets/{fw}_ref.py", ()),
    ("reference/eggroll/sharded/{fw}_ref.py", ()),
    ("reference/rng/{fw}_ref.py", ()),
]


# Modules whose code runs in processes the mutant never reaches: the torch sharded run's ranks are spawned and
# import reference/eggroll/sharded/torch_ref.py from disk (measured: all 126 of its mutants survived).
UNREACHABLE = {"reference/eggroll/sharded/torch_ref.py"}


def scopes_sites(scopes, frameworks, kinds):
    from harness import mutate

    out, seen = [], set()
    for fw in frameworks:
        for pattern, functions in scopes:
            path = pattern.format(fw=fw)
            if path in UNREACHABLE or not os.path.isfile(os.path.join(mutate.ROOT, path)):
                continue
            for s in mutate.sites([path], kinds, (fw,), functions):
                if s.id not in seen and s.framework == fw:
                    seen.add(s.id)
                    out.append(s)
    return out


def sample(ss, n):
    """At most ``n`` mutants per (area, framework), evenly spread (deterministic)."""
    groups: dict = {}
    for s in ss:
        groups.setdefault((s.area, s.framework), []).append(s)
    keep = set()
    for g in groups.values():
        step = max(1.0, len(g) / n)
        keep |= {g[int(i * step)].id for i in range(min(n, len(g)))}
    return [s for s in ss if s.id in keep]


def interleave(ss):
    """Round robin over the (area, framework) groups, each group in its own order (cheap scopes first): a
    budget that runs out leaves every area measured on its first mutants, not whole areas unrun."""
    groups: dict = {}
    for s in ss:
        groups.setdefault((s.area, s.framework), []).append(s)
    lists = list(groups.values())
    out = []
    for i in range(max((len(g) for g in lists), default=0)):
        out += [g[i] for g in lists if i < len(g)]
    return out


def _env(items) -> dict[str, str]:
    """--env NAME=VALUE settings, validated; they are set before the workers start (which inherit them)."""
    out = {}
    for it in items:
        name, eq, value = it.partition("=")
        if not eq or not name.strip() or not name.replace("_", "").isalnum():
            raise SystemExit(f"mutate_campaign: --env expects NAME=VALUE (e.g. PARITY_RNG_NATIVE=0), got {it!r}")
        out[name.strip()] = value
    return out


def _config(env: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(env.items()))


def _with_config(new, old, env) -> None:
    """Record the configuration on the re-run outcomes: a kill names the one that killed it, a survivor every
    configuration it survived in (the earlier report's, then this one)."""
    cfg = _config(env)
    prev = {o.site.id: o.config for o in old}
    for o in new:
        before = prev.get(o.site.id, "")
        if not cfg:  # the default configuration again: a survivor keeps the record of the others it survived
            o.config = before if o.status == "survived" else ""
        else:
            o.config = cfg if o.status != "survived" else f"{before or 'default'} | {cfg}"


def _again(args, frameworks, kinds) -> int:
    """--rerun / --rescore: a previous report, its survivors re-run on the current tree (or none)."""
    from harness import mutate

    path = args.rerun or args.rescore
    data, outcomes = mutate.read_report(path)
    paths = {s.path for s in scopes_sites(ALL, frameworks, kinds)}
    dropped = [o for o in outcomes if o.site.path not in paths]
    outcomes = [o for o in outcomes if o.site.path in paths]
    if dropped:
        data["command"] += (f"; {len(dropped)} mutants of modules no longer in the scopes left out "
                            f"({', '.join(sorted({o.site.path for o in dropped}))})")
    mutate.apply_equivalents(outcomes, mutate.load_equivalents())
    before = {"command": data["command"], "areas": mutate.area_scores(outcomes)}
    again = ("survived", "no_check") + (("timeout",) if args.rerun_timeouts else ())
    todo = [o for o in outcomes if o.status in again] if args.rerun else []
    if args.areas:
        todo = [o for o in todo if o.site.area in args.areas.split(",")]
    current = {s.id: s for s in scopes_sites(ALL, frameworks, kinds)} if todo else {}
    for o in todo:
        if o.site.id not in current:
            o.note = (o.note + "; " if o.note else "") + "not re-run: no such mutant in the current tree"
    sites = [current[o.site.id] for o in todo if o.site.id in current]
    t0 = time.perf_counter()

    def progress(o):
        print(f"{o.status:>10}  {o.site.id}  {', '.join(o.killed_by)}  [{o.seconds:.1f} s]", flush=True)

    os.makedirs(args.out, exist_ok=True)
    new, left = mutate.run_sites(sites, jobs=args.jobs, timeout=args.timeout, budget=args.budget,
                                 first_kill=args.first_kill, progress=progress,
                                 journal=os.path.join(args.out, "mutation.partial.jsonl")) if sites else ([], [])
    _with_config(new, outcomes, args.env_map)
    by_id = {o.site.id: o for o in new}
    merged = [by_id.get(o.site.id, o) for o in outcomes]
    mutate.apply_equivalents(merged, mutate.load_equivalents())
    secs = time.perf_counter() - t0
    what = f"re-run of {len(sites)} survivor(s)" if args.rerun else "equivalents re-applied"
    if args.rerun and args.env_map:
        what += f" with {_config(args.env_map)}"
    js, md = mutate.write_report(args.out, merged, list(data.get("not_run", [])) + [s.id for s in left],
                                 command=f"{data['command']}; {what}", seconds=data["seconds"] + secs,
                                 jobs=data.get("jobs", args.jobs), before=before if args.rerun else None)
    print(f"{what} in {secs:.0f} s; wrote {js} and {md}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=("cheap", "all"), default="cheap")
    p.add_argument("--frameworks", default="torch,jax")
    p.add_argument("--kinds", default="constant,operator")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=180.0)
    p.add_argument("--budget", type=float, default=1800.0)
    p.add_argument("--first-kill", action="store_true")
    p.add_argument("--areas", default="", help="only these areas (comma separated; default all of the preset)")
    p.add_argument("--sample", type=int, default=0, help="at most this many mutants per (area, framework), evenly "
                   "spread over the list (0: all)")
    p.add_argument("--list", action="store_true", help="count the mutants per area and stop")
    p.add_argument("--rerun", metavar="MUTATION_JSON", help="re-run the survivors (survived / no check, "
                   "after the reviewed equivalents) of a previous report on the current tree; the report written "
                   "keeps every other outcome and records the scores before")
    p.add_argument("--resume", action="store_true", help="keep the outcomes a stopped run of the same --out "
                   "journaled (mutation.partial.jsonl) and run only the rest")
    p.add_argument("--rerun-timeouts", action="store_true", help="with --rerun: the timeouts too (each may take "
                   "1.5 x --timeout + 60 s before its worker is killed)")
    p.add_argument("--rescore", metavar="MUTATION_JSON", help="re-apply checks/mutation_equivalent.json to a "
                   "previous report and write it again (runs nothing)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="run the catalogue in "
                   "another configuration, set in the workers' environment (repeatable): code of the references "
                   "that only that configuration runs, e.g. PARITY_RNG_NATIVE=0 (the pure-torch stream) or "
                   "PARITY_JAX_SEMANTICS=0.4 (another JAX release's stream); outcomes record it as `config`. "
                   "With --rerun: the survivors of the default configuration are run in this one")
    p.add_argument("--out", default=os.path.join(HERE, "results", "mutation"))
    args = p.parse_args(argv)
    from harness import mutate

    args.env_map = _env(args.env)
    os.environ.update(args.env_map)

    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if args.rerun or args.rescore:
        return _again(args, frameworks, kinds)
    ss = scopes_sites(CHEAP if args.preset == "cheap" else ALL, frameworks, kinds)
    if args.areas:
        ss = [s for s in ss if s.area in args.areas.split(",")]
    if args.sample:
        ss = sample(ss, args.sample)
    ss = interleave(ss)
    if args.list:
        counts: dict = {}
        for s in ss:
            counts[(s.area, s.framework)] = counts.get((s.area, s.framework), 0) + 1
        for k, v in sorted(counts.items()):
            print(f"{k[0]:>10} {k[1]:>6}: {v}")
        print(f"{len(ss)} mutants")
        return 0
    t0 = time.perf_counter()

    def progress(o):
        print(f"{o.status:>10}  {o.site.id}  {', '.join(o.killed_by)}  [{o.seconds:.1f} s]", flush=True)

    os.makedirs(args.out, exist_ok=True)
    journal = os.path.join(args.out, "mutation.partial.jsonl")
    wanted = {s.id for s in ss}
    kept = [o for o in mutate.read_journal(journal) if o.site.id in wanted] if args.resume else []
    if not args.resume and os.path.exists(journal):
        os.remove(journal)
    done = {o.site.id for o in kept}
    if kept:
        print(f"resuming: {len(kept)} outcomes from {journal}", flush=True)
    new, left = mutate.run_sites([s for s in ss if s.id not in done], jobs=args.jobs, timeout=args.timeout,
                                 budget=args.budget, first_kill=args.first_kill, progress=progress, journal=journal)
    if args.env_map:
        for o in new:
            o.config = _config(args.env_map)
    order = {s.id: i for i, s in enumerate(ss)}
    outcomes = sorted(kept + new, key=lambda o: order[o.site.id])
    mutate.apply_equivalents(outcomes, mutate.load_equivalents())
    secs = time.perf_counter() - t0 + sum(o.seconds for o in kept) / max(args.jobs, 1)
    cmd = "bench/mutate_campaign.py " + " ".join(argv if argv is not None else sys.argv[1:])
    js, md = mutate.write_report(args.out, outcomes, left, command=cmd, seconds=secs, jobs=args.jobs)
    rate = len(outcomes) / (secs / 60) if secs else 0
    print(f"{len(outcomes)} mutants in {secs:.0f} s ({rate:.1f} / min); {len(left)} not run "
          f"(~{len(left) / rate:.0f} min more at this rate)" if rate else "")
    print(f"wrote {js} and {md}")
    if not left and os.path.exists(journal):
        os.remove(journal)  # the report holds every outcome now; with mutants left, --resume goes on from it
    return 0


if __name__ == "__main__":
    sys.exit(main())
