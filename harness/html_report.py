"""``report.html``: the report a person reads, one self-contained file (inline CSS and SVG, no script, no
network at view time), rendered from the report's JSON (schema 1), so ``parity html report.json`` can
re-render an old run.

Sections: the verdict; the baseline diff (``--baseline``); the compatibility matrix as a heatmap of
tolerance ratios (log scale; every cell also says pass / FAIL in words and symbols, so it reads without
colour); per failing leaf the error distribution (|error| / allowed, ulp histogram) and where in the array
it sits; trajectories (leaf paths that index steps / epochs / simulations) as divergence-over-time curves
per pair with the first divergence marked; the negative controls; the environment.

Plots use matplotlib (the ``report`` extra) and are inlined as SVG. Without matplotlib the page says so and
keeps every table and number.
"""

from __future__ import annotations

import html
import io
import math
from typing import Any

from .modes import Mode
from .pairs import pair_label

RATIO_MIN, RATIO_MAX = 1e-4, 1e4  # colour scale of the heatmap (log10 -4 .. 4)
MIN_PLOT_ELEMENTS = 8  # smaller leaves get no distribution plots


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _f(x: Any) -> float | None:
    if x is None:
        return None
    if x == "inf":
        return math.inf
    if x == "-inf":
        return -math.inf
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _g(x: Any, digits: int = 2) -> str:
    v = _f(x)
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}g}"


# --------------------------------------------------------------------------------------------------
# colours (no matplotlib needed): green below the tolerance, yellow at it, red above, on log10(ratio)
# --------------------------------------------------------------------------------------------------

_STOPS = [(-4.0, (26, 152, 80)), (-2.0, (145, 207, 96)), (-0.5, (217, 239, 139)), (0.0, (254, 224, 139)),
          (1.0, (252, 141, 89)), (4.0, (190, 20, 30))]


def ratio_colour(r: float | None) -> str:
    if r is None:
        return "#eeeeee"
    if r <= 0:
        return "rgb(26,152,80)"
    x = max(-4.0, min(4.0, math.log10(r) if math.isfinite(r) else 4.0))
    for (x0, c0), (x1, c1) in zip(_STOPS, _STOPS[1:]):
        if x <= x1:
            t = (x - x0) / (x1 - x0)
            c = [round(a + t * (b - a)) for a, b in zip(c0, c1)]
            return f"rgb({c[0]},{c[1]},{c[2]})"
    return "rgb(190,20,30)"


def _cell(r: dict) -> tuple[str, str, str]:
    """(css class, style, text) of one matrix cell."""
    st = r["status"]
    mode = Mode.from_description(r.get("tolerance"), r.get("mode") or "")
    ratio = _f(r.get("tol_ratio"))
    if st == "pass":
        if ratio is not None and mode.scaled:
            return "pass", f"background:{ratio_colour(ratio)}", f"&#10003; {_g(ratio)}&times;"
        return "pass", "background:#c7e9c0", "&#10003; " + _e(mode.badge)
    if st == "fail":
        txt = f"&#10007; FAIL {_g(ratio)}&times;" if ratio is not None and mode.scaled else "&#10007; FAIL"
        return "fail", f"background:{ratio_colour(ratio if ratio is not None else math.inf)}", txt
    if st == "error":
        return "error", "", "&#9888; ERROR"
    if st == "known_difference":
        return "known", "", "&asymp; known"
    if st == "not_provided":
        return "np", "", "&ndash;"
    if st == "not_applicable":
        return "np", "", "n/a"
    return st, "", _e(st)


# --------------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------------


def _mpl():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "parity", "font.size": 8,
                                    "axes.titlesize": 8, "axes.labelsize": 8, "figure.dpi": 96})
        return plt
    except Exception:  # noqa: BLE001 - missing or broken matplotlib: the page degrades with a note
        return None


