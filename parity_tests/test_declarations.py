"""Port declarations (issue 9, item 3) and bundled checks on a provided subset (item 4).

Ports here are small NumPy ports built from the oracle's components with one property changed, so each
test runs the pair (port, numpy) only and stays cheap.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from harness import catalogue, ports
from harness.base import Implementation, ParityError, Result, Status
from harness.declarations import validate
from harness.report import exit_code, to_markdown
from harness.runner import Runner

CHECKS = {c.name: c for c in catalogue.load()[0]}


@pytest.fixture(scope="module")
def numpy_only():
    return {"numpy": ports.builtin(("numpy",))[0]["numpy"]}


@pytest.fixture(scope="module")
def oracle(numpy_only):
    return numpy_only["numpy"].components


def _port(oracle, name="p", keep=None, framework="numpy", **kw):
    comps = {k: v for k, v in oracle.items() if keep is None or any(k.startswith(p) for p in keep)}
    comps.update(kw.pop("components", {}))
    return Implementation(name, framework, comps, **kw)


def _rows(numpy_only, port, check):
    r = Runner({**numpy_only, port.name: port})
    return {x.pair: x for x in r.run_check(CHECKS[check])}


def _row(numpy_only, port, check) -> Result:
    """The port's row against the oracle (or alone, for a property check)."""
    rows = _rows(numpy_only, port, check)
    return rows.get((port.name, "numpy")) or rows[(port.name, "invariant")]


# ------------------------------------------------------------------------------------------ profiles


def _classic_broken(orig):
    def puct(w, n, priors, valid, node_n, config):
        if config.profile == "classic":
            config = config.replace(c_puct=7.0)
        return orig(w, n, priors, valid, node_n, config)
    return puct


def test_single_profile_port_is_compared_on_its_profile_only(numpy_only, oracle):
    comps = {"mcts.puct_scores": _classic_broken(oracle["mcts.puct_scores"])}
    undeclared = _port(oracle, keep=["mcts.puct"], components=comps)
    assert _row(numpy_only, undeclared, "mcts.puct").status == Status.FAIL  # the classic half is wrong
    declared = dataclasses.replace(undeclared, profiles=("alphazero_clique",))
    r = _row(numpy_only, declared, "mcts.puct")
    assert r.status == Status.PASS and r.leaves and all("classic" not in l.path for l in r.leaves)
    # a check that covers only the other profile is not_applicable, with the reason
    na = _row(numpy_only, _port(oracle, keep=["mcts.search"], profiles=("alphazero_clique",)), "mcts.mctx_oracle")
    assert na.status == Status.NOT_APPLICABLE and "classic" in na.message


def test_declared_profile_still_fails_on_its_own_profile(numpy_only, oracle):
    def az_broken(orig):
        return lambda w, n, p, v, nn, cfg: orig(w, n, p, v, nn, cfg.replace(c_puct=1.0))
    port = _port(oracle, keep=["mcts.puct"], profiles=("alphazero_clique",),
                 components={"mcts.puct_scores": az_broken(oracle["mcts.puct_scores"])})
    r = _row(numpy_only, port, "mcts.puct")
    assert r.status == Status.FAIL and r.failing_components == ["mcts.puct_scores"]


def test_not_applicable_never_makes_an_empty_run_green(numpy_only, oracle):
    port = _port(oracle, keep=["mcts.search"], profiles=("alphazero_clique",))
    results = Runner({"p": port}).run_check(CHECKS["mcts.mctx_oracle"])
    assert results and all(r.status == Status.NOT_APPLICABLE for r in results)
    assert exit_code(results) == 2
    assert "Known differences and not applicable" in to_markdown(results)


# ------------------------------------------------------------------------------------ fixed literals


def _hard_coded(orig, value):
    """A real port's PUCT: ``c_puct`` is a literal in the code, the config's value is ignored."""
    return lambda w, n, p, v, nn, cfg: orig(w, n, p, v, nn, cfg.replace(c_puct=value))


