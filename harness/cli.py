"""``parity`` command line.

    parity check  [-k EXPR] [--port MODULE:ATTR]... [--seed N] [--golden] [--no-controls | --controls-only]
                  [--jobs N [--job-timeout SECONDS]]
    parity report --out DIR [same selectors]
    parity list   [-k EXPR]
    parity fixtures regen  [-k EXPR] [--seed N]
    parity fixtures verify [-k EXPR]        (golden files and the fuzzer's regression cases)
    parity mutate --area AREA | --module PATH [--function NAME] [--jobs N] [--budget S] [--list] [--out DIR]
    parity report --out DIR --baseline BASE.json [--threshold 2]
    parity diff BASE.json NEW.json [--threshold 2] [--format md|json|html] [-o FILE]
    parity html REPORT.json [-o FILE]
    parity fuzz [-k EXPR] [--port MODULE:ATTR]... [--minutes M | --examples N] [--seed N]
    parity docs [--check | --write] [--readme README.md]   (the README's generated sections)

Exit codes: 0 every result is pass / not_provided / not_applicable / known_difference / detected (and at
least one compared something); 1 a divergence (fail, error, or a missed negative control); 2 a usage or
configuration error (a port that does not import, an unknown check or component name, a bad -k expression
or seed, a declaration the catalogue does not know, a run that would compare nothing, a report directory
that cannot be written, corrupt fixtures asked for) or an interrupted run; 3 the harness itself crashed
(what was computed is still written, to --out or a fallback directory it names).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from .base import PREFIX, ParityError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="parity", description="Backend-parity checks for PyTorch <-> JAX ports.")
    sub = p.add_subparsers(dest="cmd", required=True)

    def selectors(sp, controls=True):
        sp.add_argument("-k", dest="keyword", default=None, help="pytest-style keyword expression over check names")
        sp.add_argument("--port", action="append", default=[], metavar="MODULE:ATTR",
                        help="add a user's port (an harness.base.Implementation); repeatable")
        sp.add_argument("--seed", type=_seed, default=0, help="seed of the checks' inputs, 0 <= seed < 2**32 "
                        "(default 0); it also seeds random / numpy / torch global RNGs per case")
        sp.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                        help="time one implementation may spend on one check before its row is an error and the "
                        "run goes on (default 600; 0: no limit; POSIX main thread only)")
        sp.add_argument("--impl", default=None, help="built-in implementations to use, comma separated "
                        "(default: numpy,jax,torch as installed)")
        sp.add_argument("--golden", action="store_true", help="also compare against the golden files in fixtures/")
        if controls:
            g = sp.add_mutually_exclusive_group()
            g.add_argument("--no-controls", action="store_true", help="skip the negative controls")
            g.add_argument("--controls-only", action="store_true", help="run only the negative controls")
        sp.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
        catalogue_option(sp)
        environment_options(sp)
        _jobs_arguments(sp)

    selectors(sub.add_parser("check", help="run checks, print a table"))
    r = sub.add_parser("report", help="run checks, write report.json and report.md")
    selectors(r)
    r.add_argument("--out", required=True, help="directory for report.json, report.md and report.html")
    _report_baseline_args(r)
    ls = sub.add_parser("list", help="list the checks and their controls")
    ls.add_argument("-k", dest="keyword", default=None)
    catalogue_option(ls)
    fx = sub.add_parser("fixtures", help="golden files")
    fxs = fx.add_subparsers(dest="fixtures_cmd", required=True)
    _h11_parsers(sub, selectors)
    for name in ("regen", "verify"):
        f = fxs.add_parser(name)
        environment_options(f, numerics=False)
        f.add_argument("-k", dest="keyword", default=None)
        f.add_argument("--seed", type=_seed, default=0)
        f.add_argument("--dir", default=None, help="fixture directory (default: the project's fixtures/)")
    _mutate_parser(sub)
    from .docs import add_arguments as docs_arguments

    docs_arguments(sub.add_parser("docs", help="check (default) or --write the README's generated sections: the "
                                  "check table and the components' signatures, from the catalogue"))
    return p


def _mutate_parser(sub) -> None:
    """``parity mutate``: the catalogue's own mutation score (harness/mutate.py)."""
    from .mutate import add_arguments

    add_arguments(sub.add_parser("mutate", help="mutate the references, run the catalogue on each mutant, "
                                 "write mutation.json / mutation.md"))


