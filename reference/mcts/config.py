"""MCTS configuration: every convention a named setting, two profiles (spec: /work/shared/spec/mcts.md).

A config is a frozen (hashable) dataclass, so the JAX search can ``jit`` on it as a static argument.
Framework-free (no numpy / jax / torch import): every reference imports it.

Profiles
--------
``alphazero_clique`` (the seed's PyTorch semantics, the default) and ``classic`` (DeepMind mctx
``muzero_policy`` semantics). ``profile(name, **overrides)`` builds one; ``dataclasses.replace`` (or
``cfg.replace(...)``) plants a drift for a negative control.
"""

from __future__ import annotations

import dataclasses
import math

PROFILES = ("alphazero_clique", "classic")
# every string setting of MCTSConfig and its values (validated in this order)
CHOICES = {
    "profile": PROFILES + ("custom",),
    "q_mode": ("w_over_1_plus_n", "mean"),
    "u_mode": ("sqrt_max1_node", "sqrt_1_plus_sum", "sqrt_sum"),
    "tie_break": ("first", "last", "random"),
    "backup_sign": ("alternating", "same"),
    "noise_scope": ("valid", "all"),
    "alpha_mode": ("by_legal_moves", "fixed"),
    "noise_weight_schedule": ("decay", "fixed"),
    "temperature_schedule": ("annealed", "fixed"),
    "value_target": ("alternating", "fixed"),
    "evaluator": ("table", "network"),
    "perspective": ("alternating", "fixed"),
}
MODES = ("symmetric", "asymmetric")  # GameConfig.mode
U_MODES = CHOICES["u_mode"]


