"""A small PyTorch AlphaZero trainer for the clique game, written the way such trainers are: a node class,
schedules inline in the self-play loop, the loss inline in ``train_network``, ``np.random.dirichlet`` in
``expand``. It knows nothing of the harness except a few ``tap`` lines."""
