"""``parity diff BASE.json NEW.json``: what changed between two reports (a baseline and a new run).

Rows are matched by (check, pair, control). Reported:
- new failures: a row that was acceptable (pass / not_provided / known_difference / detected) and is not
  any more (fail, error, missed), and a failing row of a check that is new;
- fixed: the reverse;
- ratio growth: a row passing in both whose worst |error| / allowed grew by more than ``threshold``
  (default 2x); ratios below ``floor`` (default 1e-3 of the tolerance) count as the floor, so noise at the
  last bits does not read as growth;
- lost coverage: a check or control of the baseline that is gone, a row that compared something before and
  is ``not_provided`` now;
- new checks and controls; environment changes (python, numpy, jax, jaxlib, torch, flax, optax, mctx,
  backend, every pinned numerics setting).
``regressed`` is true when there is a new failure, a ratio growth or lost coverage; ``parity diff`` then
exits 1. Environment changes are shown, never judged.

Reports of schema 1 .. ``report.SCHEMA`` are read; anything else is refused with a message that says why.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .base import ParityError
from .pairs import pair_label

OK = ("pass", "not_provided", "not_applicable", "known_difference", "detected")
BAD = ("fail", "error", "missed")
ENV_KEYS = ("python", "numpy", "scipy", "jax", "jaxlib", "flax", "optax", "mctx", "torch", "backend", "platform")


def _schema_max() -> int:
    from .report import SCHEMA

    return SCHEMA


def load(path: str | Path) -> dict:
    """A report.json as a dict, or a ParityError that says what is wrong with it."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ParityError(f"report {p}: cannot be read: {e.strerror or e}") from e
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ParityError(f"report {p}: not JSON ({e})") from e
    return validate(data, str(p))


def validate(data: Any, where: str = "report") -> dict:
    if not isinstance(data, dict) or "results" not in data:
        raise ParityError(f"{where}: not a parity report (expected a JSON object with 'schema' and 'results', as "
                          "written by `parity report`)")
    schema = data.get("schema")
    top = _schema_max()
    if not isinstance(schema, int):
        raise ParityError(f"{where}: no integer 'schema' field: not a parity report, or one older than schema 1 "
                          "(regenerate it with `parity report`)")
    if schema > top:
        raise ParityError(f"{where}: report schema {schema} is newer than this harness reads (1..{top}): "
                          "upgrade backend-parity or regenerate the baseline with this version")
    if schema < 1:
        raise ParityError(f"{where}: report schema {schema} is not supported (1..{top}): regenerate it")
    if not isinstance(data["results"], list):
        raise ParityError(f"{where}: 'results' is not a list")
    for i, r in enumerate(data["results"]):
        if not isinstance(r, dict) or not {"check", "pair", "status"} <= set(r):
            raise ParityError(f"{where}: results[{i}] lacks check / pair / status")
    return data


def _key(r: dict) -> tuple:
    return (r["check"], tuple(r["pair"]), r.get("control"))


def _ratio(r: dict) -> float | None:
    v = r.get("tol_ratio")
    if v is None:
        return None
    if v == "inf":
        return math.inf
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _row(r_old: dict | None, r_new: dict | None) -> dict:
    r = r_new or r_old
    return {"check": r["check"], "pair": list(r["pair"]), "control": r.get("control"),
            "before": r_old["status"] if r_old else None, "after": r_new["status"] if r_new else None,
            "ratio_before": _ratio(r_old) if r_old else None, "ratio_after": _ratio(r_new) if r_new else None,
            "blame": (r_new or {}).get("blame"),
            "components": (r_new or {}).get("failing_components") or [],
            "reproduce": (r_new or {}).get("reproduce", "")}


def _flat_env(env: dict) -> dict:
    out = {k: env.get(k) for k in ENV_KEYS if k in env}
    for k, v in (env.get("numerics") or {}).items():
        out[f"numerics.{k}"] = v
    return out


