"""EGGROLL (low-rank evolution strategies): NumPy float64 oracle, JAX (+ optax) and PyTorch (+ torch.optim)
references sharing component names, argument order and array layouts. Semantics: shared/spec/eggroll.md."""
