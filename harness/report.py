"""Reports: ``report.json`` (schema 1, for machines) and ``report.md`` (the compatibility matrix a person
reads in a PR), written atomically; and the terminal table of ``parity check``."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import platform
import sys
from collections import OrderedDict
from pathlib import Path

from .base import Mode, Result, Status
from .pairs import pair_label

SCHEMA = 1
_PACKAGES = ("numpy", "scipy", "jax", "jaxlib", "flax", "optax", "mctx", "torch", "hypothesis", "pytest")


def environment() -> dict:
    env: dict = {"python": platform.python_version(), "platform": platform.platform(),
                 "machine": platform.machine()}
    for p in _PACKAGES:
        try:
            # a package whose import is blocked (sys.modules[p] = None) counts as not installed
            env[p] = importlib.metadata.version(p) if sys.modules.get(p, True) is not None else None
        except importlib.metadata.PackageNotFoundError:
            env[p] = None
    if env.get("jax") and sys.modules.get("jax") is not None:
        import jax

        env["backend"] = jax.default_backend()
    elif env.get("jax"):
        env["backend"] = "cpu"
    else:
        env["backend"] = None
    from . import numerics

    env["numerics"] = numerics.pinned()
    return env


def summary_counts(results: list[Result]) -> dict:
    counts: dict = OrderedDict((s.value, 0) for s in Status)
    for r in results:
        counts[r.status.value] += 1
    return {k: v for k, v in counts.items() if v}


def exit_code(results: list[Result]) -> int:
    """0 every row ok; 1 a divergence; 2 nothing was compared (every row not_provided / not_applicable:
    declarations never make an empty run green)."""
    if not all(r.status.ok for r in results):
        return 1
    return 0 if nothing_compared(results) is None else 2


def nothing_compared(results: list[Result]) -> str | None:
    """A one-line reason when the rows compared nothing at all, else None."""
    if not results or any(r.status.compared for r in results):
        return None
    return (f"nothing was compared: all {len(results)} results are not_provided / not_applicable "
            "(a port's declarations or missing components left no check to run)")


def to_json(results: list[Result], *, command: str = "", seed: int | None = None, notes=(),
            declarations=(), deployed: dict | None = None) -> dict:
    out = {
        "declarations": list(declarations),
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "seed": seed,
        "environment": environment(),
        "notes": list(notes),
        "summary": summary_counts(results),
        "ok": exit_code(results) == 0,
        "results": [r.to_json() for r in results],
    }
    if deployed is not None:  # --numerics deployed: per-pair drift under the frameworks' defaults (harness.deployed)
        out["deployed"] = deployed
    return out


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return str(x)
    return f"{x:.2g}"


def _mode(r: Result) -> Mode:
    """The comparison mode a row recorded (its tolerance dict): it says how the row's cells read."""
    return Mode.from_description(r.tolerance)


def _tol_text(r: Result) -> str:
    return _mode(r).display(r.leaves)


def _measure(r: Result, leaves=None) -> str:
    return _mode(r).measure(r.leaves if leaves is None else leaves, passed=r.status == Status.PASS,
                            max_ulp=r.max_ulp)


_REASONS = {"shape": "shape", "none": "None", "dtype": "dtype", "nan_pattern": "NaN/Inf pattern",
            "missing": "missing output", "type": "type", "structure": "structure", "statistic": "distribution",
            "literal": "literal"}


def _fail_measure(r: Result, comp: str | None = None) -> str:
    """Why a failing row fails, from its failing leaves only (of ``comp`` when given): the reasons that are
    not a value comparison (``shape``, ``None``, ``dtype``...) and the failing values' distance, never a
    ratio borrowed from a passing leaf."""
    bad = [l for l in r.leaves if not l.ok and (comp is None or _owned_by(l.path, comp))]
    bad = bad or [l for l in r.leaves if not l.ok]
    if not bad:
        return _measure(r)
    reasons = list(dict.fromkeys(_REASONS[l.reason] for l in bad if l.reason in _REASONS))
    valued = [l for l in bad if l.reason in ("values", "nan_pattern")]
    dist = _mode(r).fail_measure(valued) if valued else ""
    return ", ".join(x for x in reasons + [dist] if x)


