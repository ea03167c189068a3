"""Small ports used by the harness's own tests (and as an example of the port contract)."""

from harness.base import Implementation
from reference._contract import components_of
from reference.toy import torch_ref


def _flipped(logits, axis=-1):
    return torch_ref.softmax(-logits, axis=axis)


def _raises(values):
    raise RuntimeError("deliberate failure inside the port")


GOOD = Implementation(name="goodport", framework="torch", components=components_of(torch_ref))
BROKEN = Implementation(name="brokenport", framework="torch",
                        components={**components_of(torch_ref), "toy.softmax": _flipped})
RAISING = Implementation(name="raisingport", framework="torch",
                         components={**components_of(torch_ref), "toy.argmax": _raises})
PARTIAL = Implementation(name="partialport", framework="torch", components={"toy.argmax": torch_ref.argmax})
CLASH = Implementation(name="torch", framework="torch", components={})


def make_good():
    """A zero-argument factory is accepted too."""
    return GOOD

NOT_AN_IMPLEMENTATION = 42
