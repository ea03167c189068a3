"""Policy-value graph network, JAX / flax.linen reference (equations and converters: spec.py)."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from reference.nets import encoding, np_ref
from reference.nets.spec import NO_BIAS, ROUNDS, _layer_shapes


class PolicyValueNet(nn.Module):
    """flax twin of torch_ref.PolicyValueNet; submodule names = torch module paths with "." -> "_"."""

    hidden: int = 32

    @nn.compact
    def __call__(self, edge_index, edge_attr, player_role):
        # edge_attr (B, 2E, 3), player_role (B,) float32; returns logits (B, E), value (B,)
        hdim = self.hidden
        b, num_dir, _ = edge_attr.shape
        num_e = num_dir // 2
        n = encoding.num_vertices(num_e)  # static: from the shape
        src, dst = edge_index[0], edge_index[1]
        # gathers and scatters as one-hot matmuls (exact at precision "highest": products with 1.0 and 0.0);
        # XLA:CPU compiles them several times faster than gather / scatter-add and their gradients
        into = jax.nn.one_hot(dst, n, dtype=edge_attr.dtype).T  # (n, 2E): into[i, e] = [dst_e = i]
        inv_deg = 1.0 / jnp.maximum(into.sum(axis=1), 1.0)
        take_src = jax.nn.one_hot(src, n, dtype=edge_attr.dtype)  # (2E, n)

        def mean_in(values):
            return jnp.einsum("ie,bef->bif", into, values) * inv_deg[None, :, None]

        role = player_role.astype(edge_attr.dtype)
        x = jnp.concatenate([mean_in(edge_attr), jnp.broadcast_to(role[:, None, None], (b, n, 1))], axis=-1)
        h = jnp.tanh(nn.Dense(hdim, name="node_in")(x))
        for r in range(ROUNDS):
            h_src = jnp.einsum("en,bnf->bef", take_src, h)
            m = jnp.tanh(nn.Dense(hdim, name=f"msg_{r}")(h_src) + nn.Dense(hdim, name=f"edge_{r}")(edge_attr))
            a = mean_in(m)
            h = jnp.tanh(nn.Dense(hdim, name=f"upd_{r}")(jnp.concatenate([h, a], axis=-1)))
        hu = jnp.einsum("en,bnf->bef", take_src[:num_e], h)
        hv = jnp.einsum("en,bnf->bef", into.T[:num_e], h)
        f = jnp.concatenate([hu + hv, hu * hv, edge_attr[:, :num_e]], axis=-1)
        z = jnp.tanh(nn.Dense(hdim, name="policy_hidden")(f))
        logits = nn.Dense(1, use_bias=False, name="policy_out")(z)[..., 0]
        g = jnp.concatenate([h.mean(axis=1), role[:, None]], axis=-1)
        value = jnp.tanh(nn.Dense(1, name="value_out")(jnp.tanh(nn.Dense(hdim, name="value_hidden")(g))))[..., 0]
        return logits, value


@functools.partial(jax.jit, static_argnames=("hidden",))
def _apply(variables, edge_index, edge_attr, player_role, hidden):
    return PolicyValueNet(hidden=hidden).apply(variables, edge_index, edge_attr, player_role)


def init_params(seed, n, hidden=32):
    """Canonical parameters (NumPy float32, torch layout): torch's default Linear init from one NumPy draw
    -- the NumPy initialiser, shared by design: identical initial weights in every framework come from one
    NumPy draw and the converters."""
    return np_ref.init_params(seed, n, hidden)


def policy_value(params, edge_index, edge_attr, player_role):
    """(logits (E,), value ()) for one board, or (logits (B, E), value (B,)) for edge_attr (B, 2E, 3)
    and player_role (B,); params are flax variables ``{"params": ...}`` (see ``to_native``)."""
    variables = params if "params" in params else {"params": params}
    hidden = int(variables["params"]["node_in"]["bias"].shape[0])
    attr = jnp.asarray(edge_attr, jnp.float32)
    batched = attr.ndim == 3
    if not batched:
        attr = attr[None]
    role = jnp.reshape(jnp.asarray(player_role), (-1,)).astype(jnp.float32)
    logits, value = _apply(variables, jnp.asarray(edge_index, jnp.int32), attr, role, hidden)
    if not batched:
        return logits[0], value[0]
    return logits, value


def to_native(params):
    """canonical (torch layout) -> this framework's parameters: flax variables, "a.b.weight" (out, in) ->
    ["a_b"]["kernel"] (in, out)."""
    tree: dict = {}
    for key, value in params.items():
        module, kind = key.rsplit(".", 1)
        arr = jnp.asarray(np.asarray(value), jnp.float32)
        if kind == "weight":
            tree.setdefault(module.replace(".", "_"), {})["kernel"] = arr.T
        elif kind == "bias":
            tree.setdefault(module.replace(".", "_"), {})["bias"] = arr
        else:
            raise ValueError(f"to_native: unexpected parameter name {key!r} (want '<module>.weight|bias')")
    return {"params": tree}


def from_native(native):
    """this framework's parameters -> canonical (NumPy float32, torch layout): flax variables,
    ["a_b"]["kernel"] -> "a.b.weight" (kernel.T)."""
    tree = native["params"] if "params" in native else native
    hidden = int(np.shape(tree["node_in"]["bias"])[0])
    out = {}
    for module in _layer_shapes(hidden):
        sub = tree[module.replace(".", "_")]
        out[f"{module}.weight"] = np.asarray(sub["kernel"], np.float32).T.copy()
        if module not in NO_BIAS:
            out[f"{module}.bias"] = np.asarray(sub["bias"], np.float32).copy()
    return out