def catalogue_option(sp) -> None:
    sp.add_argument("--catalogue", default=None, metavar="MODULE",
                    help="the check catalogue module (MODULES + builtin; default: the installed entry point "
                         "parity.catalogues:builtin, or $PARITY_CATALOGUE)")


def environment_options(sp, numerics: bool = True) -> None:
    """--device, --numerics, --jax-semantics (harness.numerics; the pytest plugin has the same options)."""
    sp.add_argument("--device", choices=("cpu", "cuda"), default=None,
                    help="device of the torch references and ports (default cpu); JAX uses its default backend "
                         "with cuda, the CPU with cpu")
    if numerics:
        sp.add_argument("--numerics", choices=("pinned", "deployed"), default=None,
                        help="pinned (default): exact numerics pinned once; deployed: also measure each pair's drift "
                             "under the frameworks' own defaults (TF32 where the hardware has it), never a failure")
    sp.add_argument("--jax-semantics", default=None, metavar="VERSION",
                    help="which JAX's stream the NumPy / torch references reproduce: 0.4, 0.5, 0.7, 0.8, 0.11 or a "
                         "JAX version (default: the installed JAX's; state it for a run without JAX)")


def _numerics_summary() -> str:
    from reference.rng import semantics

    from . import numerics

    s = semantics.active()
    return (f"numerics: {numerics.mode()}, device {numerics.device()}; JAX stream semantics {s.name} ({s.releases}; "
            f"{semantics.source()})")


def _configure(args) -> None:
    from . import numerics

    numerics.configure(device=getattr(args, "device", None), jax_semantics=getattr(args, "jax_semantics", None))
    numerics.pin()


def _seed(text: str) -> int:
    from .runner import check_seed

    try:
        return check_seed(int(text))
    except (ValueError, ParityError):
        raise argparse.ArgumentTypeError(f"must be an integer with 0 <= seed < 2**32, got {text!r}") from None


def _setup(args):
    from . import catalogue, ports
    from .runner import Runner

    _configure(args)
    checks, notes = catalogue.load()
    all_checks = checks
    if getattr(args, "keyword", None):
        selected = catalogue.select(checks, args.keyword)
        if not selected:
            known = ", ".join(c.name for c in checks[:12])
            raise ParityError(f"no check matches -k {args.keyword!r} (known checks include: {known}; see `parity list`)")
        checks = selected
    fw = tuple(x.strip() for x in args.impl.split(",")) if getattr(args, "impl", None) else ports.BUILTIN_ORDER
    for f in fw:
        if f not in ports.BUILTIN_ORDER:
            raise ParityError(f"--impl: unknown implementation {f!r} (choose from {', '.join(ports.BUILTIN_ORDER)})")
    impls, more = ports.builtin(fw)
    if getattr(args, "impl", None):
        absent = [f for f in fw if f not in impls]
        if absent:
            raise ParityError(f"--impl {args.impl}: {', '.join(absent)} not installed")
    notes += more
    specs = getattr(args, "port", []) or []
    from .declarations import validate
    from .progress import check_port_components

    for spec in specs:
        port = ports.load_port(spec)
        check_port_components(port, all_checks, spec, impls)
        if port.name in impls:
            raise ParityError(f"--port {spec!r}: name {port.name!r} collides with another implementation: rename it")
        validate(port, catalogue.load()[0])
        impls[port.name] = port
    golden = None
    if getattr(args, "golden", False):
        from .fixtures import Store

        golden = Store()
        from reference.rng.semantics import golden_note

        notes += [n for n in (golden_note(),) if n]
    runner = Runner(impls, port_specs=specs, golden=golden, golden_all=not specs,
                    timeout=getattr(args, "timeout", None) or None)
    return checks, runner, notes


