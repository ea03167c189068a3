"""JAX's random stream (threefry2x32, partitionable; key / split / fold_in / bits / uniform / normal)
reproduced bit for bit in NumPy (``np_ref``) and PyTorch (``torch_ref``), with ``jax_ref`` as thin batched
wrappers over ``jax.random``. Spec: shared/spec/rng.md. Exactness shown against jax/jaxlib 0.10.2 on
XLA:CPU (``np_ref.SHOWN_EXACT_AGAINST``); the proofs are parity_tests/test_rng_*.py.
"""
