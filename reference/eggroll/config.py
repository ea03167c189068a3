"""EGGROLL configuration: one validation, shared by the NumPy, JAX and torch references.

Pure Python (no array library). A config is a plain dict::

    {"population": N,            # even
     "rank": r,                  # >= 1            (official default 1)
     "sigma": sigma,             # > 0
     "group_size": G,            # 0, or even and dividing N (official default 0)
     "noise_reuse": R,           # >= 0; R = 0 means ONE noise set for every epoch (official default 0)
     "freeze_nonlora": False,    # True: full-rank parameters get no noise and no update
     "roles": {name: "lowrank" | "fullrank" | "excluded"},
     "optimizer": {"name": "sgd", "lr": ..., "momentum": ..., "nesterov": ...}
                  # or {"name": "adam", "lr", "b1", "b2", "eps"}
                  # or {"name": "adamw", "lr", "b1", "b2", "eps", "weight_decay"}
    }

Every optimiser hyper-parameter is explicit: optax.adamw's default weight decay is 1e-4, torch AdamW's
1e-2, so a default is a silent divergence. A bad value raises ``ValueError`` naming the field and value.
"""

from __future__ import annotations

import math
import numbers

ROLES = ("lowrank", "fullrank", "excluded")
OPTIMIZER_FIELDS = {
    "sgd": ("lr", "momentum", "nesterov"),
    "adam": ("lr", "b1", "b2", "eps"),
    "adamw": ("lr", "b1", "b2", "eps", "weight_decay"),
}
DEFAULTS = {"rank": 1, "group_size": 0, "noise_reuse": 0, "freeze_nonlora": False}


def _int(name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise ValueError(f"eggroll config: {name} must be an integer, got {name}={v!r}")
    return int(v)


def _float(name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise ValueError(f"eggroll config: {name} must be a finite number, got {name}={v!r}")
    return float(v)


def validate_optimizer(opt) -> dict:
    """Check an optimiser config: known name, every hyper-parameter present, values in range."""
    if not isinstance(opt, dict):
        raise ValueError(f"eggroll config: optimizer must be a dict, got optimizer={opt!r}")
    name = opt.get("name")
    if name not in OPTIMIZER_FIELDS:
        raise ValueError(f"eggroll config: optimizer.name must be one of {sorted(OPTIMIZER_FIELDS)}, got {name!r}")
    fields = OPTIMIZER_FIELDS[name]
    missing = [f for f in fields if f not in opt]
    if missing:
        raise ValueError(f"eggroll config: optimizer {name!r} needs every hyper-parameter explicitly, "
                         f"missing {', '.join(missing)} (framework defaults differ)")
    extra = sorted(set(opt) - set(fields) - {"name"})
    if extra:
        raise ValueError(f"eggroll config: optimizer {name!r} got unknown field(s) {', '.join(extra)}")
    out = {"name": name}
    for f in fields:
        if f == "nesterov":
            if not isinstance(opt[f], bool):
                raise ValueError(f"eggroll config: optimizer.nesterov must be a bool, got {opt[f]!r}")
            out[f] = opt[f]
            continue
        out[f] = _float(f"optimizer.{f}", opt[f])
    if out["lr"] <= 0:
        raise ValueError(f"eggroll config: optimizer.lr must be > 0, got lr={out['lr']!r}")
    for f in ("b1", "b2", "momentum"):
        if f in out and not 0 <= out[f] < 1:
            raise ValueError(f"eggroll config: optimizer.{f} must be in [0, 1), got {f}={out[f]!r}")
    if "eps" in out and out["eps"] <= 0:
        raise ValueError(f"eggroll config: optimizer.eps must be > 0, got eps={out['eps']!r}")
    if "weight_decay" in out and out["weight_decay"] < 0:
        raise ValueError(f"eggroll config: optimizer.weight_decay must be >= 0, got {out['weight_decay']!r}")
    if name == "sgd" and out["nesterov"] and out["momentum"] == 0:
        raise ValueError("eggroll config: optimizer.nesterov=True needs momentum > 0, got momentum=0.0")
    return out


def validate_config(config) -> dict:
    """Normalised copy of the config, or ValueError naming the field (N even, G even | N, r >= 1, sigma > 0).

    Defaults filled in; G == 0 or (G even and N % G == 0); R >= 0; every role known (eggroll.validate_config).
    """
    if not isinstance(config, dict):
        raise ValueError(f"eggroll config: must be a dict, got {type(config).__name__}")
    known = {"population", "rank", "sigma", "group_size", "noise_reuse", "freeze_nonlora", "roles", "optimizer"}
    extra = sorted(set(config) - known)
    if extra:
        raise ValueError(f"eggroll config: unknown field(s) {', '.join(extra)}")
    for f in ("population", "sigma"):
        if f not in config:
            raise ValueError(f"eggroll config: {f} is required")
    cfg = {**DEFAULTS, **config}
    n = _int("population", cfg["population"])
    if n < 2 or n % 2:
        raise ValueError(f"eggroll config: population must be even and >= 2 (antithetic pairs), got population={n}")
    r = _int("rank", cfg["rank"])
    if r < 1:
        raise ValueError(f"eggroll config: rank must be >= 1, got rank={r}")
    sigma = _float("sigma", cfg["sigma"])
    if sigma <= 0:
        raise ValueError(f"eggroll config: sigma must be > 0, got sigma={sigma!r}")
    g = _int("group_size", cfg["group_size"])
    if g < 0 or (g > 0 and (g % 2 or n % g)):
        raise ValueError(f"eggroll config: group_size must be 0 or an even divisor of population={n}, "
                         f"got group_size={g}")
    rr = _int("noise_reuse", cfg["noise_reuse"])
    if rr < 0:
        raise ValueError(f"eggroll config: noise_reuse must be >= 0, got noise_reuse={rr}")
    if not isinstance(cfg["freeze_nonlora"], bool):
        raise ValueError(f"eggroll config: freeze_nonlora must be a bool, got {cfg['freeze_nonlora']!r}")
    roles = cfg.get("roles", {})
    if not isinstance(roles, dict):
        raise ValueError(f"eggroll config: roles must be a dict name -> role, got {roles!r}")
    for k, v in roles.items():
        if v not in ROLES:
            raise ValueError(f"eggroll config: roles[{k!r}] must be one of {ROLES}, got {v!r}")
    out = {"population": n, "rank": r, "sigma": sigma, "group_size": g, "noise_reuse": rr,
           "freeze_nonlora": cfg["freeze_nonlora"], "roles": dict(sorted(roles.items()))}
    if "optimizer" in cfg:
        out["optimizer"] = validate_optimizer(cfg["optimizer"])
    return out


def trainable_role(config, name) -> str:
    """Effective role of parameter ``name``: freeze_nonlora turns full-rank parameters into excluded."""
    role = config["roles"].get(name)
    if role is None:
        raise ValueError(f"eggroll config: parameter {name!r} has no role in config['roles']")
    if role == "fullrank" and config["freeze_nonlora"]:
        return "excluded"
    return role


def static_key(config) -> str:
    """A hashable, canonical string of a validated config (for compile caches)."""
    import json

    return json.dumps(config, sort_keys=True)
