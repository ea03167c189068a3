"""harness.tap and harness.trace: taps record in eager NumPy / torch / JAX and inside jit / scan / vmap,
return their value unchanged, compile separately inside a recording, and the trace comparison names the
first divergent tap."""

from __future__ import annotations

import numpy as np
import pytest

from harness import tap
from harness.base import Tolerance
from harness.tap import Trace, component_of, recording
from harness.trace import compare_traces


def test_tap_returns_its_argument_outside_and_inside_a_recording():
    x = np.arange(3.0)
    assert tap("a.b", x) is x
    with recording() as tr:
        assert tap("a.b", x) is x
    assert [(r.name, r.index) for r in tr.records] == [("a.b", 0)]
    x[0] = 99.0
    assert tr.records[0].value[0] == 0.0  # a copy, not a view


def test_nothing_is_recorded_outside_a_recording_and_indices_count_per_name():
    tap("x.y", 1.0)
    with recording() as tr:
        for i in range(3):
            tap("x.a", np.float64(i))
            tap("x.b", {"w": np.ones(2) * i, "v": (np.int32(i),)})
    assert [(r.name, r.index) for r in tr.records] == [("x.a", 0), ("x.b", 0), ("x.a", 1), ("x.b", 1),
                                                       ("x.a", 2), ("x.b", 2)]
    assert tr.values("x.b")[2]["w"].tolist() == [2.0, 2.0]
    tap("x.y", 1.0)
    assert len(tr) == 6


def test_nested_recordings_feed_the_innermost():
    with recording() as outer:
        tap("o.x", 1.0)
        with recording() as inner:
            tap("i.x", 2.0)
        tap("o.x", 3.0)
    assert outer.names() == ["o.x"] and outer.count("o.x") == 2 and inner.names() == ["i.x"]


def test_torch_eager_values_are_detached_copies():
    torch = pytest.importorskip("torch")
    w = torch.ones(3, requires_grad=True)
    with recording() as tr:
        y = tap("t.y", (w * 2).sum())
    y.backward()  # the graph is untouched
    assert w.grad.tolist() == [2.0, 2.0, 2.0]
    assert isinstance(tr.values("t.y")[0], np.ndarray) and float(tr.values("t.y")[0]) == 6.0


def test_jax_jit_scan_vmap_and_grad():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    @jax.jit
    def f(x):
        y = tap("j.y", x * 2)

        def body(c, xs):
            c = tap("j.c", c + xs)
            return c, c

        c, _ = jax.lax.scan(body, y.sum(), jnp.arange(3.0))
        z = jax.vmap(lambda r: tap("j.v", r * 3))(x)
        return c + z.sum()

    x = jnp.array([1.0, 2.0])
    before = f(x)  # compiled outside a recording: no callbacks staged
    with recording() as tr:
        inside = f(x)
        tap("j.after", inside)  # eager, after the jitted call: recorded after its callbacks
    assert float(before) == float(inside)
    assert [(r.name, r.index) for r in tr.records] == [
        ("j.y", 0), ("j.c", 0), ("j.c", 1), ("j.c", 2), ("j.v", 0), ("j.v", 1), ("j.after", 0)]
    assert [float(v) for v in tr.values("j.c")] == [6.0, 7.0, 9.0]
    assert [float(v) for v in tr.values("j.v")] == [3.0, 6.0]  # under vmap: one call per batch element
    with recording() as again:
        f(x)  # the tapped compilation is reused inside a recording
    assert len(again) == 6
    with recording() as outside:
        pass
    f(x)  # and never outside one: nothing recorded, no recording active
    assert len(outside) == 0

    with recording() as tg:
        g = jax.grad(lambda w: tap("j.loss", jnp.sum(w ** 2)))(jnp.array([1.0, 3.0]))
    assert g.tolist() == [2.0, 6.0] and float(tg.values("j.loss")[0]) == 10.0


def test_component_of():
    assert component_of("eggroll.noise.A") == "eggroll.noise"
    assert component_of("train.lr") == "train.lr"
    assert component_of("mcts.sim.leaf_value") == "mcts.sim"


def _trace(*items):
    t = Trace()
    for name, value in items:
        t.add(name, np.asarray(value))
    return t


