"""EGGROLL config validation: the same configs are rejected by every implementation."""

from __future__ import annotations

import numpy as np

from checks._common import control
from harness.base import Check, Exact

BAD_CONFIGS = {
    "odd_population": {"population": 7, "sigma": 0.1},
    "zero_population": {"population": 0, "sigma": 0.1},
    "group_odd": {"population": 8, "sigma": 0.1, "group_size": 3},
    "group_not_dividing": {"population": 8, "sigma": 0.1, "group_size": 6},
    "rank_zero": {"population": 8, "sigma": 0.1, "rank": 0},
    "sigma_zero": {"population": 8, "sigma": 0.0},
    "sigma_negative": {"population": 8, "sigma": -0.5},
    "reuse_negative": {"population": 8, "sigma": 0.1, "noise_reuse": -1},
    "adamw_missing_weight_decay": {"population": 8, "sigma": 0.1,
                                   "optimizer": {"name": "adamw", "lr": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8}},
    # the boundaries of the spec's conditions (each was a surviving mutant of `parity mutate`): eps must be > 0,
    # nesterov needs momentum > 0, N = 2 is the smallest population, G must be even even where it divides N
    "adam_eps_zero": {"population": 8, "sigma": 0.1,
                      "optimizer": {"name": "adam", "lr": 0.1, "b1": 0.9, "b2": 0.999, "eps": 0.0}},
    "nesterov_without_momentum": {"population": 8, "sigma": 0.1,
                                  "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": True}},
    "group_odd_divisor": {"population": 6, "sigma": 0.1, "group_size": 3},
    "group_one": {"population": 8, "sigma": 0.1, "group_size": 1},
    "group_negative": {"population": 8, "sigma": 0.1, "group_size": -1},
    "sgd_lr_zero": {"population": 8, "sigma": 0.1,
                    "optimizer": {"name": "sgd", "lr": 0.0, "momentum": 0.0, "nesterov": False}},
    "sgd_momentum_negative": {"population": 8, "sigma": 0.1,
                              "optimizer": {"name": "sgd", "lr": 0.1, "momentum": -0.5, "nesterov": False}},
    "adam_b2_one": {"population": 8, "sigma": 0.1,
                    "optimizer": {"name": "adam", "lr": 0.1, "b1": 0.9, "b2": 1.0, "eps": 1e-8}},
    "adamw_decay_negative": {"population": 8, "sigma": 0.1, "optimizer": {"name": "adamw", "lr": 0.1, "b1": 0.9,
                                                                         "b2": 0.999, "eps": 1e-8, "weight_decay": -0.5}},
    "good_adamw_decay_zero": {"population": 8, "sigma": 0.1, "optimizer": {"name": "adamw", "lr": 0.1, "b1": 0.0,
                                                                          "b2": 0.999, "eps": 1e-8, "weight_decay": 0.0}},
    "good_population_two": {"population": 2, "sigma": 0.1},
    "good_nesterov": {"population": 8, "sigma": 0.1,
                      "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True}},
    "good": {"population": 8, "sigma": 0.1, "group_size": 4, "rank": 2, "noise_reuse": 0},
    "good_group_n": {"population": 8, "sigma": 0.1, "group_size": 8},
}


MINIMAL = {"population": 8, "sigma": 0.1}  # every other field from the spec's defaults (rank 1, G 0, R 0, ...)


def _config_inputs(seed):
    return {"configs": {k: dict(v) for k, v in BAD_CONFIGS.items()}, "minimal": dict(MINIMAL)}


def _run_config(c, case):
    out = {}
    for name, cfg in case["configs"].items():
        try:
            c["eggroll.validate_config"](cfg)
            out[name] = np.bool_(False)
        except ValueError:
            out[name] = np.bool_(True)
    if "minimal" in case:  # the defaults a config leaves out: official rank 1, noise_reuse 0 (one noise set), G 0
        full = c["eggroll.validate_config"](case["minimal"])
        out["defaults"] = {k: np.asarray(v) for k, v in sorted(full.items()) if isinstance(v, (bool, int, float))}
    return out


def _accept_odd(orig):
    def mutant(cfg):
        if int(cfg.get("population", 0)) % 2:
            return dict(cfg)
        return orig(cfg)
    return mutant


CHECKS = [
    Check(
        name="eggroll.config.validation", components=("eggroll.validate_config",),
        inputs=_config_inputs, run=_run_config, mode=Exact(),
        description="the same configs are rejected (ValueError): odd N, G odd / not dividing N, rank < 1, "
                    "sigma <= 0, R < 0, implicit optimiser hyper-parameters, lr <= 0, betas / momentum outside [0, 1), "
                    "eps <= 0, weight decay < 0, nesterov without momentum; N = 2, nesterov with momentum, b1 0 and "
                    "weight decay 0 accepted; the defaults of a minimal config",
        controls=(
            control("odd_population_accepted", "odd population accepted", "eggroll.validate_config", _accept_odd),
        ),
    ),
]
