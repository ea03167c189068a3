"""Policy-value graph network, NumPy float64 oracle (the equations, layouts and converters: spec.py)."""

from __future__ import annotations

import numpy as np

from reference.nets import encoding
from reference.nets.spec import NO_BIAS, ROUNDS, _layer_shapes


def init_params(seed, n, hidden=32):
    """Canonical parameters (NumPy float32, torch layout): torch's default Linear init from one NumPy draw,
    U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, from numpy.random.default_rng(seed) in ``_layer_shapes``
    order.
    ``n`` (vertices, 4..6 in the checks) is validated only: the network is size-agnostic."""
    if int(hidden) < 1:
        raise ValueError(f"init_params: hidden must be >= 1, got hidden={hidden}")
    encoding.num_edges(n)
    rng = np.random.default_rng(seed)
    params = {}
    for name, (out_f, in_f) in _layer_shapes(hidden).items():
        bound = 1.0 / np.sqrt(in_f)
        params[f"{name}.weight"] = rng.uniform(-bound, bound, size=(out_f, in_f)).astype(np.float32)
        if name not in NO_BIAS:
            params[f"{name}.bias"] = rng.uniform(-bound, bound, size=(out_f,)).astype(np.float32)
    return params


def _linear(params, name, z):
    out = z @ params[f"{name}.weight"].T
    return out if name in NO_BIAS else out + params[f"{name}.bias"]


def _prepare(params, edge_index, edge_attr, player_role):
    if "node_in.weight" not in params:
        raise ValueError("policy_value: params must be the canonical dict (torch state_dict names)")
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    ei = np.asarray(edge_index).astype(np.int64)
    attr = np.asarray(edge_attr, dtype=np.float64)
    batched = attr.ndim == 3
    if not batched:
        attr = attr[None]
    role = np.asarray(player_role, dtype=np.float64).reshape(-1)
    if role.shape[0] != attr.shape[0]:
        raise ValueError(f"policy_value: player_role has {role.shape[0]} entries for {attr.shape[0]} boards")
    return p, ei, attr, role, batched


def _forward(p, ei, attr, role):
    """Batched forward pass (float64); returns logits (B, E), value (B,) and the activations for ``_vjp``."""
    b, num_dir = attr.shape[:2]
    num_e = num_dir // 2
    n = encoding.num_vertices(num_e)
    src, dst = ei[0], ei[1]
    deg = np.maximum(np.bincount(dst, minlength=n).astype(np.float64), 1.0)

    def mean_in(values):  # (B, 2E, F) -> (B, n, F): mean over incoming directed edges
        out = np.zeros((b, n, values.shape[-1]))
        np.add.at(out, (slice(None), dst), values)
        return out / deg[None, :, None]

    c = {"src": src, "dst": dst, "deg": deg, "n": n, "num_e": num_e, "attr": attr, "role": role}
    c["x"] = np.concatenate([mean_in(attr), np.broadcast_to(role[:, None, None], (b, n, 1))], axis=-1)
    h = np.tanh(_linear(p, "node_in", c["x"]))
    c["h0"] = h
    for r in range(ROUNDS):
        hs = h[:, src]
        m = np.tanh(_linear(p, f"msg.{r}", hs) + _linear(p, f"edge.{r}", attr))
        cat = np.concatenate([h, mean_in(m)], axis=-1)
        h = np.tanh(_linear(p, f"upd.{r}", cat))
        c[f"round{r}"] = {"hs": hs, "m": m, "cat": cat, "h": h}
    hu, hv = h[:, src[:num_e]], h[:, dst[:num_e]]
    f = np.concatenate([hu + hv, hu * hv, attr[:, :num_e]], axis=-1)
    z = np.tanh(_linear(p, "policy_hidden", f))
    logits = _linear(p, "policy_out", z)[..., 0]
    g = np.concatenate([h.mean(axis=1), role[:, None]], axis=-1)
    zv = np.tanh(_linear(p, "value_hidden", g))
    value = np.tanh(_linear(p, "value_out", zv))[..., 0]
    c.update(h=h, hu=hu, hv=hv, f=f, z=z, g=g, zv=zv, value=value)
    return logits, value, c