def _owned_by(path: str, comp: str) -> bool:
    return path.startswith(f"[{comp!r}]")


def _cell(r: Result, comp: str | None = None) -> str:
    s = r.status
    if s == Status.PASS:
        m = _measure(r)
        return f"pass ({m})" if m else "pass"
    if s == Status.FAIL:
        m = _fail_measure(r, comp)
        return f"**FAIL** ({m})" if m else "**FAIL**"
    if s == Status.ERROR:
        return "**ERROR**"
    if s == Status.KNOWN_DIFFERENCE:
        return f"known diff ({_fmt(r.max_abs)})"
    if s == Status.NOT_PROVIDED:
        return "not provided"
    if s == Status.NOT_APPLICABLE:
        return "n/a"
    return s.value


_SEVERITY = {Status.ERROR: 5, Status.FAIL: 4, Status.KNOWN_DIFFERENCE: 3, Status.PASS: 2, Status.NOT_PROVIDED: 1,
             Status.NOT_APPLICABLE: 1}
_NOT_ATTRIBUTABLE = 3.5  # a failing check that cannot say which component: above pass, below a named FAIL
_NOT_COMPARED = 1.5  # another component of the check raised: this one was not compared


def _component_view(r: Result, comp: str) -> tuple[float, str, bool]:
    """(severity, cell, counts as a failure of ``comp``) of one row seen from one component: a failing row
    counts only for the components it names; a row that cannot name one says so."""
    if r.status not in (Status.FAIL, Status.ERROR) or comp in r.failing_components:
        return _SEVERITY.get(r.status, 0) + min(r.tol_ratio or 0, 1e9) * 1e-12, _cell(r, comp), \
            r.status in (Status.FAIL, Status.ERROR)
    if r.failing_components:  # attributed to other components
        named = ", ".join(f"`{c}`" for c in r.failing_components)
        if r.status == Status.ERROR:
            return _NOT_COMPARED, f"not compared (error in {named})", False
        mine = [l for l in r.leaves if _owned_by(l.path, comp)]
        m = _measure(r, mine) if mine else ""
        return _SEVERITY[Status.PASS], (f"pass ({m})" if m else "pass"), False
    what = "check failed" if r.status == Status.FAIL else "check errored"
    return _NOT_ATTRIBUTABLE, f"{what}, component not attributable", False


def _numerics_line(env: dict) -> str:
    n = env.get("numerics", {})
    sem = n.get("jax_semantics", {})
    return (f"Numerics: **{n.get('mode', 'pinned')}**; device {n.get('device', 'cpu')} (torch "
            f"{n.get('torch_device', '-')}, JAX backend {n.get('jax_backend', '-')} {n.get('jax_devices', '')}); "
            f"JAX stream semantics {sem.get('jax_semantics')} ({sem.get('releases')}; {sem.get('chosen_by')}).")


def _component_table(parity: list[Result], pairs: list[str]) -> list[str]:
    """One row per component: per pair the worst status over the checks that exercise it."""
    rows: OrderedDict = OrderedDict()
    for r in parity:
        for comp in _components_of(r):
            rows.setdefault(comp, []).append(r)
    out = ["| component | " + " | ".join(pairs) + " | checks | deviating side |",
           "|---|" + "---|" * len(pairs) + "---|---|"]
    for comp in sorted(rows):
        rs = rows[comp]
        cells = []
        for p in pairs:
            views = [_component_view(r, comp) for r in rs if pair_label(r.pair) == p]
            if not views:
                cells.append("")
                continue
            worst = max(views, key=lambda v: v[0])
            n_bad = sum(v[2] for v in views)
            cells.append(worst[1] + (f" in {n_bad}/{len(views)}" if n_bad else ""))
        blame = sorted({r.blame for r in rs if r.blame and (comp in r.failing_components or not r.failing_components)})
        checks = sorted({r.check for r in rs})
        out.append(f"| `{comp}` | " + " | ".join(cells) + f" | {len(checks)} | {'; '.join(blame) or '-'} |")
    return out


