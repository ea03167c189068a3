"""Training losses of the seed trainer: policy, value, L2, total, and their gradients."""
