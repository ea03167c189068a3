"""MCTS references: AlphaZero-style search on the clique game (spec: /work/shared/spec/mcts.md).

``game/``    the clique game (spec.py declares legal_moves, apply_move, terminal_value, encode; np_ref,
             jax_ref, torch_ref implement them; states.py builds and slices NumPy states)
``search/``  the search and its small pure functions (spec.py declares table_evaluator, puct_scores,
             backup, mix_noise, noise_alpha, sample_noise, temperature, target_policy, select_move, search,
             search_network, search_with_evaluator, default_config), tables.py, mctx_oracle.py
``config.py`` GameConfig and MCTSConfig: every convention a named setting, profiles alphazero_clique / classic
Both sub-packages declare their components under the prefix ``mcts``.
"""
