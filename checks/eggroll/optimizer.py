"""EGGROLL's optimisers: optax (sgd, adam, adamw) == torch.optim (SGD, Adam, AdamW), every hyper-parameter
passed explicitly (optax.adamw's default weight decay is 1e-4, torch AdamW's 1e-2)."""

from __future__ import annotations

import numpy as np

from checks._common import seeded, with_arg
from harness.base import Check, Control, Tolerance

OPT_CONFIGS = {
    "sgd": [{"name": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": False},
            {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": False},
            {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True}],
    "adam": [{"name": "adam", "lr": 0.01, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
             {"name": "adam", "lr": 0.003, "b1": 0.8, "b2": 0.95, "eps": 1e-6}],
    "adamw": [{"name": "adamw", "lr": 0.01, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 1e-2},
              {"name": "adamw", "lr": 0.05, "b1": 0.9, "b2": 0.99, "eps": 1e-8, "weight_decay": 0.1}],
}
OPT_STEPS = 5


def _opt_inputs(name):
    def inputs(seed):
        rng = np.random.default_rng(seed)
        params = {"b": rng.normal(size=4).astype(np.float32), "w": rng.normal(size=(3, 4)).astype(np.float32)}
        grads = [{k: rng.normal(size=v.shape).astype(np.float32) for k, v in params.items()} for _ in range(OPT_STEPS)]
        return {"params": params, "grads": grads, "configs": [dict(c) for c in OPT_CONFIGS[name]]}
    return inputs


def _run_opt(c, case):
    out = {}
    for i, opt in enumerate(case["configs"]):
        params = case["params"]
        state = c["eggroll.optimizer_init"](params, opt)
        steps = []
        for g in case["grads"]:
            params, state = c["eggroll.optimizer_step"](params, g, state, opt)
            steps.append(params)
        out[f"config{i}"] = steps
    return out


def _cfg_patch(change):
    """Patch optimizer_init and optimizer_step alike with a rewritten optimiser config."""
    return {"eggroll.optimizer_init": with_arg(1, lambda opt: change(dict(opt))),
            "eggroll.optimizer_step": with_arg(3, lambda opt: change(dict(opt)))}


def _ascent(orig):
    return lambda p, g, s, opt: orig(p, {k: -v for k, v in g.items()}, s, opt)


def _no_nesterov(opt):
    return {**opt, "nesterov": False}


def betas_swapped(opt):
    return {**opt, "b1": opt["b2"], "b2": opt["b1"]}


def optax_default_wd(opt):
    return {**opt, "weight_decay": 1e-4}  # optax.adamw(lr) without weight_decay=...


def _coupled_l2():
    """torch.optim.Adam(weight_decay=wd) used for AdamW: L2 added to the gradient, not decoupled."""
    def to_adam(opt):
        return {k: v for k, v in opt.items() if k != "weight_decay"} | {"name": "adam"}

    def step(orig):
        def mutant(p, g, s, opt):
            wd = opt["weight_decay"]
            return orig(p, {k: g[k] + wd * p[k] for k in g}, s, to_adam(dict(opt)))
        return mutant
    return {"eggroll.optimizer_init": with_arg(1, lambda opt: to_adam(dict(opt))), "eggroll.optimizer_step": step}


def _check(name, description, controls):
    return Check(name=f"eggroll.optimizer.{name}", components=("eggroll.optimizer_step", "eggroll.optimizer_init"),
                 inputs=_opt_inputs(name), run=_run_opt, mode=Tolerance(), strategy=seeded(_opt_inputs(name)),
                 description=description, controls=controls)


CHECKS = [
    _check("sgd", "optax.sgd == torch.optim.SGD (momentum 0 / 0.9, nesterov), 5 steps", (
        Control("ascent", "gradient negated (optimiser maximises)", {"eggroll.optimizer_step": _ascent}),
        Control("nesterov_ignored", "nesterov=True dropped", _cfg_patch(_no_nesterov), target="jax"),
    )),
    _check("adam", "optax.adam == torch.optim.Adam with explicit b1, b2, eps, 5 steps", (
        Control("betas_swapped", "b1 and b2 swapped (torch betas tuple order)", _cfg_patch(betas_swapped)),
    )),
    _check("adamw", "optax.adamw == torch.optim.AdamW with explicit weight decay (decoupled), 5 steps", (
        Control("optax_default_weight_decay", "optax.adamw's default weight decay 1e-4 against torch "
                "AdamW's 1e-2 (hyper-parameter left implicit)", _cfg_patch(optax_default_wd), target="jax"),
        Control("coupled_l2", "torch.optim.Adam(weight_decay=) (L2 in the gradient) used for AdamW", _coupled_l2()),
    )),
]
