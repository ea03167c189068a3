"""A small JAX EGGROLL library written from the spec in the shape real ones have: the noise is derived
inside the jitted population forward from (base key, epoch, thread id), one update function shapes the
fitness, estimates the gradient and applies the optax step. It knows nothing of the harness but ``tap``."""