def _choice(owner: str, name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {choices}, got {name}={value!r}")


@dataclasses.dataclass(frozen=True)
class GameConfig:
    """The clique game on K_n: n vertices, E = n(n-1)/2 edges, a k-clique in one's colour wins.

    mode ``symmetric``: the mover who now owns a k-clique wins; a full board without one is a draw.
    mode ``asymmetric``: only the first player wins, by a k-clique; a full board without one: second wins.
    """

    n: int = 5
    k: int = 3
    mode: str = "symmetric"

    def __post_init__(self):
        if not isinstance(self.n, int) or isinstance(self.n, bool) or not 3 <= self.n <= 12:
            raise ValueError(f"GameConfig: n must be an int in [3, 12], got n={self.n!r}")
        if not isinstance(self.k, int) or isinstance(self.k, bool) or not 3 <= self.k <= self.n:
            raise ValueError(f"GameConfig: k must be an int in [3, n={self.n}], got k={self.k!r}")
        _choice("GameConfig", "mode", self.mode, MODES)

    @property
    def num_edges(self) -> int:
        """E = n (n - 1) / 2 (= the number of actions = max_moves)."""
        return self.n * (self.n - 1) // 2


@dataclasses.dataclass(frozen=True)
class MCTSConfig:
    """Every convention of the search as a named setting (defaults = profile ``alphazero_clique``).

    Search budget
      num_reads            reads (alphazero_clique) / simulations (classic).
      reads_include_root   True: the first read expands the root, so the root's children end with
                           num_reads - 1 visits in total (alphazero_clique). False: the root is expanded
                           before the budget, children end with num_reads visits (classic / mctx).
    Selection:  argmax over valid a of Q(s,a) + U(s,a)
      c_puct               exploration constant (3.0 alphazero_clique; 1.25 classic = mctx pb_c_init).
      q_mode               ``w_over_1_plus_n``: Q = W / (1 + N) (unvisited 0);
                           ``mean``: Q = W / N, 0 if N = 0.
      u_mode               U = c_puct * P * S / (1 + N) with S =
                           ``sqrt_max1_node``: sqrt(max(1, N(s))), N(s) = the node's own visit count
                           (= 1 + sum of children's N once expanded);
                           ``sqrt_1_plus_sum``: sqrt(1 + sum_b N(s,b));
                           ``sqrt_sum``: sqrt(sum_b N(s,b)) (a known port drift; for controls only).
      tie_break            ``first`` index on ties (both profiles); ``last`` / ``random`` are drifts.
      random_tie_seed      seed of the ``random`` tie-break generator (drift only).
    Backup (edge (s, a) stores W from the perspective of the player to move at s)
      backup_sign          ``alternating``: the edge into a node whose mover has value v receives -v,
                           the sign flips each ply up the path; ``same``: every edge receives +v (drift).
      terminal_detection   True: a terminal leaf's value is the exact outcome for its player to move
                           (+1 win, -1 loss, 0 draw). False: the evaluator's value is used (drift).
                           Terminal nodes are never expanded either way; each visit re-evaluates them.
      terminal_weight      multiplier of a detected terminal leaf's value on every edge of the path
                           (2.0 alphazero_clique, 1.0 classic); N still +1.
    Priors
      prior_uniform_eps    masked priors summing below this become uniform over valid actions.
    Root noise (the Dirichlet sample itself is an INPUT of the search: see search/spec.py)
      root_noise           mix noise into the root priors at all.
      noise_scope          ``valid``: Dirichlet over the valid actions only, mixed into the masked,
                           renormalised priors; ``all``: Dirichlet over all E actions, mixed into the raw
                           evaluator priors, then invalid actions masked and the result renormalised.
      alpha_mode           ``by_legal_moves``: alpha = alpha_few if #valid < alpha_few_below, alpha_many if
                           #valid > alpha_many_above, else alpha_default; ``fixed``: alpha_default.
      noise_clip           (lo, hi) clip of the noise on valid actions before mixing, or None.
      noise_weight         w0; schedule ``decay``: w = w0 (1 - p), ``fixed``: w = w0;
                           p = move_count / E (progress of the root position).
    Move choice and training target
      temperature_schedule ``annealed``: T = temperature_values[i] for the first i with
                           p < temperature_thresholds[i] (strict), else the last value;
                           ``fixed``: T = temperature_fixed.
      target_eps           pi proportional to (N + target_eps)^(1/T), masked to valid, normalised.
      value_target         training value targets: ``alternating`` (player to move) / ``fixed`` (first).
    Search perspective (the seed trainer's ``perspective_mode``, spec mcts.md)
      perspective          ``alternating``: the evaluator's value is for the player to move at the leaf;
                           ``fixed``: it is player one's, and each parent's edge adds +v when player one is
                           to move there, -v otherwise. Implemented as the spec's equivalence: a leaf's
                           evaluator value (the root's too) becomes v * (1 - 2 to_play) before the
                           alternating backup; exact terminal outcomes are already the mover's.
    Evaluator
      evaluator            ``table`` (the bit-identical hash evaluator) or ``network``.
    """

    profile: str = "alphazero_clique"
    game: GameConfig = GameConfig()
    num_reads: int = 32
    reads_include_root: bool = True
    c_puct: float = 3.0
    q_mode: str = "w_over_1_plus_n"
    u_mode: str = "sqrt_max1_node"
    tie_break: str = "first"
    random_tie_seed: int = 0
    backup_sign: str = "alternating"
    terminal_detection: bool = True
    terminal_weight: float = 2.0
    prior_uniform_eps: float = 1e-8
    root_noise: bool = True
    noise_scope: str = "valid"
    alpha_mode: str = "by_legal_moves"
    alpha_default: float = 0.3
    alpha_few: float = 0.15
    alpha_few_below: int = 5
    alpha_many: float = 0.4
    alpha_many_above: int = 15
    noise_clip: tuple[float, float] | None = (0.01, 0.99)
    noise_weight: float = 0.25
    noise_weight_schedule: str = "decay"
    temperature_schedule: str = "annealed"
    temperature_thresholds: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
    temperature_values: tuple[float, ...] = (1.0, 0.8, 0.5, 0.2, 0.1)
    temperature_fixed: float = 1.0
    target_eps: float = 1e-8
    value_target: str = "alternating"
    evaluator: str = "table"
    perspective: str = "alternating"

    def __post_init__(self):
        o = "MCTSConfig"
        if not isinstance(self.game, GameConfig):
            raise ValueError(f"{o}: game must be a GameConfig, got game={self.game!r}")
        if not isinstance(self.num_reads, int) or isinstance(self.num_reads, bool) or self.num_reads < 1:
            raise ValueError(f"{o}: num_reads must be an int >= 1, got num_reads={self.num_reads!r}")
        if self.reads_include_root and self.num_reads < 2:
            raise ValueError(f"{o}: num_reads must be >= 2 when reads_include_root, got num_reads={self.num_reads}")
        for name in ("c_puct", "terminal_weight", "noise_weight", "alpha_default", "alpha_few", "alpha_many",
                     "temperature_fixed", "target_eps", "prior_uniform_eps"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{o}: {name} must be a finite number >= 0, got {name}={v!r}")
        for name in ("alpha_default", "alpha_few", "alpha_many", "temperature_fixed"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{o}: {name} must be > 0, got {name}={getattr(self, name)!r}")
        if not 0 <= self.noise_weight <= 1:
            raise ValueError(f"{o}: noise_weight must be in [0, 1], got noise_weight={self.noise_weight!r}")
        for name, choices in CHOICES.items():
            _choice(o, name, getattr(self, name), choices)
        for name in ("terminal_detection", "reads_include_root", "root_noise"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{o}: {name} must be a bool, got {name}={getattr(self, name)!r}")
        if self.noise_clip is not None:
            if (not isinstance(self.noise_clip, tuple) or len(self.noise_clip) != 2
                    or not 0 <= self.noise_clip[0] <= self.noise_clip[1] <= 1):
                raise ValueError(f"{o}: noise_clip must be None or a tuple (lo, hi) with 0 <= lo <= hi <= 1, "
                                 f"got noise_clip={self.noise_clip!r}")
        th, tv = self.temperature_thresholds, self.temperature_values
        if not isinstance(th, tuple) or not isinstance(tv, tuple) or len(tv) != len(th) + 1:
            raise ValueError(f"{o}: temperature_values (tuple) must have one more entry than temperature_thresholds "
                             f"(tuple), got {len(tv)} values for {len(th)} thresholds")
        if list(th) != sorted(th) or any(t <= 0 for t in tv):
            raise ValueError(f"{o}: temperature_thresholds must increase and temperature_values be > 0, "
                             f"got thresholds={th!r}, values={tv!r}")

    def replace(self, **changes) -> MCTSConfig:
        """A copy with ``changes`` (a drift for a control, or a different game / budget)."""
        return dataclasses.replace(self, **changes)

    @property
    def num_edges(self) -> int:
        return self.game.num_edges


_CLASSIC = dict(
    profile="classic",
    reads_include_root=False,
    c_puct=1.25,
    q_mode="mean",
    u_mode="sqrt_1_plus_sum",
    tie_break="first",
    backup_sign="alternating",
    terminal_detection=True,
    terminal_weight=1.0,
    root_noise=True,
    noise_scope="all",
    alpha_mode="fixed",
    alpha_default=0.3,
    noise_clip=None,
    noise_weight=0.25,
    noise_weight_schedule="fixed",
    temperature_schedule="fixed",
    temperature_fixed=1.0,
)


def profile(name: str = "alphazero_clique", **overrides) -> MCTSConfig:
    """The named profile's config, with ``overrides`` (e.g. game=GameConfig(6, 4), num_reads=64)."""
    if name == "alphazero_clique":
        base = {}
    elif name == "classic":
        base = dict(_CLASSIC)
    else:
        raise ValueError(f"profile: name must be one of {PROFILES}, got name={name!r}")
    base.update(overrides)
    return MCTSConfig(**base)


def default_config(name: str = "alphazero_clique") -> MCTSConfig:
    """The profile exactly as the spec states it (the ``mcts.default_config`` component)."""
    return profile(name)


ALPHAZERO_CLIQUE = profile("alphazero_clique")
CLASSIC = profile("classic")