def _run(args, stream, results):
    """Run the selected checks, appending each row to ``results`` as it comes (kept if the run crashes)."""
    from .progress import ProgressLine, nothing_compared

    checks, runner, notes = _setup(args)
    parity, controls = not args.controls_only, not args.no_controls
    total, problem = nothing_compared(runner, checks, notes, parity=parity, controls=controls, seed=args.seed)
    if problem:
        raise ParityError(problem)
    bar = ProgressLine(total)
    runner.on_start = bar.start

    def progress(r):
        results.append(r)
        if args.quiet and r.status.ok:
            return
        bar.clear()
        tag = f" [{r.control}]" if r.control else ""
        stream.write(f"{r.status.value:>16}  {r.check}{tag}  {r.pair[0]} vs {r.pair[1]}\n")
        stream.flush()

    try:
        if getattr(args, "jobs", 1) > 1:
            from .parallel import run_parallel

            run_parallel(args, checks, runner, args.jobs, progress=progress, timeout=args.job_timeout)
        else:
            runner.run_all(checks, seed=args.seed, controls=controls, parity=parity, progress=progress)
    finally:
        bar.clear()
    from .declarations import summary

    args.declarations = summary(runner.impls)
    args.deployed = None
    if getattr(args, "numerics", None) == "deployed" and not args.controls_only:
        from .deployed import measure
        from .deployed import table as deployed_table

        args.deployed = measure(runner, checks, seed=args.seed)
        stream.write("\n" + deployed_table(args.deployed) + "\n")
    return results, notes


def _jobs_arguments(sp):
    """--jobs N / --job-timeout S: checks in N worker processes (harness/parallel.py)."""
    def positive(text):
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
        return n

    sp.add_argument("-j", "--jobs", type=positive, default=1, metavar="N",
                    help="run the checks in N worker processes (default 1: in this process); same results")
    sp.add_argument("--job-timeout", type=float, default=None, metavar="SECONDS",
                    help="with --jobs: a check running longer is killed and reported as error rows "
                         "(default: PARITY_JOB_TIMEOUT or 900)")