def policy_value(params, edge_index, edge_attr, player_role):
    """(logits (E,), value ()) for one board, or (logits (B, E), value (B,)) for edge_attr (B, 2E, 3)
    and player_role (B,); see the spec's module docstring for the equations. float64."""
    p, ei, attr, role, batched = _prepare(params, edge_index, edge_attr, player_role)
    logits, value, _ = _forward(p, ei, attr, role)
    if not batched:
        return logits[0], value[0]
    return logits, value


def _vjp(params, edge_index, edge_attr, player_role, dlogits, dvalue):
    """d/dparams of sum(dlogits * logits) + sum(dvalue * value): reverse-mode by hand (float64), batched
    inputs (B, 2E, 3), (B,), dlogits (B, E), dvalue (B,). Returns a dict keyed like ``params``.

    Per Linear y = z W^T + b: dW = sum dy^T z, db = sum dy, dz = dy W; tanh: d pre = d out (1 - out^2);
    a gather h[src] scatters its cotangent back onto src; mean_in sends d agg_i / deg_i to every edge e
    with dst_e = i."""
    p, ei, attr, role, _ = _prepare(params, edge_index, edge_attr, player_role)
    _, value, c = _forward(p, ei, attr, role)
    src, dst, deg, num_e = c["src"], c["dst"], c["deg"], c["num_e"]
    grads = {k: np.zeros_like(v) for k, v in p.items()}

    def linear_back(name, z, dy):
        w = p[f"{name}.weight"]
        grads[f"{name}.weight"] += dy.reshape(-1, dy.shape[-1]).T @ z.reshape(-1, z.shape[-1])
        if name not in NO_BIAS:
            grads[f"{name}.bias"] += dy.reshape(-1, dy.shape[-1]).sum(axis=0)
        return dy @ w

    # value head
    dpre_o = (np.asarray(dvalue, np.float64) * (1.0 - value ** 2))[:, None]
    dzv = linear_back("value_out", c["zv"], dpre_o)
    dg = linear_back("value_hidden", c["g"], dzv * (1.0 - c["zv"] ** 2))
    h = c["h"]
    hidden = h.shape[-1]
    dh = np.broadcast_to(dg[:, None, :hidden] / c["n"], h.shape).copy()
    # policy head
    dz = linear_back("policy_out", c["z"], np.asarray(dlogits, np.float64)[..., None])
    df = linear_back("policy_hidden", c["f"], dz * (1.0 - c["z"] ** 2))
    dsum, dprod = df[..., :hidden], df[..., hidden:2 * hidden]
    np.add.at(dh, (slice(None), src[:num_e]), dsum + dprod * c["hv"])
    np.add.at(dh, (slice(None), dst[:num_e]), dsum + dprod * c["hu"])
    # message passing, last round first
    for r in reversed(range(ROUNDS)):
        rc = c[f"round{r}"]
        dcat = linear_back(f"upd.{r}", rc["cat"], dh * (1.0 - rc["h"] ** 2))
        dh_in, dagg = dcat[..., :hidden].copy(), dcat[..., hidden:]
        dm = dagg[:, dst] / deg[dst][None, :, None]
        dpre_m = dm * (1.0 - rc["m"] ** 2)
        linear_back(f"edge.{r}", attr, dpre_m)
        dhs = linear_back(f"msg.{r}", rc["hs"], dpre_m)
        np.add.at(dh_in, (slice(None), src), dhs)
        dh = dh_in
    linear_back("node_in", c["x"], dh * (1.0 - c["h0"] ** 2))
    return grads


def to_native(params):
    """canonical (torch layout) -> this framework's parameters: a float32 copy of the canonical dict (NumPy)."""
    return {k: np.array(v, dtype=np.float32) for k, v in params.items()}


def from_native(native):
    """this framework's parameters -> canonical (NumPy float32, torch layout): a float32 copy (NumPy)."""
    return {k: np.array(v, dtype=np.float32) for k, v in native.items()}