def test_fixed_literal_runs_at_the_literal_and_is_compared_with_the_spec(numpy_only, oracle):
    right = _port(oracle, keep=["mcts.puct"], profiles=("alphazero_clique",), fixed={"c_puct": 3.0},
                  components={"mcts.puct_scores": _hard_coded(oracle["mcts.puct_scores"], 3.0)})
    assert _row(numpy_only, right, "mcts.puct").status == Status.PASS
    # the limits check varies c_puct: not applicable to a port that hard-codes it (without the
    # declaration it fails: the literal ignores c_puct = 1e-9 / 1e9)
    assert _row(numpy_only, right, "mcts.behaviour.limits").status == Status.NOT_APPLICABLE
    undeclared = dataclasses.replace(right, fixed={})
    assert _row(numpy_only, undeclared, "mcts.behaviour.limits").status == Status.FAIL
    wrong = _port(oracle, keep=["mcts.puct"], profiles=("alphazero_clique",), fixed={"c_puct": 1.0},
                  components={"mcts.puct_scores": _hard_coded(oracle["mcts.puct_scores"], 1.0)})
    r = _row(numpy_only, wrong, "mcts.puct")
    assert r.status == Status.FAIL and r.failing_components == ["mcts.puct_scores"]
    bad = [l for l in r.leaves if not l.ok]
    assert len(bad) == 1 and bad[0].reason == "literal"  # the numbers agree at the literal; the literal does not
    assert "hard-coded c_puct = 1.0" in r.message and "3.0" in r.message


def test_fixed_literal_binds_positional_arguments_by_the_spec_name(numpy_only, oracle):
    def total(params, logits, value_output, policy_target, value_target, *_):  # weights hard-coded to 1
        return oracle["losses.total"](params, logits, value_output, policy_target, value_target, 1.0, 1.0)
    port = _port(oracle, keep=["losses.total"], components={"losses.total": total})
    assert _row(numpy_only, port, "losses.total").status == Status.FAIL  # the case uses 0.5 / 1.5
    declared = dataclasses.replace(port, fixed={"policy_weight": 1.0, "value_weight": 1.0})
    assert _row(numpy_only, declared, "losses.total").status == Status.PASS  # the spec leaves the weights free


def test_unknown_declarations_are_usage_errors(oracle):
    checks = list(CHECKS.values())
    for kw, word in (({"fixed": {"c_pcut": 3.0}}, "c_pcut"), ({"profiles": ("alphazero",)}, "alphazero"),
                     ({"exclusions": {"finished": "x"}}, "finished"),
                     ({"known_differences": {"mcts.nope": "x"}}, "mcts.nope")):
        with pytest.raises(ParityError, match=word):
            validate(_port(oracle, **kw), checks)
    with pytest.raises(ParityError, match="reason"):
        _port(oracle, exclusions={"finished_game": " "})


# --------------------------------------------------------------------------------- domain exclusions


def test_domain_exclusion_leaves_the_inputs_out_on_both_sides(numpy_only, oracle):
    def temperature(move_count, config):  # undefined at a finished game: returns NaN there
        t = oracle["mcts.temperature"](move_count, config)
        return np.where(np.asarray(move_count) >= config.num_edges, np.nan, t).astype(np.float32)
    port = _port(oracle, keep=["mcts.temperature", "mcts.target_policy"],
                 components={"mcts.temperature": temperature})
    r = _row(numpy_only, port, "mcts.temperature")
    assert r.status == Status.FAIL and r.failing_components == ["mcts.temperature"]
    declared = dataclasses.replace(port, exclusions={"finished_game": "T is not defined once the game is over"})
    assert _row(numpy_only, declared, "mcts.temperature").status == Status.PASS


# --------------------------------------------------------------------------------- known differences


def test_known_difference_is_its_own_status_with_the_reason(numpy_only, oracle):
    def value_no_smoothing(value_output, value_target):
        return oracle["losses.value"](value_output, np.asarray(value_target) / 0.9)
    port = _port(oracle, keep=["losses.value"], components={"losses.value": value_no_smoothing},
                 known_differences={"losses.value": "our trainer has no label smoothing (paper setting)"})
    r = _row(numpy_only, port, "losses.value")
    assert r.status == Status.KNOWN_DIFFERENCE and "no label smoothing" in r.message
    md = to_markdown([r], declarations=[{"port": "p", "framework": "numpy", "profiles": None, "fixed": {},
                                         "native_rng": False, "exclusions": {},
                                         "known_differences": dict(port.known_differences)}])
    assert "Port declarations" in md and "no label smoothing" in md
    ok = _port(oracle, keep=["losses.value"], known_differences={"losses.value": "stale"})
    r = _row(numpy_only, ok, "losses.value")
    assert r.status == Status.PASS and "not observed" in r.message


# ---------------------------------------------------------------------------- provided subsets (item 4)