def diff(base: dict, new: dict, *, threshold: float = 2.0, floor: float = 1e-3) -> dict:
    """The changes from report ``base`` to report ``new`` (both validated dicts)."""
    validate(base, "baseline")
    validate(new, "new report")
    old_rows = {_key(r): r for r in base["results"]}
    new_rows = {_key(r): r for r in new["results"]}
    out: dict[str, Any] = {"threshold": threshold, "floor": floor,
                           "base": {k: base.get(k) for k in ("created", "command", "schema")},
                           "new": {k: new.get(k) for k in ("created", "command", "schema")},
                           "new_failures": [], "fixed": [], "ratio_growth": [], "lost_coverage": [],
                           "new_checks": [], "removed_checks": [], "new_controls": [], "removed_controls": [],
                           "environment": []}
    old_checks = {r["check"] for r in base["results"]}
    new_checks = {r["check"] for r in new["results"]}
    out["new_checks"] = sorted(new_checks - old_checks)
    out["removed_checks"] = sorted(old_checks - new_checks)
    ctl = lambda rows: {(k[0], k[2]) for k in rows if k[2] is not None}
    out["new_controls"] = [list(x) for x in sorted(ctl(new_rows) - ctl(old_rows))]
    out["removed_controls"] = [list(x) for x in sorted(ctl(old_rows) - ctl(new_rows))
                               if x[0] not in out["removed_checks"]]
    for k, rn in new_rows.items():
        ro = old_rows.get(k)
        if ro is None:
            if rn["status"] in BAD:
                out["new_failures"].append(_row(None, rn))
            continue
        so, sn = ro["status"], rn["status"]
        if so not in BAD and sn in BAD:
            out["new_failures"].append(_row(ro, rn))
        elif so in BAD and sn not in BAD:
            out["fixed"].append(_row(ro, rn))
        elif so in ("pass", "known_difference") and sn in ("not_provided", "not_applicable"):
            out["lost_coverage"].append({**_row(ro, rn), "why": f"compared before, {sn} now"})
        elif so == sn == "pass":
            a, b = _ratio(ro), _ratio(rn)
            if a is not None and b is not None and b > threshold * max(a, floor) and b > floor:
                row = _row(ro, rn)
                row["growth"] = b / max(a, floor)
                out["ratio_growth"].append(row)
    for k, ro in old_rows.items():
        if k not in new_rows and ro["check"] in new_checks and ro.get("control") is None:
            out["lost_coverage"].append({**_row(ro, None), "why": "pair no longer compared"})
    for c in out["removed_checks"]:
        out["lost_coverage"].append({"check": c, "pair": [], "control": None, "before": "present", "after": None,
                                     "why": "check removed"})
    for c, name in out["removed_controls"]:
        out["lost_coverage"].append({"check": c, "pair": [], "control": name, "before": "present", "after": None,
                                     "why": "negative control removed"})
    eo, en = _flat_env(base.get("environment") or {}), _flat_env(new.get("environment") or {})
    for k in sorted(set(eo) | set(en)):
        if eo.get(k) != en.get(k):
            out["environment"].append({"key": k, "before": eo.get(k), "after": en.get(k)})
    out["ratio_growth"].sort(key=lambda r: -r["growth"])
    out["regressed"] = bool(out["new_failures"] or out["ratio_growth"] or out["lost_coverage"])
    return out


def exit_code(d: dict) -> int:
    return 1 if d["regressed"] else 0


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------


def _pair(r: dict) -> str:
    p = r.get("pair") or []
    return pair_label(p) if p else ""


def _num(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.3g}"


def _what(r: dict) -> str:
    return f"`{r['check']}`" + (f" [{r['control']}]" if r.get("control") else "")


def verdict(d: dict) -> str:
    n = len(d["new_failures"]), len(d["ratio_growth"]), len(d["lost_coverage"]), len(d["fixed"])
    head = "REGRESSED" if d["regressed"] else "NO REGRESSION"
    return (f"{head}: {n[0]} new failure(s), {n[1]} tolerance ratio(s) grew > {d['threshold']:g}x, "
            f"{n[2]} lost coverage, {n[3]} fixed, {len(d['new_checks'])} new check(s), "
            f"{len(d['environment'])} environment change(s)")


