"""Training losses of the seed trainer: policy, value, L2, total, and their gradients (training.md).

Batch of B examples, E actions; ``logits`` (B, E), ``policy_target`` (B, E), ``value_output`` (B, 1) (the
network's value head, squeezed on the LAST axis only, so B = 1 stays a batch), ``value_target`` (B,).

    policy       = mean_b  sum_a  -t_ba * log(softmax(z_b)_a + 1e-8) * [t_ba > 1e-7]      (the seed)
    policy_ls    = mean_b  sum_a  -t_ba * log_softmax(z_b)_a * [t_ba > 1e-7]              (named variant)
    value        = mean_b  huber_1(v_b - (1 - 0.1) y_b),  huber_1(d) = d^2 / 2 if |d| <= 1 else |d| - 1/2
    l2           = 1e-5 * sum_p ||p||_F          (NOT squared; d||p||/dp = p / ||p||, and 0 at p = 0)
    total        = policy_weight * policy + value_weight * value + l2
"""

AREA = "losses"

EPS = 1e-8  # inside the log of the seed's policy loss
MASK_THRESHOLD = 1e-7  # policy targets at or below this are masked out
LABEL_SMOOTHING = 0.1  # the value target is (1 - LABEL_SMOOTHING) * y
HUBER_DELTA = 1.0  # huber_delta (optax) = beta (torch smooth_l1); equal only at 1
L2_COEFF = 1e-5


def policy(logits, target):
    """mean_b sum_a -t * log(softmax(z) + 1e-8) * [t > 1e-7]  (the seed's formula)."""
    ...


def policy_log_softmax(logits, target):
    """mean_b sum_a -t * log_softmax(z) * [t > 1e-7]  (a variant; differs by whole units at spreads > ~20)."""
    ...


def value(value_output, value_target):
    """mean_b huber_1(v_b - 0.9 y_b), v = value_output squeezed on the last axis (B, 1) -> (B,)."""
    ...


def l2(params, coeff=L2_COEFF):
    """coeff * sum over every parameter p of the Frobenius norm ||p||, not squared."""
    ...


def total(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """policy_weight * policy + value_weight * value + l2(params)."""
    ...


def grad(params, logits, value_output, policy_target, value_target, policy_weight=1.0, value_weight=1.0):
    """(total, {"params", "logits", "value_output"}: d total / d each)"""
    ...


def _check_value_shapes(v: tuple, y: tuple) -> None:
    """The shapes of value_output (B, 1) and value_target (B,), or a ValueError saying which is wrong."""
    if len(v) != 2 or v[-1] != 1:
        raise ValueError(f"losses.value: value_output must have shape (B, 1), got {v}")
    if y != (v[0],):
        raise ValueError(f"losses.value: value_target must have shape ({v[0]},), got {y}")
