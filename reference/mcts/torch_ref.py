"""MCTS on the clique game, PyTorch reference: the components (INTERFACE.md has the signatures).

Game: game_torch.py (MA); table evaluator: evaluator.table_evaluator_torch (MA); the batched search and its
small pure functions: search_torch.py (every game of the batch in lockstep, fixed-size tensors).
"""

from reference.mcts import game_torch, search_torch
from reference.mcts.evaluator import table_evaluator_torch

legal_moves = game_torch.legal_moves
apply_move = game_torch.apply_move
terminal_value = game_torch.terminal_value
encode = game_torch.encode
table_evaluator = table_evaluator_torch
puct_scores = search_torch.puct_scores
backup = search_torch.backup
mix_noise = search_torch.mix_noise
noise_alpha = search_torch.noise_alpha
sample_noise = search_torch.sample_noise
temperature = search_torch.temperature
target_policy = search_torch.target_policy
select_move = search_torch.select_move
search = search_torch.search
search_network = search_torch.search_network
search_with_evaluator = search_torch.search_with_evaluator
default_config = search_torch.default_config

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