def to_markdown(d: dict, *, heading: str = "##") -> str:
    """Markdown fit to paste in a pull request."""
    lines = [f"{heading} Parity changes since the baseline", "",
             f"**{verdict(d)}**", "",
             f"Baseline: {d['base'].get('created') or '?'} (`{d['base'].get('command') or '?'}`); "
             f"new: {d['new'].get('created') or '?'}.", ""]

    def table(title, rows, cols):
        if not rows:
            return
        lines.extend([f"{heading}# {title} ({len(rows)})", "", "| " + " | ".join(c[0] for c in cols) + " |",
                      "|" + "---|" * len(cols)])
        for r in rows:
            lines.append("| " + " | ".join(c[1](r) for c in cols) + " |")
        lines.append("")

    status = lambda r: f"{r.get('before') or '(new)'} -> {r.get('after') or '(gone)'}"
    table("New failures", d["new_failures"],
          [("check", _what), ("pair", _pair), ("status", status), ("worst ratio", lambda r: _num(r["ratio_after"])),
           ("deviating side", lambda r: r.get("blame") or "-"),
           ("component", lambda r: ", ".join(f"`{c}`" for c in r.get("components", [])) or "-")])
    table(f"Tolerance ratio grew more than {d['threshold']:g}x (still passing)", d["ratio_growth"],
          [("check", _what), ("pair", _pair), ("ratio before", lambda r: _num(r["ratio_before"])),
           ("ratio now", lambda r: _num(r["ratio_after"])), ("growth", lambda r: f"{r['growth']:.3g}x")])
    table("Lost coverage", d["lost_coverage"],
          [("check", _what), ("pair", _pair), ("why", lambda r: r["why"])])
    table("Fixed", d["fixed"], [("check", _what), ("pair", _pair), ("status", status)])
    if d["new_checks"] or d["new_controls"]:
        lines += [f"{heading}# New checks and controls", ""]
        lines += [f"- check `{c}`" for c in d["new_checks"]]
        lines += [f"- control `{c}` [{n}]" for c, n in d["new_controls"] if c not in d["new_checks"]]
        lines.append("")
    table("Environment", d["environment"],
          [("setting", lambda r: f"`{r['key']}`"), ("baseline", lambda r: f"{r['before']}"),
           ("now", lambda r: f"{r['after']}")])
    if not any(d[k] for k in ("new_failures", "ratio_growth", "lost_coverage", "fixed", "new_checks",
                              "new_controls", "environment")):
        lines += ["Nothing changed.", ""]
    return "\n".join(lines) + "\n"


def to_html(d: dict) -> str:
    from html import escape as e

    cls = "bad" if d["regressed"] else "ok"
    out = [f"<div class='verdict {cls}'>{e(verdict(d))}</div>",
           f"<p class='muted'>baseline {e(str(d['base'].get('created')))} &middot; "
           f"<code>{e(str(d['base'].get('command')))}</code></p>"]

    def table(title, rows, cols):
        if not rows:
            return
        out.append(f"<h3>{e(title)} ({len(rows)})</h3><table><tr>" + "".join(f"<th>{e(c)}</th>" for c, _ in cols)
                   + "</tr>")
        for r in rows:
            out.append("<tr>" + "".join(f"<td>{e(str(f(r)))}</td>" for _, f in cols) + "</tr>")
        out.append("</table>")

    what = lambda r: r["check"] + (f" [{r['control']}]" if r.get("control") else "")
    status = lambda r: f"{r.get('before') or '(new)'} -> {r.get('after') or '(gone)'}"
    table("New failures", d["new_failures"], [("check", what), ("pair", _pair), ("status", status),
                                              ("worst ratio", lambda r: _num(r["ratio_after"])),
                                              ("deviating side", lambda r: r.get("blame") or "-")])
    table(f"Tolerance ratio grew more than {d['threshold']:g}x", d["ratio_growth"],
          [("check", what), ("pair", _pair), ("before", lambda r: _num(r["ratio_before"])),
           ("now", lambda r: _num(r["ratio_after"])), ("growth", lambda r: f"{r['growth']:.3g}x")])
    table("Lost coverage", d["lost_coverage"], [("check", what), ("pair", _pair), ("why", lambda r: r["why"])])
    table("Fixed", d["fixed"], [("check", what), ("pair", _pair), ("status", status)])
    if d["new_checks"]:
        out.append("<p>New checks: " + ", ".join(f"<code>{e(c)}</code>" for c in d["new_checks"]) + "</p>")
    table("Environment", d["environment"], [("setting", lambda r: r["key"]), ("baseline", lambda r: r["before"]),
                                            ("now", lambda r: r["after"])])
    return "\n".join(out)