def test_trace_comparison_names_the_first_divergent_tap_then_the_rest():
    expected = _trace(("a.x.p", 1.0), ("a.y.q", [1.0, 2.0]), ("a.x.p", 2.0), ("a.y.q", [3.0, 4.0]))
    actual = _trace(("a.x.p", 1.0), ("a.y.q", [1.0, 2.5]), ("a.x.p", 2.5), ("a.y.q", [3.0, 4.0]))
    cmp = compare_traces(actual, expected, Tolerance())
    assert not cmp.ok and cmp.first == ("a.y.q", 0)
    assert [l.path for l in cmp.failing] == ["a.y.q#0", "a.x.p#1"]
    assert cmp.components == ["a.y", "a.x"]
    assert cmp.summary().startswith("first divergent tap: a.y.q#0: ")


def test_trace_comparison_untapped_missing_extra_and_nothing_compared():
    expected = _trace(("a.x.p", 1.0), ("a.x.p", 2.0), ("a.z.r", 0.0))
    ok = compare_traces(_trace(("a.x.p", 1.0), ("a.x.p", 2.0)), expected)
    assert ok.ok and ok.untapped == ["a.z.r"] and "untapped" in ok.summary()
    short = compare_traces(_trace(("a.x.p", 1.0)), expected)
    assert [l.message.split(":")[0] for l in short.failing] == ["missing call"]
    extra = compare_traces(_trace(("a.x.p", 1.0), ("a.x.p", 2.0), ("a.x.p", 3.0)), expected)
    assert [l.message.split(":")[0] for l in extra.failing] == ["extra call"]
    nothing = compare_traces(_trace(("b.q", 1.0)), expected)
    assert not nothing.ok and "compared nothing" in nothing.failing[0].message


@pytest.mark.parametrize("check_name,control,first", [
    ("trace.train", "policy_weight_dropped", "train.loss.total#0"),
    ("trace.train", "weight_decay_dropped", "train.params#0"),
    ("trace.train", "l2_dropped", "train.loss.l2#0"),
    ("trace.mcts", "backup_plus_v", "mcts.backup.values#0"),
    ("trace.mcts", "no_terminal_detection", "mcts.evaluate.leaf_value#"),
    ("trace.mcts", "c_puct_1", "mcts.select.path#"),
    ("trace.eggroll", "r0_fresh", "eggroll.keys.member#1"),
    ("trace.eggroll", "sigma_doubled", "eggroll.noise.A#0"),
    ("trace.eggroll", "group_size_ignored", "eggroll.fitness.shaped#3"),
    ("trace.fit", "data_order_ignored", "train.loss.policy#0"),
])
def test_trace_controls_name_the_first_divergent_tap(parity_runner, check_name, control, first):
    from checks.trace import CHECKS

    check = next(c for c in CHECKS if c.name == check_name)
    ctl = next(c for c in check.controls if c.name == control)
    r = parity_runner.run_control(check, ctl, 0)
    assert r.status.value == "detected", r.message
    assert f"first divergent tap: {first}" in r.message, r.message
    assert r.failing_components[0] == ctl.expect_components[0]


TAPS = {
    "trace.train": {"train.loss.policy", "train.loss.value", "train.loss.l2", "train.loss.total", "train.lr",
                    "train.grad_norm.before_clip", "train.grad_norm.after_clip", "train.params"},
    "trace.fit": {"train.loss.policy", "train.loss.value", "train.loss.l2", "train.loss.total", "train.lr",
                  "train.grad_norm.before_clip", "train.grad_norm.after_clip", "train.params"},
    "trace.eggroll": {"eggroll.keys.member", "eggroll.noise.A", "eggroll.noise.B", "eggroll.noise.E",
                      "eggroll.sigma.signed", "eggroll.fitness.raw", "eggroll.fitness.shaped", "eggroll.grad",
                      "eggroll.params"},
    "trace.mcts": {"mcts.select.path", "mcts.evaluate.leaf_value", "mcts.backup.values", "mcts.root.visits"},
}


@pytest.mark.parametrize("check_name", sorted(TAPS))
def test_references_emit_the_same_taps_the_same_number_of_times(parity_runner, check_name):
    """Not vacuous: every reference emits every documented tap, equally often (the values are compared by
    the catalogue's trace.* pairs)."""
    from checks.trace import CHECKS

    check = next(c for c in CHECKS if c.name == check_name)
    case = check.inputs(0)
    counts = {}
    for name in ("numpy", "jax", "torch"):
        out = parity_runner.outputs(check, parity_runner.impls[name], case, ("seed", 0))
        assert out.status == "ok", out.message
        assert set(out.value.names()) == TAPS[check_name], (name, out.value.names())
        counts[name] = {n: out.value.count(n) for n in TAPS[check_name]}
    assert counts["numpy"] == counts["jax"] == counts["torch"]
    assert min(counts["numpy"].values()) > 0
