"""MCTS on the clique game, NumPy float64 oracle: the components (INTERFACE.md has the signatures).

Game: game_np.py; table evaluator: evaluator.py; search and its small pure functions: search_np.py.
"""

from reference.mcts import game_np, search_np
from reference.mcts.config import default_config
from reference.mcts.evaluator import NetworkEvaluatorNP, table_evaluator_np

legal_moves = game_np.legal_moves
apply_move = game_np.apply_move
terminal_value = game_np.terminal_value
encode = game_np.encode
table_evaluator = table_evaluator_np
puct_scores = search_np.puct_scores
backup = search_np.backup
mix_noise = search_np.mix_noise
noise_alpha = search_np.noise_alpha
sample_noise = search_np.sample_noise
temperature = search_np.temperature
target_policy = search_np.target_policy
select_move = search_np.select_move


def search(states, noise, config):
    """Root statistics of an MCTS from each state: {"visits", "q", "w", "value", "priors"}."""
    return search_np.search(states, noise, config)


def search_with_evaluator(state, evaluator, noise, config):
    """The whole search of ONE game with any callable ``evaluator(state) -> (priors (E,), value)``."""
    return search_np.search_with_evaluator(state, evaluator, noise, config)


def search_network(states, noise, config, params):
    """``search`` with the quantised network evaluator (evaluator.py); ``params`` = canonical net params."""
    return search_np.search(states, noise, config, evaluator=NetworkEvaluatorNP(params))


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