def _print_summary(results, notes, stream):
    from .report import summary_counts, table

    stream.write("\n" + table(results) + "\n")
    bad = [r for r in results if not r.status.ok]
    for r in bad:
        stream.write(f"\n{r.message.strip()}\nReproduce: {r.reproduce}\n")
    for n in notes:
        stream.write(f"note: {n}\n")
    stream.write(_numerics_summary() + "\n")
    counts = summary_counts(results)
    stream.write("\n" + ", ".join(f"{v} {k}" for k, v in counts.items()) + "\n")
    from .report import nothing_compared

    empty = nothing_compared(results)
    if empty:
        stream.write(f"{PREFIX} {empty}\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    out = sys.stdout
    command = "parity " + " ".join(shlex.quote(a) for a in argv)
    try:
        from . import catalogue as _catalogue

        _catalogue.use(getattr(args, "catalogue", None))
        if args.cmd == "list":
            from . import catalogue

            checks, notes = catalogue.load()
            selected = catalogue.select(checks, args.keyword)
            if not selected:
                raise ParityError(f"no check matches -k {args.keyword!r} ({len(checks)} checks; `parity list` "
                                  "shows them all)")
            for c in selected:
                out.write(f"{c.name}  [{c.mode.kind}]  components: {', '.join(c.components)}\n")
                for ctl in c.controls:
                    out.write(f"    control {ctl.name} ({ctl.target}): {ctl.description}\n")
            for n in notes:
                out.write(f"note: {n}\n")
            return 0
        if args.cmd == "fixtures":
            return _fixtures(args, out)
        if args.cmd == "mutate":
            from . import mutate

            return mutate.main(args, out, command=command)
        if args.cmd == "docs":
            from . import docs

            return docs.main(args, out)
        if args.cmd in ("diff", "html", "fuzz"):
            return _h11_main(args, out, command)
        return _check_or_report(args, out, command)
    except ParityError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        sys.stderr.write(f"{PREFIX} interrupted\n")
        return 2


def _check_or_report(args, out, command: str) -> int:
    """check / report: the destination checked first; on an interrupt or a crash, what was computed is still
    printed and written (to --out, else a fallback directory that is named)."""
    from .progress import check_out_dir, write_fallback
    from .runner import RunInterrupted

    dest = str(check_out_dir(args.out)) if args.cmd == "report" else None
    baseline = _load_baseline(args) if args.cmd == "report" else None
    results: list = []
    notes: list = []
    try:
        _, notes = _run(args, out, results)
        from .report import exit_code, write

        _print_summary(results, notes, out)
        if dest:
            js, md = write(dest, results, command=command, seed=args.seed, notes=notes,
                           declarations=getattr(args, "declarations", ()),
                           deployed=getattr(args, "deployed", None), baseline=baseline)
            out.write(f"wrote {js}, {md} and {md.with_suffix('.html')}\n")
            if baseline is not None:
                return max(exit_code(results), _baseline_verdict(js, out))
        return exit_code(results)
    except ParityError:
        raise
    except (RunInterrupted, KeyboardInterrupt) as e:
        why = e.message if isinstance(e, RunInterrupted) else "KeyboardInterrupt"
        if results:
            _print_summary(results, notes, out)
        where = write_fallback(dest, results, command=command, seed=args.seed, notes=notes,
                               error=f"interrupted: {why}") if dest else None
        sys.stderr.write(f"{PREFIX} interrupted: {why}; {len(results)} result(s) so far"
                         + (f", written to {where}" if where else "") + "\n")
        return 2
    except Exception as e:  # noqa: BLE001 - the harness crashed: keep what was computed
        import traceback

        traceback.print_exc(file=sys.stderr)
        msg = f"{type(e).__name__}: {e}"
        if results and args.cmd == "report":
            where = write_fallback(dest, results, command=command, seed=args.seed, notes=notes, error=msg)
            sys.stderr.write(f"{PREFIX} internal error after {len(results)} result(s): {msg}; what was computed is "
                             f"written to {where}\n")
        else:
            sys.stderr.write(f"{PREFIX} internal error: {msg}\n")
        return 3


def _fixtures(args, out) -> int:
    from . import catalogue, ports
    from .fixtures import DEFAULT_DIR, Store
    from .runner import Runner

    _configure(args)
    checks, _ = catalogue.load()
    store = Store(args.dir or DEFAULT_DIR)
    if args.fixtures_cmd == "verify":
        rows = store.verify(checks)
        from . import regressions

        rows += regressions.verify(checks, store.root / "regressions")
        if args.keyword:  # judge against the whole catalogue, then show the selected checks' files only
            names = {c.name for c in catalogue.select(checks, args.keyword)}
            rows = [r for r in rows if r.path.replace("\\", "/").split("/")[-2] in names]
        bad = 0
        for r in rows:
            out.write(f"{r.status:>10}  {r.path}{'  -- ' + r.detail if r.detail else ''}\n")
            bad += r.status != "ok"
        out.write(f"{len(rows) - bad} ok, {bad} problem(s)\n")
        return 1 if bad else 0
    selected = catalogue.select(checks, args.keyword)
    impls, notes = ports.builtin()
    runner = Runner(impls)
    n = 0
    for c in selected:
        if not c.fixture or c.kind != "pair":
            continue
        src = impls.get("jax") if "jax" in c.frameworks and "jax" in impls else impls["numpy"]
        path = store.write(c, args.seed, src, runner)
        runner.drop_cache(c)
        out.write(f"wrote {path} (from {src.name})\n")
        n += 1
    out.write(f"{n} golden file(s) written\n")
    return 0


# -- issue 11: report --baseline, diff, html, fuzz ------------------------------------------------------


def _report_baseline_args(r) -> None:
    r.add_argument("--baseline", default=None, metavar="BASE.json",
                   help="compare with an earlier report.json: changes shown in all three files; exit 1 on regression")
    r.add_argument("--threshold", type=float, default=2.0,
                   help="with --baseline: a passing check whose tolerance ratio grew more than this factor regressed")


def _h11_parsers(sub, selectors) -> None:
    d = sub.add_parser("diff", help="what changed between two report.json files; exit 1 if anything regressed")
    d.add_argument("base", metavar="BASE.json")
    d.add_argument("new", metavar="NEW.json")
    d.add_argument("--threshold", type=float, default=2.0,
                   help="tolerance-ratio growth that counts as a regression for a passing check (default 2)")
    d.add_argument("--floor", type=float, default=1e-3,
                   help="ratios below this count as this (noise in the last bits is not growth; default 1e-3)")
    d.add_argument("--format", choices=("md", "json", "html"), default="md")
    d.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    h = sub.add_parser("html", help="render report.html from a report.json")
    h.add_argument("report", metavar="REPORT.json")
    h.add_argument("-o", "--output", default=None, help="default: report.html beside the JSON")
    h.add_argument("--baseline", default=None, metavar="BASE.json")
    h.add_argument("--threshold", type=float, default=2.0)
    f = sub.add_parser("fuzz", help="hypothesis on every check with a strategy; counterexamples saved as "
                                    "regression cases under fixtures/regressions/")
    selectors(f, controls=False)
    g = f.add_mutually_exclusive_group()
    g.add_argument("--minutes", type=float, default=None, help="time budget (default 1 minute)")
    g.add_argument("--examples", type=int, default=None, help="example budget, over all checks")
    f.add_argument("--regressions", default=None, metavar="DIR",
                   help="where counterexamples are saved (default fixtures/regressions/)")
    f.add_argument("--no-save", action="store_true", help="report counterexamples without saving them")


def _load_baseline(args):
    if not getattr(args, "baseline", None):
        return None
    from . import diff

    return diff.load(args.baseline)  # before any check runs: a bad baseline is a usage error (exit 2)


def _baseline_verdict(js, out) -> int:
    import json

    d = json.loads(js.read_text())["baseline_diff"]
    from . import diff

    out.write(diff.verdict(d) + "\n")
    return diff.exit_code(d)


def _write_text(path, text: str, out) -> None:
    if path is None:
        out.write(text)
        return
    from pathlib import Path

    from .fixtures import atomic_write_bytes

    atomic_write_bytes(Path(path), text.encode())
    out.write(f"wrote {path}\n")


def _h11_main(args, out, command: str) -> int:
    if args.cmd == "diff":
        import json

        from . import diff

        d = diff.diff(diff.load(args.base), diff.load(args.new), threshold=args.threshold, floor=args.floor)
        if args.format == "json":
            text = json.dumps(d, indent=1, default=str) + "\n"
        elif args.format == "html":
            from .html_report import CSS

            text = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>parity diff</title><style>{CSS}"
                    f"</style></head><body><main><h1>Parity changes</h1>{diff.to_html(d)}</main></body></html>\n")
        else:
            text = diff.to_markdown(d)
        _write_text(args.output, text, out)
        return diff.exit_code(d)
    if args.cmd == "html":
        from pathlib import Path

        from . import diff
        from .html_report import render

        data = diff.load(args.report)
        change = None
        if args.baseline:
            change = diff.diff(diff.load(args.baseline), data, threshold=args.threshold)
        elif data.get("baseline_diff"):
            change = data["baseline_diff"]
        _write_text(args.output or str(Path(args.report).with_suffix(".html")), render(data, diff=change), out)
        return 0
    return _fuzz(args, out, command)