def _components_of(r: Result) -> list[str]:
    return r.components or [r.component]


def to_markdown(results: list[Result], *, command: str = "", notes=(), declarations=(),
                deployed: dict | None = None) -> str:
    env = environment()
    parity = [r for r in results if r.control is None]
    controls = [r for r in results if r.control is not None]
    pairs: list[str] = []
    for r in parity:
        lbl = pair_label(r.pair)
        if lbl not in pairs:
            pairs.append(lbl)
    rows: OrderedDict = OrderedDict()
    for r in parity:
        rows.setdefault(r.check, []).append(r)
    counts = summary_counts(results)
    ok = exit_code(results) == 0
    lines = [
        "# Backend parity report",
        "",
        f"**{'ALL CHECKS PASS' if ok else 'DIVERGENCES FOUND'}** -- " + ", ".join(f"{v} {k}" for k, v in counts.items()),
        "",
        f"Environment: Python {env['python']}, numpy {env['numpy']}, jax {env.get('jax')} / jaxlib "
        f"{env.get('jaxlib')} ({env.get('backend')}), torch {env.get('torch')}, flax {env.get('flax')}, optax "
        f"{env.get('optax')}, mctx {env.get('mctx')}. Command: `{command}`.",
        "",
        _numerics_line(env) + (" Drift under the frameworks' own defaults: see the deployed section below."
                               if deployed is not None else ""),
        "",
        "Cells: status (worst error as a multiple of the allowed tolerance -- `0.3x tol` passes, `>1x` fails --, "
        "or the ulp distance, or the smallest KS p-value). Tolerances come from the dtype policy (torch.testing's "
        "table) unless the check states an override and its reason. The deviating side is decided by the NumPy "
        "float64 oracle. In the matrix a failing check marks only the components it names; a check that "
        "cannot attribute a failing leaf to one component says `check failed, component not attributable`.",
        "",
        "## Compatibility matrix (by component)",
        "",
    ]
    lines += _component_table(parity, pairs)
    lines += [
        "",
        "## Checks",
        "",
        "| check | component | " + " | ".join(pairs) + " | tolerance | deviating side |",
        "|---|---|" + "---|" * len(pairs) + "---|---|",
    ]
    for check, rs in rows.items():
        cells = {pair_label(r.pair): r for r in rs}
        blame = sorted({r.blame for r in rs if r.blame})
        comps = sorted({c for r in rs for c in r.failing_components}) or [rs[0].component]
        lines.append(f"| `{check}` | {', '.join(f'`{c}`' for c in comps)} | "
                     + " | ".join(_cell(cells[p]) if p in cells else "" for p in pairs)
                     + f" | {_tol_text(rs[0])} | {'; '.join(blame) if blame else '-'} |")
    if controls:
        det = sum(r.status == Status.DETECTED for r in controls)
        lines += ["", f"## Negative controls ({det} of {len(controls)} detected)", "",
                  "Each control plants a divergence in one implementation; the check must report it.", "",
                  "| check | control | planted in | against | status | named component |",
                  "|---|---|---|---|---|---|"]
        for r in controls:
            st = r.status.value if r.status != Status.MISSED else "**MISSED**"
            lines.append(f"| `{r.check}` | {r.control} | {r.pair[0].split('~')[0]} | {r.pair[1]} | {st} | "
                         f"{', '.join(r.failing_components) or '-'} |")
    from .declarations import markdown as _declarations_md

    lines += _declarations_md(list(declarations))
    lines += _declared_rows(results)
    lines += _slack_rows(parity)
    bad = [r for r in results if not r.status.ok]
    if bad:
        lines += ["", "## Failures", ""]
        for r in bad:
            lines += [f"### `{r.check}` {pair_label(r.pair)}: {r.status.value}", "", "```", r.message.strip(),
                      f"Reproduce: {r.reproduce}", "```", ""]
    if deployed is not None:
        from .deployed import markdown as deployed_markdown

        lines += deployed_markdown(deployed)
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _declared_rows(results: list[Result]) -> list[str]:
    """Known differences and not-applicable rows, each with its reason (never a silent pass)."""
    rows = [r for r in results if r.control is None and r.status in (Status.KNOWN_DIFFERENCE, Status.NOT_APPLICABLE)]
    if not rows:
        return []
    out = ["", "## Known differences and not applicable", "", "| check | pair | status | reason |", "|---|---|---|---|"]
    for r in rows:
        why = r.message.strip().splitlines()[0] if r.message.strip() else ""
        out.append(f"| `{r.check}` | {pair_label(r.pair)} | {r.status.value} | {why.replace('|', '/')} |")
    return out


