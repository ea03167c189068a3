"""Toy algorithm: a numerically careful softmax, its cross-entropy and a first-index argmax.

Exists to prove the harness end to end (a check, its negative control, the report); not an algorithm.
"""

AREA = "toy"


def softmax(logits, axis=-1):
    """softmax(logits) along ``axis``, max-shifted."""
    ...


def cross_entropy(logits, target):
    """mean over the batch of -sum(target * log_softmax(logits))."""
    ...


def argmax(values):
    """index of the largest value per row, first index on ties (int64)."""
    ...