def _fuzz(args, out, command: str) -> int:
    from . import regressions
    from .fuzz import Fuzzer

    checks, runner, notes = _setup(args)
    port_names = [n for n, i in runner.impls.items() if i.role == "port"]
    root = args.regressions or regressions.DEFAULT_ROOT

    def save(found):
        if args.no_save:
            return None
        return str(regressions.save(root, found.check, found.case, found.results, ports=args.port,
                                    seed=found.seed, blob=found.blob, command=command, examples=found.examples))

    fz = Fuzzer(runner, checks, ports=port_names, seed=args.seed, stream=sys.stderr, on_found=save)
    if not fz.checks:
        raise ParityError("parity fuzz: none of the selected checks has a hypothesis strategy "
                          f"({'; '.join(fz.skipped[:5])})")
    summary = fz.run(minutes=args.minutes, examples=args.examples)
    out.write(f"fuzzed {len(fz.checks)} check(s): {summary.examples} examples in {summary.seconds:.1f}s "
              f"({summary.rate:.1f}/s)\n")
    for name, st in summary.per_check.items():
        rate = st["examples"] / st["seconds"] if st["seconds"] else 0.0
        out.write(f"  {name:<32} {st['examples']:>6} examples  {rate:7.1f}/s (harness time)\n")
    for f in summary.found:
        out.write(f"\ncounterexample: {f.check}\n")
        for r in f.results:
            out.write(f"{r.message.strip()}\nBlame: {r.blame}\n")
        out.write(f"hypothesis seed {f.seed}" + (f", {f.blob}" if f.blob else "") + "\n")
        if f.path:
            out.write(f"saved: {f.path} (replayed by ./run test parity_tests/test_regressions.py)\n")
    for n in notes:
        out.write(f"note: {n}\n")
    return 1 if summary.found else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
