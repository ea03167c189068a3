"""Small ports used by the harness's own tests (and as an example of the port contract)."""

from harness.base import Implementation
from reference.toy import torch_ref


def _flipped(logits, axis=-1):
    return torch_ref.softmax(-logits, axis=axis)


def _raises(values):
    raise RuntimeError("deliberate failure inside the port")


GOOD = Implementation(name="goodport", framework="torch", components=dict(torch_ref.COMPONENTS))
BROKEN = Implementation(name="brokenport", framework="torch",
                        components={**torch_ref.COMPONENTS, "toy.softmax": _flipped})
RAISING = Implementation(name="raisingport", framework="torch",
                         components={**torch_ref.COMPONENTS, "toy.argmax": _raises})
PARTIAL = Implementation(name="partialport", framework="torch", components={"toy.argmax": torch_ref.argmax_first})
CLASH = Implementation(name="torch", framework="torch", components={})


def make_good():
    """A zero-argument factory is accepted too."""
    return GOOD

NOT_AN_IMPLEMENTATION = 42
