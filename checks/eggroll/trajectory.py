"""EGGROLL's whole epoch loop on a small MLP: 10 epochs over noise-reuse and group-size settings."""

from __future__ import annotations

import numpy as np

from checks._common import es_config, es_key, mlp_problem, with_arg
from harness.base import Check, Control, Knob, Tolerance

TRAJ_EPOCHS = 10
TRAJ_GRID = [(g, r) for g in (0, 4) for r in (0, 1, 2)]
SGD = {"name": "sgd", "lr": 0.2, "momentum": 0.0, "nesterov": False}


def traj_inputs(seed):
    params, data = mlp_problem(np.random.default_rng(seed))
    configs = {f"G{g}_R{r}": es_config(8, g, r, SGD) for g, r in TRAJ_GRID}
    # one config (its own compiled program: the others differ in G and R only, which are traced) perturbs a
    # MATRIX with full-rank noise (W + E_i inside the forward pass) and carries optimiser state (momentum), the
    # state epoch() initialises over the trainable parameters when given None
    configs["G4_R2"]["roles"]["w2"] = "fullrank"
    configs["G4_R2"]["optimizer"] = {**SGD, "momentum": 0.9}
    return {"params": params, "data": data, "es_key": es_key(seed), "epochs": TRAJ_EPOCHS, "configs": configs}


def _traj_strategy():
    """`parity fuzz`: fresh seeds, 2 or 3 epochs of two configs drawn from TRAJ_GRID (compiled once each)."""
    from hypothesis import strategies as st

    @st.composite
    def cases(draw):
        case = traj_inputs(draw(st.integers(0, 2**31 - 1)))
        names = sorted(case["configs"])
        keep = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        case["configs"] = {n: case["configs"][n] for n in sorted(keep)}
        case["epochs"] = draw(st.sampled_from([2, 3]))
        return case

    return cases()


def _run_traj(c, case):
    out = {}
    for name, cfg in case["configs"].items():
        params, state, epochs = case["params"], None, []
        for t in range(case["epochs"]):
            params, state, fit = c["eggroll.epoch"](params, state, case["es_key"], t, case["data"], cfg)
            epochs.append({"params": dict(sorted(params.items())), "fitness": fit})
        out[name] = {"epoch": epochs}
    return out


def _traj_r0_fresh(cfg):
    return {**cfg, "noise_reuse": cfg.get("noise_reuse", 0) or 1}


def _traj_freeze_ignored(cfg):
    return {**cfg, "freeze_nonlora": False}


def _traj_excluded_trained(cfg):
    return {**cfg, "roles": {**cfg["roles"], "out_scale": "fullrank"}}


CONFIG_ARG = 5  # eggroll.epoch(params, opt_state, es_key, epoch, data, config)
FROZEN_EPOCHS = 3


def frozen_inputs(seed):
    """freeze_nonlora: the full-rank parameters (w2, full rank here, and the biases) get no noise and no update, so
    a matrix enters the forward pass unperturbed; its own compiled program (the trainable set is static)."""
    params, data = mlp_problem(np.random.default_rng(seed))
    cfg = es_config(8, 0, 1, SGD)
    cfg["roles"]["w2"] = "fullrank"
    cfg["freeze_nonlora"] = True
    return {"params": params, "data": data, "es_key": es_key(seed), "epochs": FROZEN_EPOCHS,
            "configs": {"G0_R1_frozen": cfg}}


CHECKS = [
    Check(
        name="eggroll.trajectory", components=("eggroll.epoch",),
        inputs=traj_inputs, run=_run_traj, mode=Tolerance(), slow=False, rng="exact", strategy=_traj_strategy,
        description="10 epochs (1 and 3 are prefixes) of EGGROLL on a small MLP (low-rank w1/w2, full-rank "
                    "biases, excluded out_scale; in G4_R2 w2 full rank and SGD momentum 0.9) over G in {0, 4} x R in "
                    "{0, 1, 2}; the first "
                    "failing leaf ['G.._R..']['epoch'][t]['params'][name] names the first diverging epoch and parameter",
        controls=(
            Control("r0_fresh", "R = 0 read as fresh noise every epoch",
                    {"eggroll.epoch": with_arg(CONFIG_ARG, _traj_r0_fresh)}),
            Control("excluded_trained", "the excluded parameter perturbed and updated as full rank",
                    {"eggroll.epoch": with_arg(CONFIG_ARG, _traj_excluded_trained)}),
        ),
    ),
    Check(
        name="eggroll.trajectory.frozen", components=("eggroll.epoch",),
        inputs=frozen_inputs, run=_run_traj, mode=Tolerance(), rng="exact", strategy=None,
        knobs=(Knob("freeze_nonlora", False, varies=True),),
        description="3 epochs with freeze_nonlora (official default False): w2 full rank and the biases get no noise "
                    "and no update, w1 trains low rank; a port without the option declares "
                    "fixed={'freeze_nonlora': False} and gets not_applicable",
        controls=(
            Control("freeze_ignored", "freeze_nonlora ignored: the full-rank w2 and biases still perturbed and updated",
                    {"eggroll.epoch": with_arg(CONFIG_ARG, _traj_freeze_ignored)}),
        ),
    ),
]
