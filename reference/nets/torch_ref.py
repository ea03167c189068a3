"""Policy-value graph network, PyTorch reference (equations and converters: spec.py)."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from reference.nets import encoding, np_ref
from reference.nets.spec import ROUNDS, _layer_shapes


@contextlib.contextmanager
def _one_thread():
    """torch intra-op threads 1 inside the block, restored afterwards. The layers are 32 wide: on a loaded
    2-core machine two spinning threads made a forward 8x slower (0.22 s vs 0.03 s) and 40 training steps
    8-16 s instead of 0.6 s. (Results agree with the multi-threaded ones within float32 tolerance.)"""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class PolicyValueNet(nn.Module):
    """torch module whose state_dict keys and layouts are the canonical parameters."""

    def __init__(self, hidden: int = 32):
        super().__init__()
        shapes = _layer_shapes(hidden)
        self.hidden = hidden
        self.node_in = nn.Linear(shapes["node_in"][1], hidden)
        self.msg = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(ROUNDS)])
        self.edge = nn.ModuleList([nn.Linear(encoding.NUM_EDGE_FEATURES, hidden) for _ in range(ROUNDS)])
        self.upd = nn.ModuleList([nn.Linear(2 * hidden, hidden) for _ in range(ROUNDS)])
        self.policy_hidden = nn.Linear(shapes["policy_hidden"][1], hidden)
        self.policy_out = nn.Linear(hidden, 1, bias=False)  # see spec.NO_BIAS
        self.value_hidden = nn.Linear(hidden + 1, hidden)
        self.value_out = nn.Linear(hidden, 1)

    def forward(self, edge_index, edge_attr, player_role):
        # edge_attr (B, 2E, 3), player_role (B,) float; returns logits (B, E), value (B,)
        b, num_dir, _ = edge_attr.shape
        num_e = num_dir // 2
        n = encoding.num_vertices(num_e)
        src, dst = edge_index[0], edge_index[1]
        deg = torch.zeros(n, dtype=edge_attr.dtype).index_add_(0, dst, torch.ones_like(dst, dtype=edge_attr.dtype))
        inv_deg = 1.0 / torch.clamp(deg, min=1.0)

        def mean_in(values):
            out = torch.zeros(b, n, values.shape[-1], dtype=values.dtype).index_add_(1, dst, values)
            return out * inv_deg[None, :, None]

        role = player_role.to(edge_attr.dtype)
        x = torch.cat([mean_in(edge_attr), role[:, None, None].expand(b, n, 1)], dim=-1)
        h = torch.tanh(self.node_in(x))
        for r in range(ROUNDS):
            m = torch.tanh(self.msg[r](h[:, src]) + self.edge[r](edge_attr))
            a = mean_in(m)
            h = torch.tanh(self.upd[r](torch.cat([h, a], dim=-1)))
        hu, hv = h[:, src[:num_e]], h[:, dst[:num_e]]
        f = torch.cat([hu + hv, hu * hv, edge_attr[:, :num_e]], dim=-1)
        logits = self.policy_out(torch.tanh(self.policy_hidden(f)))[..., 0]
        g = torch.cat([h.mean(dim=1), role[:, None]], dim=-1)
        value = torch.tanh(self.value_out(torch.tanh(self.value_hidden(g))))[..., 0]
        return logits, value


def init_params(seed, n, hidden=32):
    """Canonical parameters (NumPy float32, torch layout): torch's default Linear init from one NumPy draw
    -- the NumPy initialiser, shared by design: identical initial weights in every framework come from one
    NumPy draw and the converters."""
    return np_ref.init_params(seed, n, hidden)


def policy_value(params, edge_index, edge_attr, player_role):
    """(logits (E,), value ()) for one board, or (logits (B, E), value (B,)) for edge_attr (B, 2E, 3)
    and player_role (B,); params is a ``PolicyValueNet`` (see ``to_native``), run in eval mode."""
    if not isinstance(params, PolicyValueNet):
        raise ValueError(f"policy_value: params must be a torch_ref.PolicyValueNet, got {type(params).__name__}")
    attr = torch.as_tensor(edge_attr, dtype=torch.float32)
    batched = attr.dim() == 3
    if not batched:
        attr = attr[None]
    role = torch.as_tensor(player_role).reshape(-1).to(torch.float32)
    params.eval()
    with _one_thread():
        logits, value = params(torch.as_tensor(edge_index, dtype=torch.int64), attr, role)
    if not batched:
        return logits[0], value[0]
    return logits, value


def to_native(params):
    """canonical (torch layout) -> this framework's parameters: a ``PolicyValueNet`` loaded with
    ``load_state_dict(strict=True)``."""
    hidden = int(tuple(params["node_in.bias"].shape)[0])
    net = PolicyValueNet(hidden)
    state = {k: (v.detach().clone() if isinstance(v, torch.Tensor) else torch.from_numpy(np.array(v)))
             .to(torch.float32) for k, v in params.items()}
    net.load_state_dict(state, strict=True)
    return net.eval()


def from_native(native):
    """this framework's parameters -> canonical (NumPy float32, torch layout): a ``PolicyValueNet`` or its
    state_dict, as NumPy float32 copies (same names and layout)."""
    state = native.state_dict() if isinstance(native, nn.Module) else native
    return {k: v.detach().cpu().numpy().astype(np.float32).copy() for k, v in state.items()}

