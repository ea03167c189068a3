"""``--numerics deployed``: how far each component drifts under the frameworks' own defaults.

The verdicts of a run always come from the pinned numerics. A deployed run then recomputes every parity pair
with each framework's defaults in force (``harness.numerics`` mode ``deployed``: TF32 / bf16-pass matmuls where
the hardware has them, no determinism, default threads) and records, per check and pair, the greatest absolute
difference, ulp distance and multiple of the tolerance -- a measurement shown as its own column, never a failure.
"""

from __future__ import annotations

from .base import Status
from .report import _fmt


def measure(runner, checks, seed: int = 0) -> dict:
    """{"mode": "deployed", "settings": numerics in force, "rows": [{check, component, pair, status, max_abs,
    max_ulp, tol_ratio}]} under deployed numerics."""
    from . import numerics

    rows: list[dict] = []
    numerics.configure(numerics="deployed")
    try:
        settings = numerics.pinned()
        for check in checks:
            runner.drop_cache(check)
            for r in runner.run_check(check, seed):
                rows.append({"check": r.check, "component": r.component, "pair": list(r.pair),
                             "within_tolerance": r.status == Status.PASS, "status": r.status.value,
                             "max_abs": r.max_abs, "max_ulp": r.max_ulp, "tol_ratio": r.tol_ratio})
            runner.drop_cache(check)
    finally:
        numerics.configure(numerics="pinned")
    return {"mode": "deployed", "settings": settings, "rows": rows}


def cell(row: dict) -> str:
    if row["status"] in ("not_provided", "error"):
        return row["status"].replace("_", " ")
    parts = []
    if row.get("max_abs") is not None:
        parts.append(f"{_fmt(row['max_abs'])} abs")
    if row.get("max_ulp"):
        parts.append(f"{row['max_ulp']} ulp")
    if row.get("tol_ratio") is not None:
        parts.append(f"{_fmt(row['tol_ratio'])}x tol")
    return ", ".join(parts) or "0"


def markdown(deployed: dict | None) -> list[str]:
    """The report section: one row per check, one drift column per pair."""
    if not deployed:
        return []
    block = deployed
    rows = block["rows"]
    pairs: list[str] = []
    for r in rows:
        lbl = f"{r['pair'][0]} vs {r['pair'][1]}"
        if lbl not in pairs:
            pairs.append(lbl)
    s = block["settings"]
    lines = ["", "## Drift under deployed numerics", "",
             "Verdicts above come from the pinned numerics. Each cell here is the same pair recomputed with the "
             "frameworks' own defaults (JAX matmul precision "
             f"{s.get('jax_default_matmul_precision')!r}, torch TF32 matmuls {s.get('torch_cuda_matmul_allow_tf32')}, "
             f"cuDNN TF32 {s.get('torch_cudnn_allow_tf32')}, deterministic {s.get('torch_deterministic_algorithms')}): "
             "how far it drifts, not a failure.", "",
             "| check | component | " + " | ".join(pairs) + " |", "|---|---|" + "---|" * len(pairs)]
    by_check: dict = {}
    for r in rows:
        by_check.setdefault((r["check"], r["component"]), {})[f"{r['pair'][0]} vs {r['pair'][1]}"] = r
    for (check, comp), cells in by_check.items():
        lines.append(f"| `{check}` | `{comp}` | " + " | ".join(cell(cells[p]) if p in cells else "" for p in pairs)
                     + " |")
    return lines


def table(deployed: dict | None) -> str:
    """Terminal lines: check, pair, drift."""
    if not deployed:
        return ""
    rows = deployed["rows"]
    out = ["drift under deployed numerics (not failures):"]
    for r in rows:
        out.append(f"  {r['check']}  {r['pair'][0]} vs {r['pair'][1]}: {cell(r)}")
    return "\n".join(out)