def _slack_rows(parity: list[Result]) -> list[str]:
    """Passing rows whose tolerance exceeds 1% of the term compared: what such a check cannot see, and why."""
    from .tolerance import SLACK_LIMIT

    worst: OrderedDict = OrderedDict()
    for r in parity:
        if r.status == Status.PASS and r.slack is not None and r.slack > SLACK_LIMIT:
            if r.check not in worst or r.slack > worst[r.check].slack:
                worst[r.check] = r
    if not worst:
        return []
    out = ["", f"## Tolerance slack ({len(worst)} check(s) allow more than {SLACK_LIMIT:.0%} of the term compared)", "",
           "A divergence smaller than the slack passes. The worst passing row of each check:", "",
           "| check | pair | leaf | slack | why |", "|---|---|---|---|---|"]
    for r in worst.values():
        leaf = max((l for l in r.leaves if l.slack is not None), key=lambda l: l.slack).path
        why = r.slack_reason.replace("|", "/") or "**no reason given**"
        out.append(f"| `{r.check}` | {pair_label(r.pair)} | `{leaf or '<root>'}` | {r.slack:.1%} | {why} |")
    return out


def write(out_dir: str | Path, results: list[Result], *, command: str = "", seed: int | None = None,
          notes=(), declarations=(), deployed: dict | None = None,
          baseline: dict | None = None) -> tuple[Path, Path]:
    """Write report.json, report.md and report.html atomically (temp file + rename in the same directory).

    With ``baseline`` (a loaded report.json, see ``harness.diff``) each of the three also shows what changed
    since it; report.json then carries the diff as ``baseline_diff``."""
    from .fixtures import atomic_write_bytes

    out = Path(out_dir)
    js, md = out / "report.json", out / "report.md"
    obj = to_json(results, command=command, seed=seed, notes=notes, declarations=declarations, deployed=deployed)
    text = to_markdown(results, command=command, notes=notes, declarations=declarations, deployed=deployed)
    change = None
    if baseline is not None:
        from . import diff

        change = obj["baseline_diff"] = diff.diff(baseline, obj)
        text += "\n" + diff.to_markdown(change)
    data = json.dumps(obj, indent=1, allow_nan=False)
    atomic_write_bytes(js, (data + "\n").encode())
    atomic_write_bytes(md, text.encode())
    from .html_report import render

    atomic_write_bytes(out / "report.html", render(obj, diff=change).encode())
    return js, md


def table(results: list[Result]) -> str:
    """The terminal table of ``parity check``."""
    head = ("check", "pair", "status", "max_abs", "max_rel", "ulp", "tolerance", "blame")
    rows = []
    for r in results:
        pair = pair_label(r.pair)
        rows.append((r.check + (f" [{r.control}]" if r.control else ""), pair, r.status.value, _fmt(r.max_abs),
                     _fmt(r.max_rel), _fmt(r.max_ulp), _tol_text(r), r.blame or ""))
    widths = [max(len(h), *(len(x[i]) for x in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*x) for x in rows])
