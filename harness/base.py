"""Typed contracts of the harness: implementations, checks, comparison modes, results.

The harness knows no algorithm. An *implementation* is a named bag of *components* (plain functions)
written for one framework. A *check* is declared once -- name, components, an input generator, a
hypothesis strategy, a comparison mode and negative controls -- and serves pytest, the fuzzer and the
report alike.

Glossary
--------
component   dotted name ``<algorithm>.<function>`` (``eggroll.forward``, ``losses.policy``), the unit a
            port provides and the report names.
check       dotted name ``<algorithm>.<area>[.<what>]`` (``eggroll.noise.reuse``, ``losses.policy``).
case        the inputs of one run of a check: a nested dict / list / tuple of NumPy arrays and Python
            scalars, produced from a seed (``Check.inputs``) or by hypothesis (``Check.strategy``). The
            harness converts every ``np.ndarray`` leaf to the implementation's own array type before
            ``Check.run`` sees it (NumPy stays NumPy, JAX gets ``jnp`` arrays, torch gets tensors); scalars,
            strings and ``np.generic`` are passed as they are.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

FRAMEWORKS = ("numpy", "jax", "torch")
ROLES = ("oracle", "reference", "port", "golden")

PREFIX = "PARITY:"  # every assertion / failure message of the harness starts with this


class ParityError(Exception):
    """A usage or configuration error (bad port path, unknown check, corrupt fixture...).

    Its message is one line that says what was wrong and where; the CLI prints it and exits 2.
    """

    def __init__(self, message: str):
        super().__init__(message if message.startswith(PREFIX) else f"{PREFIX} {message}")


# --------------------------------------------------------------------------------------------------
# Implementations
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Implementation:
    """One implementation of some components, in one framework.

    A user's port is an ``Implementation`` (or a zero-argument callable returning one) reachable as
    ``package.module:attribute``::

        PORT = Implementation(name="myport", framework="torch",
                              components={"eggroll.forward": my_forward, ...})

    Components a port lacks are reported ``not_provided``, never ``pass``.
    """

    name: str
    framework: str  # one of FRAMEWORKS
    components: Mapping[str, Callable[..., Any]]
    role: str = "port"  # one of ROLES
    description: str = ""

    def __post_init__(self):
        if self.framework not in FRAMEWORKS:
            raise ParityError(
                f"implementation {self.name!r}: framework must be one of {FRAMEWORKS}, got {self.framework!r}")
        if self.role not in ROLES:
            raise ParityError(f"implementation {self.name!r}: role must be one of {ROLES}, got {self.role!r}")
        bad = [k for k, v in self.components.items() if not callable(v)]
        if bad:
            raise ParityError(f"implementation {self.name!r}: components not callable: {', '.join(sorted(bad))}")

    def provides(self, names: Sequence[str]) -> bool:
        return all(n in self.components for n in names)

    def missing(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if n not in self.components]

    def patched(self, name: str, patch: Mapping[str, Callable[[Callable], Callable]]) -> Implementation:
        """A mutant: each patched component ``c`` replaced by ``patch[c](original_c)``."""
        comps = dict(self.components)
        for comp, make in patch.items():
            comps[comp] = make(comps.get(comp))
        return dataclasses.replace(self, name=name, components=comps, role="port")


class Components:
    """What ``Check.run`` receives: the implementation's components, plus array helpers.

    ``c["eggroll.forward"](x, ...)`` calls a component; ``c.framework`` names the framework;
    ``c.asarray(np_array)`` converts a NumPy array to the framework's array type;
    ``c.to_numpy(x)`` converts back.
    """

    def __init__(self, impl: Implementation, asarray: Callable[[Any], Any], to_numpy: Callable[[Any], Any]):
        self.impl = impl
        self.framework = impl.framework
        self.name = impl.name
        self.asarray = asarray
        self.to_numpy = to_numpy

    def __getitem__(self, component: str) -> Callable[..., Any]:
        try:
            return self.impl.components[component]
        except KeyError:
            raise ComponentMissing(component) from None

    def __contains__(self, component: str) -> bool:
        return component in self.impl.components


class ComponentMissing(KeyError):
    """Raised when a check asks for a component the implementation does not provide."""


# --------------------------------------------------------------------------------------------------
# Comparison modes (one dtype policy: see harness/tolerance.py)
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """|actual - expected| <= atol + rtol * |expected|, elementwise.

    ``rtol`` / ``atol`` left ``None`` come from the dtype policy (torch.testing's table) for the less
    precise of the two dtypes. An override must carry a one-line numerical ``reason``.
    """

    rtol: float | None = None
    atol: float | None = None
    reason: str = ""

    def __post_init__(self):
        if (self.rtol is not None or self.atol is not None) and not self.reason.strip():
            raise ParityError("Tolerance override without a reason: say why these numbers (one line)")

    @property
    def kind(self) -> str:
        return "tolerance"


@dataclasses.dataclass(frozen=True)
class Ulp:
    """Floats agree to within ``max_ulp`` units in the last place of the less precise dtype."""

    max_ulp: int = 0
    reason: str = ""

    @property
    def kind(self) -> str:
        return "ulp"


@dataclasses.dataclass(frozen=True)
class Exact:
    """Bitwise for floats (-0.0 != 0.0; NaN positions must match, payloads are ignored),
    equal values for integers and bools."""

    @property
    def kind(self) -> str:
        return "exact"


@dataclasses.dataclass(frozen=True)
class Statistical:
    """Only distributions can match: every float leaf is a sample; two-sample KS per leaf.

    ``alpha`` is the whole check's false-failure budget, split over leaves by Bonferroni. With the
    fixed seeds of CI the outcome is deterministic; ``alpha`` bounds the rate over fresh seeds.
    """

    alpha: float = 1e-3
    test: str = "ks"

    @property
    def kind(self) -> str:
        return "statistical"


Mode = Tolerance | Ulp | Exact | Statistical


# --------------------------------------------------------------------------------------------------
# Checks and negative controls
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Control:
    """A negative control: plant a divergence and require the check to report it.

    ``patch`` maps component names to ``original -> mutant`` functions; the harness builds the mutant of
    implementation ``target`` (``"numpy"``, ``"jax"`` or ``"torch"``), runs the check for the pair
    (mutant, ``against``) on ``Check.inputs(seed)`` and requires status ``fail``, with every component in
    ``expect_components`` (default: the check's first component) named as diverging.
    """

    name: str
    description: str
    patch: Mapping[str, Callable[[Callable | None], Callable]]
    target: str = "torch"
    against: str = "numpy"
    expect_components: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Check:
    """One parity check, declared once.

    name        ``<algorithm>.<area>.<what>``.
    components  components the check exercises (all needed; the first is the one the report names
                unless ``run`` returns a mapping keyed by component, see below).
    inputs      seed -> case. Deterministic: the same seed gives the same case.
    run         (Components, case) -> outputs, a nested container of arrays / scalars in the
                implementation's own types. If ``by_component`` is True, the top level of the output
                must be a dict keyed by component name, so that the report can name which component
                diverges (e.g. a trajectory check returning {"eggroll.update": ..., "eggroll.step": ...}).
    mode        Tolerance / Ulp / Exact / Statistical.
    strategy    optional zero-argument callable returning a hypothesis strategy of cases (imported lazily
                so that the CLI does not need hypothesis). Shapes from small fixed sets: JAX compiles once
                per shape.
    controls    negative controls; a check without any is a defect (the test suite enforces it).
    kind        "pair" (every implementation against the oracle, references against each other) or
                "property" (each implementation alone; ``run`` returns ``(actual, expected)`` and the two
                are compared -- used for invariants).
    frameworks  frameworks this check applies to (e.g. a sampler statistic only for torch ports).
    known_differences  {(impl_a, impl_b): reason}: a failing pair listed here is reported
                ``known_difference`` with the reason, not ``fail``.
    fixture     True if the golden file store keeps this check's case and the JAX reference's outputs.
    slow        True for checks that take seconds (excluded from ``-m "not slow"`` runs).
    x64         True to run the JAX side with ``jax_enable_x64`` (float64 end to end, e.g. to keep float32
                near-ties out of a discrete decision); restored afterwards.
    """

    name: str
    components: tuple[str, ...]
    inputs: Callable[[int], Any]
    run: Callable[[Components, Any], Any]
    mode: Mode = Tolerance()
    strategy: Callable[[], Any] | None = None
    controls: tuple[Control, ...] = ()
    description: str = ""
    kind: str = "pair"
    by_component: bool = False
    frameworks: tuple[str, ...] = FRAMEWORKS
    known_differences: Mapping[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    fixture: bool = True
    slow: bool = False
    x64: bool = False
    compare: Callable[..., Any] | None = None  # optional override: (actual, expected, mode) -> Comparison

    def __post_init__(self):
        parts = self.name.split(".")
        if len(parts) < 2 or not all(parts):
            raise ParityError(f"check name {self.name!r} must be '<algorithm>.<area>[.<what>]'")
        if not self.components:
            raise ParityError(f"check {self.name!r} exercises no component")
        if self.kind not in ("pair", "property"):
            raise ParityError(f"check {self.name!r}: kind must be 'pair' or 'property'")
        seen = set()
        for c in self.controls:
            if c.name in seen:
                raise ParityError(f"check {self.name!r}: duplicate control name {c.name!r}")
            seen.add(c.name)

    @property
    def component(self) -> str:
        return self.components[0]


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_PROVIDED = "not_provided"
    KNOWN_DIFFERENCE = "known_difference"
    # negative controls
    DETECTED = "detected"  # the planted divergence was reported: good
    MISSED = "missed"  # the planted divergence passed: the check cannot fail -- a defect

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value

    @property
    def ok(self) -> bool:
        return self in (Status.PASS, Status.NOT_PROVIDED, Status.KNOWN_DIFFERENCE, Status.DETECTED)


def _finite_or_none(x: float | None) -> float | str | None:
    """A float for JSON: NaN -> None, +-Inf -> "inf" / "-inf" (strict JSON has no infinities)."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


@dataclasses.dataclass
class LeafResult:
    """Comparison of one leaf (a path inside the outputs)."""

    path: str
    ok: bool
    reason: str = ""  # "", "shape", "dtype", "nan_pattern", "values", "missing", "type", "statistic"
    message: str = ""
    mismatches: int = 0
    total: int = 0
    worst_index: tuple[int, ...] | None = None
    max_abs: float | None = None
    max_rel: float | None = None
    max_ulp: int | None = None
    allowed_abs: float | None = None
    allowed_rel: float | None = None
    allowed_ulp: int | None = None
    p_value: float | None = None
    tol_ratio: float | None = None  # worst |a - e| / (atol + rtol |e|) (or ulp / max_ulp): <= 1 passes

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["worst_index"] = list(self.worst_index) if self.worst_index is not None else None
        for k in ("max_abs", "max_rel", "allowed_abs", "allowed_rel", "p_value", "tol_ratio"):
            d[k] = _finite_or_none(d[k])
        return d


@dataclasses.dataclass
class Result:
    """One row of the report: a check on a pair of implementations (or a control)."""

    check: str
    component: str
    pair: tuple[str, str]
    status: Status
    seed: int | None = None
    mode: str = ""
    tolerance: dict | None = None
    max_abs: float | None = None
    max_rel: float | None = None
    max_ulp: int | None = None
    tol_ratio: float | None = None
    blame: str | None = None
    message: str = ""
    control: str | None = None
    leaves: list[LeafResult] = dataclasses.field(default_factory=list)
    failing_components: list[str] = dataclasses.field(default_factory=list)
    components: list[str] = dataclasses.field(default_factory=list)  # every component the check exercises
    reproduce: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "check": self.check,
            "component": self.component,
            "pair": list(self.pair),
            "status": self.status.value,
            "control": self.control,
            "max_abs": _finite_or_none(self.max_abs),
            "max_rel": _finite_or_none(self.max_rel),
            "max_ulp": self.max_ulp,
            "tol_ratio": _finite_or_none(self.tol_ratio),
            "tolerance": self.tolerance,
            "mode": self.mode,
            "blame": self.blame,
            "seed": self.seed,
            "message": self.message,
            "components": self.components,
            "failing_components": self.failing_components,
            "failing_leaves": [l.to_json() for l in self.leaves if not l.ok],
            "leaves_compared": len(self.leaves),
            "reproduce": self.reproduce,
            "seconds": round(self.seconds, 4),
        }