def test_bundled_check_runs_the_provided_subset(numpy_only, oracle):
    only_seed_formula = _port(oracle, keep=["losses.policy"], components={})
    only_seed_formula = Implementation("p", "numpy", {"losses.policy": oracle["losses.policy"]})
    r = _row(numpy_only, only_seed_formula, "losses.policy")
    assert r.status == Status.PASS and r.leaves and all("log_softmax" not in l.path for l in r.leaves)
    broken = Implementation("p", "numpy", {"losses.policy": lambda z, t: oracle["losses.policy"](z, t) * 1.01})
    r = _row(numpy_only, broken, "losses.policy")
    assert r.status == Status.FAIL and r.failing_components == ["losses.policy"]
    game = Implementation("p", "numpy", {k: oracle[k] for k in ("mcts.legal_moves", "mcts.apply_move")})
    r = _row(numpy_only, game, "mcts.game")
    assert r.status == Status.PASS and {l.path.split("]")[0] for l in r.leaves} == {
        "['mcts.legal_moves'", "['mcts.apply_move'"}


def test_encoding_is_compared_as_a_set_of_directed_edges(numpy_only, oracle):
    def shuffled(state, game):  # the same directed edges with features, in another column order
        out = dict(oracle["mcts.encode"](state, game))
        order = np.random.default_rng(0).permutation(np.asarray(out["edge_index"]).shape[1])
        return {"edge_index": np.asarray(out["edge_index"])[:, order],
                "edge_attr": np.asarray(out["edge_attr"])[..., order, :]}

    def one_direction(state, game):
        out = shuffled(state, game)
        attr = out["edge_attr"].copy()
        attr[..., ::2, :] = 0.0
        return {**out, "edge_attr": attr}

    assert _row(numpy_only, Implementation("p", "numpy", {"mcts.encode": shuffled}), "mcts.game").status == Status.PASS
    r = _row(numpy_only, Implementation("p", "numpy", {"mcts.encode": one_direction}), "mcts.game")
    assert r.status == Status.FAIL and r.failing_components == ["mcts.encode"]


# ------------------------------------------------------------------------------- native random stream


def _native_noise(scale_bias_by_numel=False):
    """An EGGROLL port with its own stream: noise from np.random.Generator seeded by the key words."""
    def gen(key):
        k = np.asarray(key).astype(np.int64) & 0xFFFFFFFF
        return np.random.default_rng([int(k[0]), int(k[1])])

    def lowrank(keys, signs, shape, rank, sigma):
        a, b = (int(d) for d in shape)
        z = np.stack([gen(k).standard_normal((a + b, int(rank))) for k in np.asarray(keys)])
        s = np.asarray(signs, np.float64)[:, None, None] * (float(sigma) / math.sqrt(int(rank)))
        return (s * z[:, b:]).astype(np.float32), z[:, :b].astype(np.float32)

    def fullrank(keys, signs, shape, sigma):
        shape = tuple(int(d) for d in shape)
        eps = np.stack([gen(k).standard_normal(shape) for k in np.asarray(keys)])
        if scale_bias_by_numel and len(shape) == 1:
            eps = eps / math.sqrt(shape[0])  # the planted drift: 1-D noise divided by sqrt(numel)
        s = np.asarray(signs, np.float64).reshape((-1,) + (1,) * len(shape)) * float(sigma)
        return (s * eps).astype(np.float32)

    return {"eggroll.lowrank_noise": lowrank, "eggroll.fullrank_noise": fullrank}


def test_native_stream_gets_structural_checks_and_real_divergences_still_surface(numpy_only, oracle):
    comps = {k: oracle[k] for k in ("eggroll.member_keys", "eggroll.pair_index_sign", "eggroll.noise_epoch",
                                    "eggroll.epoch")}
    undeclared = Implementation("p", "numpy", {**comps, **_native_noise()})
    assert _row(numpy_only, undeclared, "eggroll.noise.layout").status == Status.FAIL  # other draws
    port = dataclasses.replace(undeclared, native_rng=True)
    r = _row(numpy_only, port, "eggroll.noise.layout")
    assert r.status == Status.PASS and any("antithetic" in l.path for l in r.leaves)
    for name in ("eggroll.noise.sign_alternation", "eggroll.noise.reuse", "eggroll.stats.noise"):
        assert _row(numpy_only, port, name).status == Status.PASS, name
    assert _row(numpy_only, port, "eggroll.trajectory").status == Status.NOT_APPLICABLE
    drifted = Implementation("p", "numpy", {**comps, **_native_noise(scale_bias_by_numel=True)}, native_rng=True)
    r = _row(numpy_only, drifted, "eggroll.stats.noise")
    assert r.status == Status.FAIL and r.failing_components == ["eggroll.fullrank_noise"]
