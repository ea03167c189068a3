"""Policy-value graph network (training.md): the contract of np_ref (float64 oracle), jax_ref (flax.linen)
and torch_ref (torch.nn), which share names, argument order and docstrings.

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

Canonical parameters (``init_params``; ``_layer_shapes`` below): a flat dict of NumPy float32 arrays keyed by the torch
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

from reference.nets import encoding

AREA = "nets"

ROUNDS = 2  # message-passing rounds
NO_BIAS = frozenset({"policy_out"})  # Linear layers built with bias=False
NODE_FEATURES = encoding.NUM_EDGE_FEATURES + 1  # mean incoming edge attributes and the player role


def init_params(seed, n, hidden=32):
    """Canonical parameters (NumPy float32, torch layout): torch's default Linear init from one NumPy draw."""
    ...


def policy_value(params, edge_index, edge_attr, player_role):
    """(logits (E,), value ()) for one board, or (logits (B, E), value (B,)) for edge_attr (B, 2E, 3)"""
    ...


def to_native(params):
    """canonical (torch layout) -> this framework's parameters"""
    ...


def from_native(native):
    """this framework's parameters -> canonical (NumPy float32, torch layout)"""
    ...


def _layer_shapes(hidden: int) -> dict:
    """{module path: (out, in)} for every Linear of the network, in a fixed order (the canonical layout)."""
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
