"""Checks of the policy-value graph network (reference/nets): eval-mode forward parity from one set of
canonical weights, and the converters (canonical <-> flax / torch) round trip bit for bit."""

from __future__ import annotations

import numpy as np

from checks._common import control
from harness.base import Check, Exact
from reference.nets import encoding

HIDDEN = 32
SIZES = (4, 6)  # vertices; fixed shape set (JAX compiles once per shape)
BOARDS = 6


def _boards(rng, n, b=BOARDS):
    e = encoding.num_edges(n)
    colours = rng.integers(0, 3, size=(b, e))
    colours[0] = 0  # the empty board
    ei, ea = encoding.encode(colours)
    role = (np.arange(b) % 2).astype(np.int64)
    return {"edge_index": ei, "edge_attr": ea, "player_role": role}


def net_case(seed, zero_params=False):
    from reference.nets import np_ref

    rng = np.random.default_rng(seed)
    params = np_ref.init_params(seed, 5, HIDDEN)
    if zero_params:
        params = {k: np.zeros_like(v) for k, v in params.items()}
    return {"params": params, **{f"n{n}": _boards(rng, n) for n in SIZES}}


def _strategy():
    """Random boards of the fixed sizes, parameters from any seed or all zero."""
    from hypothesis import strategies as st

    return st.builds(net_case, st.integers(0, 2**16), st.booleans())


def _run_forward(c, case):
    native = c["nets.to_native"](case["params"])
    out = {}
    for n in SIZES:
        b = case[f"n{n}"]
        logits, value = c["nets.policy_value"](native, b["edge_index"], b["edge_attr"], b["player_role"])
        out[f"n{n}"] = {"logits": logits, "value": value}
    b = case[f"n{SIZES[0]}"]  # one board, unbatched API
    out["single"] = dict(zip(("logits", "value"), c["nets.policy_value"](
        native, b["edge_index"], b["edge_attr"][1], b["player_role"][1])))
    return out


def _run_convert(c, case):
    return c["nets.from_native"](c["nets.to_native"](case["params"]))


# --------------------------------------------------------------------------------------------------
# mutants
# --------------------------------------------------------------------------------------------------

def _role_ignored(orig):
    return lambda params, edge_index, edge_attr, player_role: orig(params, edge_index, edge_attr, player_role * 0)


def _forward_edges_only(orig):
    import torch

    def f(params, edge_index, edge_attr, player_role):
        e = edge_index.shape[1] // 2
        one_way = edge_index[:, :e]
        return orig(params, torch.cat([one_way, one_way], dim=1), edge_attr, player_role)  # only u -> v, twice
    return f


def _square_not_transposed(orig):
    # a converter that only transposes when the shape forces it: square (H, H) weights keep torch layout
    def f(params):
        fixed = {k: (np.asarray(v).T if k.endswith(".weight") and np.ndim(v) == 2 and
                     np.shape(v)[0] == np.shape(v)[1] else v) for k, v in params.items()}
        return orig(fixed)
    return f


def _no_transpose(orig):
    import jax.numpy as jnp

    def f(params):
        tree = {}
        for key, value in params.items():
            module, kind = key.rsplit(".", 1)
            tree.setdefault(module.replace(".", "_"), {})["kernel" if kind == "weight" else "bias"] = jnp.asarray(value)
        return {"params": tree}
    return f


def _rounds_swapped(orig):
    def f(params):
        swap = {}
        for k, v in params.items():
            k2 = k.replace(".0.", ".#.").replace(".1.", ".0.").replace(".#.", ".1.")
            swap[k2] = v
        return orig(swap)
    return f


def _bf16_roundtrip(orig):
    import torch

    def f(module):
        return {k: v.detach().to(torch.bfloat16).to(torch.float32).numpy() for k, v in module.state_dict().items()}
    return f


INIT_SHAPES = ((4, 32), (6, 8))  # (vertices, hidden): the checks' network and a narrower one


def _init_case(seed):
    return {"seed": int(seed)}


def _run_init(c, case):
    out = {f"n{n}_hidden{h}": c["nets.init_params"](case["seed"], n, h) for n, h in INIT_SHAPES}
    out["n4_default_hidden"] = c["nets.init_params"](case["seed"], 4)  # the spec's default width, 32
    return out


def _zero_biases(orig):
    """flax's default initialiser for the biases (zeros) instead of torch's U(-1/sqrt(in), 1/sqrt(in))."""
    def f(seed, n, hidden=32):
        return {k: (np.zeros_like(v) if k.endswith(".bias") else v) for k, v in orig(seed, n, hidden).items()}
    return f


def _seed_plus_one(orig):
    return lambda seed, n, hidden=32: orig(seed + 1, n, hidden)


CHECKS = [
    Check(
        name="nets.init", components=("nets.init_params",), inputs=_init_case, run=_run_init, mode=Exact(),
        description="the canonical initial weights (torch's default Linear init, one NumPy draw in layer order) "
                    "for n = 4 / hidden 32 and n = 6 / hidden 8, bit for bit: every trajectory starts from them",
        controls=(
            control("zero_biases", "biases initialised to zero (flax's default)", "nets.init_params", _zero_biases,
                    target="jax"),
            control("seed_offset", "the initialiser seeded with seed + 1", "nets.init_params", _seed_plus_one,
                    target="torch"),
        ),
    ),
    Check(
        name="nets.forward", components=("nets.policy_value", "nets.to_native"), inputs=net_case, run=_run_forward,
        strategy=_strategy,
        description="eval-mode logits (E,) and value () of the graph network from one set of canonical "
                    "weights (6 boards of n = 4 and of n = 6, and one board unbatched)",
        controls=(
            control("player_role_ignored", "player_role not fed to the network",
                    "nets.policy_value", _role_ignored, target="torch"),
            control("reverse_edges_dropped", "messages only along u -> v (edge_index without the reverse half)",
                    "nets.policy_value", _forward_edges_only, target="torch"),
            control("square_kernel_not_transposed", "to_flax transposes only where shapes force it: (H, H) "
                    "message weights keep torch layout", "nets.to_native", _square_not_transposed, target="jax"),
        ),
    ),
    Check(
        name="nets.convert", components=("nets.to_native", "nets.from_native"), inputs=net_case, run=_run_convert,
        mode=Exact(),
        description="canonical -> flax / torch -> canonical is the identity, bit for bit (names and layouts)",
        controls=(
            control("no_transpose", "to_flax keeps the torch (out, in) layout", "nets.to_native", _no_transpose,
                    target="jax"),
            control("rounds_swapped", "message-passing rounds 0 and 1 swapped by the converter",
                    "nets.to_native", _rounds_swapped, target="torch"),
            control("bfloat16_roundtrip", "from_torch through bfloat16", "nets.from_native", _bf16_roundtrip,
                    target="torch", expect_components=("nets.from_native",)),
        ),
    ),
]
