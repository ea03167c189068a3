"""MCTS on the clique game, JAX reference: the components (INTERFACE.md has the signatures).

Game: game_jax.py (MA); table evaluator: evaluator.table_evaluator_jax (MA); the batched search and its
small pure functions: search_jax.py (jit, fixed-size arrays, lax loops; config static).
"""

from reference.mcts import game_jax, search_jax
from reference.mcts.evaluator import table_evaluator_jax

legal_moves = game_jax.legal_moves
apply_move = game_jax.apply_move
terminal_value = game_jax.terminal_value
encode = game_jax.encode
table_evaluator = table_evaluator_jax
puct_scores = search_jax.puct_scores
backup = search_jax.backup
mix_noise = search_jax.mix_noise
noise_alpha = search_jax.noise_alpha
sample_noise = search_jax.sample_noise
temperature = search_jax.temperature
target_policy = search_jax.target_policy
select_move = search_jax.select_move
search = search_jax.search
search_network = search_jax.search_network
search_with_evaluator = search_jax.search_with_evaluator
default_config = search_jax.default_config

COMPONENTS = {
    "mcts.legal_moves": legal_moves,
    "mcts.apply_move": apply_move,
    "mcts.terminal_value": terminal_value,
    "mcts.encode": encode,
    "mcts.table_evaluator": table_evaluator,
    "mcts.puct_scores": puct_scores,
    "mcts.backup": backup,
    "mcts.mix_noise": mix_noise,
    "mcts.noise_alpha": noise_alpha,
    "mcts.sample_noise": sample_noise,
    "mcts.temperature": temperature,
    "mcts.target_policy": target_policy,
    "mcts.select_move": select_move,
    "mcts.search": search,
    "mcts.search_network": search_network,
    "mcts.search_with_evaluator": search_with_evaluator,
    "mcts.default_config": default_config,
}
