"""Transitional: the mcts components of game/torch_ref.py and search/torch_ref.py as one COMPONENTS dict
(until the components are discovered from the specs: reference/_contract.py)."""

from reference.mcts.game import torch_ref as game
from reference.mcts.search import torch_ref as search

COMPONENTS = {
    "mcts.legal_moves": game.legal_moves,
    "mcts.apply_move": game.apply_move,
    "mcts.terminal_value": game.terminal_value,
    "mcts.encode": game.encode,
    "mcts.table_evaluator": search.table_evaluator,
    "mcts.puct_scores": search.puct_scores,
    "mcts.backup": search.backup,
    "mcts.mix_noise": search.mix_noise,
    "mcts.noise_alpha": search.noise_alpha,
    "mcts.sample_noise": search.sample_noise,
    "mcts.temperature": search.temperature,
    "mcts.target_policy": search.target_policy,
    "mcts.select_move": search.select_move,
    "mcts.search": search.search,
    "mcts.search_network": search.search_network,
    "mcts.search_with_evaluator": search.search_with_evaluator,
    "mcts.default_config": search.default_config,
}