def _svg(plt, fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    s = buf.getvalue()
    return s[s.find("<svg"):]


def leaf_figure(plt, leaf: dict) -> str:
    """Three panels: |error| / allowed histogram, ulp histogram, location map."""
    sm = leaf.get("summary") or {}
    if (leaf.get("total") or 0) < MIN_PLOT_ELEMENTS:
        return ""  # a scalar or a handful of numbers: the table row says it all
    panels = [k for k in ("ratio_hist", "ulp_hist", "where") if k in sm]
    if not panels:
        return ""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 2.1))
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, k in zip(axes, panels):
        if k == "ratio_hist":
            h = sm[k]
            edges, counts = h["edges_log10"], h["counts"]
            xs = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
            cols = ["#d73027" if x > 0 else "#1a9850" for x in xs]
            ax.bar(xs, counts, width=0.45, color=cols)
            ax.axvline(0, color="k", lw=1, ls="--")
            ax.set_yscale("symlog", linthresh=1)
            ax.set_xlabel("log10(|error| / allowed)   (> 0 fails)")
            ax.set_ylabel("elements")
            ax.set_title(f"error vs allowed ({h.get('zero', 0)} exact)")
        elif k == "ulp_hist":
            h = sm[k]
            ax.bar(range(len(h["counts"])), h["counts"], color="#4575b4")
            step = max(1, len(h["labels"]) // 8)
            ax.set_xticks(range(0, len(h["labels"]), step))
            ax.set_xticklabels(h["labels"][::step], rotation=45)
            ax.set_yscale("symlog", linthresh=1)
            ax.set_xlabel("ulp distance (>= bin)")
            ax.set_title("ulp histogram")
        else:
            w = sm[k]
            import numpy as np

            grid = np.array([[(_f(v) if _f(v) is not None else np.nan) for v in row] for row in w["worst"]], float)
            grid = np.where(np.isinf(grid), RATIO_MAX, grid)
            lg = np.log10(np.clip(grid, RATIO_MIN, RATIO_MAX))
            im = ax.imshow(lg, cmap="RdYlGn_r", vmin=-4, vmax=4, aspect="auto", interpolation="nearest")
            bad = np.array(w["mismatches"]) > 0
            ys, xs = np.nonzero(bad)
            ax.scatter(xs, ys, marker="x", s=12, c="k", linewidths=0.8)  # failing blocks, visible in grey scale
            shape = w["shape"]
            ax.set_ylabel(f"axis 0 (0..{shape[0] - 1})" if shape else "")
            ax.set_xlabel("rest, flattened" if len(shape) > 1 else "")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"where: shape {tuple(shape)} (x = mismatches)")
            fig.colorbar(im, ax=ax, fraction=0.05, label="log10 worst ratio")
    fig.tight_layout()
    return _svg(plt, fig)


def first_divergence(points: list) -> int | None:
    for step, ratio, ok in points:
        r = _f(ratio)
        if not ok or (r is not None and r > 1):
            return step
    return None


MAX_PANELS = 6


def ordered_groups(series: dict[str, dict[str, list]]) -> list[str]:
    """Diverging groups first (earliest first divergence first), then the others by name."""
    def key(g):
        fds = [fd for fd in (first_divergence(p) for p in series[g].values()) if fd is not None]
        return (0, min(fds), g) if fds else (1, 0, g)
    return sorted(series, key=key)


