"""Host-side lookup tables of the batched searches (NumPy only; shared by jax_ref and torch_ref).

Progress p = m / E enters the noise weight and the temperature schedule. Both searches look the values
up by move count m in tables computed here in float64 (as the oracle computes them) instead of dividing
on the device: XLA's CPU float32 division is not correctly rounded, and p sits exactly on a temperature
threshold whenever m / E is 0.2, 0.4, ... -- a one-ulp quotient would flip a strict comparison.
"""

from __future__ import annotations

import numpy as np


def progress(e: int) -> np.ndarray:
    """float64 (E + 1,): p = m / E for m = 0..E."""
    return np.arange(e + 1, dtype=np.float64) / float(e)


def one_minus_progress(e: int) -> np.ndarray:
    """float32 (E + 1,): 1 - m / E (float64, rounded once): the decay factor of the noise weight."""
    return (1.0 - progress(e)).astype(np.float32)


def temperature(config) -> np.ndarray:
    """float32 (E + 1,): T for every move count. annealed: temperature_values[i] for the first i with
    p < temperature_thresholds[i] (strict), else the last value; fixed: temperature_fixed."""
    e = config.num_edges
    if config.temperature_schedule == "fixed":
        return np.full(e + 1, config.temperature_fixed, dtype=np.float32)
    p = progress(e)
    out = np.empty(e + 1, dtype=np.float32)
    for m in range(e + 1):
        idx = next((i for i, t in enumerate(config.temperature_thresholds) if p[m] < t),
                   len(config.temperature_thresholds))
        out[m] = config.temperature_values[idx]
    return out
