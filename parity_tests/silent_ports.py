"""Ports that misbehave in the ways a run could hide (issue 8): each one must give a clear result."""

import sys
import time

import torch

from harness.base import Implementation
from reference._contract import components_of
from reference.toy import torch_ref

TOY = components_of(torch_ref)


def _exits(values):
    sys.exit(0)


def _interrupts(values):
    raise KeyboardInterrupt


def _hangs(logits, axis=-1):
    time.sleep(60)
    return torch_ref.softmax(logits, axis)


def _bf16_off(logits, axis=-1):
    # 0.5% off, returned as bfloat16: bfloat16's own tolerance (1.6e-2) would let it pass
    return (torch_ref.softmax(logits, axis) * 1.005).to(torch.bfloat16)


def _none(logits, axis=-1):
    return None


def _wrong_shape(logits, axis=-1):
    return torch_ref.softmax(logits, axis)[:, :3]


def _nan_and_off(logits, axis=-1):
    p = torch_ref.softmax(logits, axis) * 1.1
    p[0, 0] = float("nan")
    return p


def _mutates(logits, axis=-1):
    out = torch_ref.softmax(logits.clone(), axis)
    logits.mul_(2.0)  # writes to its input: cross_entropy, called next, reads the doubled logits
    return out


def _native_rng(values):
    # a port drawing its own randomness: a random tie-break among the maxima
    noise = torch.rand(values.shape) * 1e-3
    return torch.argmax(values + noise, dim=-1)


def _port(name, **over):
    return Implementation(name=name, framework="torch", components={**TOY, **over})


EXITING = _port("exitingport", **{"toy.argmax": _exits})
INTERRUPTING = _port("interruptport", **{"toy.argmax": _interrupts})
HANGING = _port("hangingport", **{"toy.softmax": _hangs})
BF16 = _port("bf16port", **{"toy.softmax": _bf16_off})
NONE = _port("noneport", **{"toy.softmax": _none})
SHAPE = _port("shapeport", **{"toy.softmax": _wrong_shape})
NAN = _port("nanport", **{"toy.softmax": _nan_and_off})
MUTATING = _port("mutatingport", **{"toy.softmax": _mutates})
NATIVE_RNG = _port("rngport", **{"toy.argmax": _native_rng})
TYPO = Implementation(name="typoport", framework="torch",
                      components={"toy.sofmax": torch_ref.softmax, "toy.argmax": torch_ref.argmax})
SOFTMAX_ONLY = Implementation(name="softonly", framework="torch",  # covers toy.math.softmax, not argmax
                              components={"toy.softmax": torch_ref.softmax, "toy.cross_entropy": torch_ref.cross_entropy})


def torch_reference_as_port():
    """The torch reference plugged in as a user's port (to read golden files without JAX)."""
    from checks import builtin

    ref = builtin.implementation("torch")
    return Implementation(name="torchport", framework="torch", components=dict(ref.components))