def trajectory_figure(plt, check: str, series: dict[str, dict[str, list]]) -> str:
    """series: {group: {pair label: [[step, ratio, ok], ...]}}; one panel per group (at most 6)."""
    groups = ordered_groups(series)[:MAX_PANELS]
    n = len(groups)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 2.7 * rows), squeeze=False)
    floor = 1e-6
    for i, g in enumerate(groups):
        ax = axes[i // cols][i % cols]
        for j, (pair, pts) in enumerate(sorted(series[g].items())):
            xs = [p[0] for p in pts]
            ys = [max(floor, min(1e6, _f(p[1]) if _f(p[1]) is not None else 1e6)) for p in pts]
            line, = ax.plot(xs, ys, marker=".", lw=1.2, label=pair, ls=["-", "--", ":", "-."][j % 4])
            fd = first_divergence(pts)
            if fd is not None:
                k = xs.index(fd)
                ax.plot([fd], [ys[k]], marker="X", ms=9, color=line.get_color(), mec="k", zorder=5)
                ax.annotate(f"first divergence: {fd}", (fd, ys[k]), textcoords="offset points", xytext=(4, 6),
                            fontsize=7)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_title(g, fontsize=7)
        ax.set_xlabel("step")
        ax.set_ylabel("worst |err| / allowed")
        ax.legend(fontsize=6, loc="best")
    for i in range(n, rows * cols):
        axes[i // cols][i % cols].axis("off")
    fig.suptitle(check, fontsize=9)
    fig.tight_layout()
    return _svg(plt, fig)


# --------------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f23;background:#fff}
main{max-width:1400px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:8px 0} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:10px 0}
.verdict.ok{background:#e6f4ea;border:1px solid #1a7f37} .verdict.bad{background:#fde8e8;border:1px solid #cf222e}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}
table.matrix td.c{text-align:center;white-space:nowrap;font-variant-numeric:tabular-nums;min-width:88px}
td.fail{font-weight:700;color:#fff;background-image:repeating-linear-gradient(45deg,rgba(0,0,0,.18) 0 4px,transparent 4px 8px)}
td.error{font-weight:700;background:#d8b4fe} td.known{background:#fde68a} td.np{color:#888;background:#f6f6f6}
td.missed{font-weight:700;background:#fecaca} td.detected{background:#dcfce7}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:0 3px;border-radius:3px}
pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:8px;overflow-x:auto;white-space:pre-wrap}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:10px 0}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px;margin:8px 0}
.legend{display:flex;align-items:center;gap:8px;font-size:12px;margin:6px 0}
.bar{width:320px;height:12px;border:1px solid #999}
.muted{color:#57606a;font-size:12px} svg{max-width:100%;height:auto}
details>summary{cursor:pointer;font-weight:600}
"""


def _legend() -> str:
    stops = ", ".join(f"{ratio_colour(10 ** x)} {100 * (x + 4) / 8:.0f}%" for x in (-4, -2, -1, -0.5, 0, 0.5, 1, 2, 4))
    return (f'<div class="legend"><span>worst |error| / allowed:</span><span>10<sup>-4</sup></span>'
            f'<div class="bar" style="background:linear-gradient(90deg,{stops})"></div><span>10<sup>4</sup></span>'
            '<span>&#10003; pass (&le; 1&times;) &nbsp; &#10007; FAIL (hatched) &nbsp; &#9888; error &nbsp; '
            '&asymp; known difference &nbsp; &ndash; not provided &nbsp; n/a not applicable</span></div>')


def _matrix(parity: list[dict]) -> str:
    pairs: list[str] = []
    rows: dict[str, dict[str, dict]] = {}
    for r in parity:
        p = pair_label(r["pair"])
        if p not in pairs:
            pairs.append(p)
        rows.setdefault(r["check"], {})[p] = r
    out = ['<table class="matrix"><thead><tr><th>check</th><th>mode</th>'
           + "".join(f"<th>{_e(p)}</th>" for p in pairs) + "<th>deviating side</th></tr></thead><tbody>"]
    for check, cells in rows.items():
        any_r = next(iter(cells.values()))
        blame = sorted({c.get("blame") for c in cells.values() if c.get("blame")})
        tds = []
        for p in pairs:
            r = cells.get(p)
            if r is None:
                tds.append('<td class="c np"></td>')
                continue
            cls, style, txt = _cell(r)
            title = f"{check} [{p}]: {r['status']}; worst ratio {_g(r.get('tol_ratio'), 3)}; max abs {_g(r.get('max_abs'), 3)}"
            tds.append(f'<td class="c {cls}" style="{style}" title="{_e(title)}">{txt}</td>')
        out.append(f"<tr><td><code>{_e(check)}</code></td><td>{_e(any_r.get('mode'))}</td>{''.join(tds)}"
                   f"<td>{_e('; '.join(blame)) or '-'}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _leaf_table(leaves: list[dict]) -> str:
    rows = ["<table><tr><th>leaf</th><th>reason</th><th>mismatched</th><th>worst index</th><th>max |err|</th>"
            "<th>allowed abs / rel</th><th>max ulp</th><th>ratio</th></tr>"]
    for l in leaves:
        rows.append(f"<tr><td><code>{_e(l.get('path') or '<root>')}</code></td><td>{_e(l.get('reason'))}</td>"
                    f"<td>{l.get('mismatches')} / {l.get('total')}</td><td>{_e(l.get('worst_index'))}</td>"
                    f"<td>{_g(l.get('max_abs'), 3)}</td><td>{_g(l.get('allowed_abs'))} / {_g(l.get('allowed_rel'))}"
                    f"</td><td>{_e(l.get('max_ulp'))}</td><td>{_g(l.get('tol_ratio'), 3)}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _failures(bad: list[dict], plt, max_leaves: int = 6) -> str:
    out = []
    for r in bad:
        leaves = r.get("failing_leaves") or []
        out.append(f'<div class="card"><h3><code>{_e(r["check"])}</code> {_e(pair_label(r["pair"]))}: '
                   f'{_e(r["status"]).upper()}</h3><p>deviating side: <b>{_e(r.get("blame") or "-")}</b>; '
                   f'components: {_e(", ".join(r.get("failing_components") or [r.get("component")]))}</p>')
        if leaves:
            out.append(_leaf_table(leaves[:50]))
            if len(leaves) > 50:
                out.append(f'<p class="muted">... and {len(leaves) - 50} more failing leaves (report.json)</p>')
        if plt is not None:
            for l in [l for l in leaves if l.get("summary")][:max_leaves]:
                fig = leaf_figure(plt, l)
                if fig:
                    out.append(f'<p class="muted">leaf <code>{_e(l.get("path") or "<root>")}</code></p>' + fig)
        out.append(f'<details><summary>message and reproduce command</summary><pre>{_e(r.get("message", "").strip())}'
                   f'\nReproduce: {_e(r.get("reproduce"))}</pre></details></div>')
    return "\n".join(out)


def trajectory_series(parity: list[dict]) -> dict[str, dict[str, dict[str, list]]]:
    """{check: {group: {pair label: points}}} from the results that carry a ``trajectory``."""
    out: dict = {}
    for r in parity:
        for g, pts in (r.get("trajectory") or {}).items():
            out.setdefault(r["check"], {}).setdefault(g, {})[pair_label(r["pair"])] = pts
    return out


def _trajectories(parity: list[dict], plt) -> str:
    series = trajectory_series(parity)
    if not series:
        return "<p class='muted'>No check of this run returned per-step outputs.</p>"
    out = []
    for check, groups in series.items():
        out.append(f"<h3><code>{_e(check)}</code></h3>")
        pairs = sorted({p for g in groups.values() for p in g})
        rows = []
        for g in ordered_groups(groups):
            cells = []
            for p in pairs:
                pts = groups[g].get(p)
                fd = first_divergence(pts) if pts else None
                cells.append("<td class='np'></td>" if pts is None else
                             f"<td class='fail' style='background:#d73027'>&#10007; step {fd}</td>" if fd is not None
                             else f"<td>&#10003; {len(pts)} steps</td>")
            rows.append(f"<tr><td><code>{_e(g)}</code></td>{''.join(cells)}</tr>")
        out.append("<table><tr><th>sequence</th>" + "".join(f"<th>{_e(p)}</th>" for p in pairs)
                   + "</tr>" + "".join(rows) + "</table>"
                   + "<p class='muted'>Cells: the first diverging step, or the number of steps that all agree.</p>")
        if plt is not None:
            out.append(trajectory_figure(plt, check, groups))
            if len(groups) > MAX_PANELS:
                out.append(f"<p class='muted'>{len(groups) - MAX_PANELS} more step sequences not plotted "
                           "(the diverging ones come first).</p>")
    return "\n".join(out)


def _controls(controls: list[dict]) -> str:
    if not controls:
        return "<p class='muted'>No negative control ran.</p>"
    det = sum(r["status"] == "detected" for r in controls)
    missed = [r for r in controls if r["status"] != "detected"]

    def table(rs):
        rows = ["<table><tr><th>check</th><th>control</th><th>planted in</th><th>against</th><th>status</th>"
                "<th>named component</th></tr>"]
        for r in rs:
            st = r["status"]
            sym = "&#10003; detected" if st == "detected" else f"&#10007; {_e(st).upper()}"
            rows.append(f"<tr><td><code>{_e(r['check'])}</code></td><td>{_e(r.get('control'))}</td>"
                        f"<td>{_e(r['pair'][0].split('~')[0])}</td><td>{_e(r['pair'][1])}</td>"
                        f"<td class='{'detected' if st == 'detected' else 'missed'}'>{sym}</td>"
                        f"<td>{_e(', '.join(r.get('failing_components') or []) or '-')}</td></tr>")
        rows.append("</table>")
        return "".join(rows)

    head = f"<p>{det} of {len(controls)} planted divergences detected.</p>"
    body = ""
    if missed:
        body += "<h3>Not detected</h3>" + table(missed)
    body += f"<details{' open' if len(controls) <= 20 else ''}><summary>all {len(controls)} controls</summary>" \
            + table(controls) + "</details>"
    return head + body


def _environment(env: dict, data: dict) -> str:
    rows = [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in env.items() if k != "numerics"]
    for k, v in (env.get("numerics") or {}).items():
        rows.append(f"<tr><th>numerics.{_e(k)}</th><td>{_e(v)}</td></tr>")
    rows += [f"<tr><th>command</th><td><code>{_e(data.get('command'))}</code></td></tr>",
             f"<tr><th>created</th><td>{_e(data.get('created'))}</td></tr>",
             f"<tr><th>seed</th><td>{_e(data.get('seed'))}</td></tr>",
             f"<tr><th>report schema</th><td>{_e(data.get('schema'))}</td></tr>"]
    return "<table>" + "".join(rows) + "</table>"


def render(data: dict, *, diff: dict | None = None) -> str:
    """The whole page from a report.json dict (and an optional ``harness.diff.diff`` result)."""
    plt = _mpl()
    results = data.get("results", [])
    parity = [r for r in results if r.get("control") is None]
    controls = [r for r in results if r.get("control") is not None]
    bad = [r for r in parity if r["status"] in ("fail", "error")]
    ok = data.get("ok", not bad)
    counts = ", ".join(f"{v} {k}" for k, v in (data.get("summary") or {}).items())
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Backend parity report</title>"
             f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{CSS}</style></head><body><main>",
             "<h1>Backend parity report</h1>",
             f"<div class='verdict {'ok' if ok else 'bad'}'>{'&#10003; ALL CHECKS PASS' if ok else '&#10007; DIVERGENCES FOUND'}"
             f" &mdash; {_e(counts)}</div>",
             f"<p class='muted'>{_e(data.get('command'))} &middot; {_e(data.get('created'))}</p>"]
    if plt is None:
        parts.append("<div class='note'>Plots omitted: matplotlib is not installed in this environment "
                     "(<code>pip install 'backend-parity[report]'</code>). Every table and number is still here.</div>")
    if diff is not None:
        from .diff import to_html

        parts += ["<h2>Changes since the baseline</h2>", to_html(diff)]
    parts += ["<h2>Compatibility matrix</h2>",
              "<p class='muted'>Each cell: the worst element's error as a multiple of the allowed "
              "<code>atol + rtol |expected|</code> (or of the allowed ulp distance), on a log colour scale; "
              "exact and statistical checks show their verdict. The deviating side is decided by the NumPy float64 "
              "oracle. Hover a cell for the numbers.</p>", _legend(), _matrix(parity)]
    parts += ["<h2>Trajectories: divergence over time</h2>",
              "<p class='muted'>Worst error / allowed at each step (epoch, training step, simulation), one line per "
              "pair; the dashed line is the tolerance; an X marks the first step that diverges.</p>",
              _trajectories(parity, plt)]
    parts += [f"<h2>Failures ({len(bad)})</h2>",
              _failures(bad, plt) if bad else "<p>None: every compared leaf is within its tolerance.</p>"]
    parts += ["<h2>Negative controls</h2>", _controls(controls)]
    parts += ["<h2>Environment</h2>", _environment(data.get("environment") or {}, data)]
    if data.get("notes"):
        parts += ["<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in data["notes"]) + "</ul>"]
    parts.append("</main></body></html>\n")
    return "\n".join(parts)
