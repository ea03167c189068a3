"""Policy-value graph network, NumPy float64 oracle. The three files (np_ref, jax_ref, torch_ref) share
names, argument order and docstrings.

Architecture (hidden H, R = 2 message-passing rounds; board encoding of ``encoding.py``:
edge_index (2, 2E) int64, edge_attr (2E, 3) or batched (B, 2E, 3), player_role 0/1 or (B,)):

    src, dst = edge_index;   deg_i = #{e : dst_e = i}
    x_i   = [ (1/deg_i) sum_{e: dst_e = i} attr_e  (3) ,  role ]                       (n, 4)
    h_i   = tanh(node_in(x_i))                                                          (n, H)
    round r = 0..R-1:
      m_e = tanh(msg_r(h_{src_e}) + edge_r(attr_e))                                     (2E, H)
      a_i = (1/deg_i) sum_{e: dst_e = i} m_e                                            (n, H)
      h_i = tanh(upd_r([h_i, a_i]))                                                     (n, H)
    policy, undirected edge k = (u, v) = edge_index[:, k], k < E:
      logit_k = policy_out(tanh(policy_hidden([h_u + h_v, h_u * h_v, attr_k])))         (E,)
    value:
      value = tanh(value_out(tanh(value_hidden([mean_i h_i, role]))))                   ()

Every ``name(z) = z @ W.T + b`` is a torch-style Linear; W is (out, in). The activations are tanh, not
relu: a relu pre-activation crossing 0 in one framework and not the other (float32 rounding) switches a
unit on / off; the first relu version (with a policy_out bias) drifted 1.8e-4 apart between JAX and torch
over 40 Adam steps, this one stays within 2e-6 (median 6e-7 over 20 seeds).

Canonical parameters (``init_params``): a flat dict of NumPy float32 arrays keyed by the torch
``state_dict`` names, in TORCH layout (Linear weight (out, in), bias (out,)):

    node_in.{weight,bias}         (H, 4), (H,)
    msg.{r}.{weight,bias}         (H, H), (H,)        r = 0, 1
    edge.{r}.{weight,bias}        (H, 3), (H,)
    upd.{r}.{weight,bias}         (H, 2H), (H,)
    policy_hidden.{weight,bias}   (H, 2H + 3), (H,)
    policy_out.weight             (1, H)              no bias: the policy loss is invariant to a shift of
                                                      all logits, so a bias there has a gradient of pure
                                                      rounding noise that Adam amplifies (2.8e-5 apart
                                                      between frameworks after 40 steps)
    value_hidden.{weight,bias}    (H, H + 1), (H,)
    value_out.{weight,bias}       (1, H), (1,)

Converters (documented once, here):
  flax  ``{"params": {M: {"kernel": W.T, "bias": b}}}`` (no "bias" for policy_out), M = the torch module
        path with "." -> "_" (``msg.0`` -> ``msg_0``); kernel is (in, out) = the transpose of the torch
        weight (a forgotten transpose is silent on the square (H, H) ``msg`` weights: nets.forward catches it).
  Eval mode: the network has no dropout and no batch norm, so train and eval modes compute the same function.
  torch ``PolicyValueNet`` whose ``state_dict()`` keys are exactly the canonical names, same layout.
  numpy the canonical dict itself (the oracle casts to float64 inside ``policy_value``).
"""

from __future__ import annotations

import numpy as np

from reference.nets import encoding

ROUNDS = 2
NO_BIAS = frozenset({"policy_out"})  # Linear layers built with bias=False
NODE_FEATURES = encoding.NUM_EDGE_FEATURES + 1


def layer_shapes(hidden: int) -> dict:
    """{module path: (out, in)} for every Linear of the network, in a fixed order."""
    h = int(hidden)
    f = encoding.NUM_EDGE_FEATURES
    shapes = {"node_in": (h, NODE_FEATURES)}
    for r in range(ROUNDS):
        shapes[f"msg.{r}"] = (h, h)
        shapes[f"edge.{r}"] = (h, f)
        shapes[f"upd.{r}"] = (h, 2 * h)
    shapes["policy_hidden"] = (h, 2 * h + f)
    shapes["policy_out"] = (1, h)
    shapes["value_hidden"] = (h, h + 1)
    shapes["value_out"] = (1, h)
    return shapes


def init_params(seed, n, hidden=32):
    """Canonical parameters: torch's default Linear init, U(-1/sqrt(in), 1/sqrt(in)) for weight and
    bias, drawn from numpy.random.default_rng(seed) in ``layer_shapes`` order; float32, torch layout.
    ``n`` (vertices, 4..6 in the checks) is validated only: the network is size-agnostic."""
    if int(hidden) < 1:
        raise ValueError(f"init_params: hidden must be >= 1, got hidden={hidden}")
    encoding.num_edges(n)
    rng = np.random.default_rng(seed)
    params = {}
    for name, (out_f, in_f) in layer_shapes(hidden).items():
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
    """Batched forward pass (float64); returns logits (B, E), value (B,) and the activations for ``vjp``."""
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
    and player_role (B,); see the module docstring for the equations. float64."""
    p, ei, attr, role, batched = _prepare(params, edge_index, edge_attr, player_role)
    logits, value, _ = _forward(p, ei, attr, role)
    if not batched:
        return logits[0], value[0]
    return logits, value


def vjp(params, edge_index, edge_attr, player_role, dlogits, dvalue):
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
    """canonical -> this framework's parameters (NumPy: a float32 copy of the canonical dict)."""
    return {k: np.array(v, dtype=np.float32) for k, v in params.items()}


def from_native(native):
    """this framework's parameters -> canonical (NumPy: a float32 copy)."""
    return {k: np.array(v, dtype=np.float32) for k, v in native.items()}


COMPONENTS = {
    "nets.init_params": init_params,
    "nets.policy_value": policy_value,
    "nets.to_native": to_native,
    "nets.from_native": from_native,
}
