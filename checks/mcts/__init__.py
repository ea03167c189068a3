"""MCTS parity checks (issue 5), one module per check group, in report order:

``game``        mcts.game (legal moves, apply move, terminal values, encoding)
``steps``       mcts.puct, mcts.backup, mcts.noise_mix, mcts.temperature, mcts.move_choice (the search's
                small pure functions)
``search``      mcts.visits, mcts.visits.network (the whole search)
``properties``  mcts.behaviour, mcts.behaviour.limits, mcts.config_defaults (convention-free properties)
``dirichlet``   mcts.dirichlet_stats (each framework's own sampler, by distribution)
``mctx``        mcts.mctx_oracle, mcts.mctx_oracle.value (profile classic against mctx.muzero_policy)
``common``      the games, profiles, knobs, positions, near-tie screening and config drifts they share
"""
