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

    Port declarations (what real code is, stated once; each is listed in the report):

    profiles            the profiles / modes the port implements (``("alphazero_clique", "symmetric")``);
                        the sections of a check for other profiles are ``not_applicable`` for it, not
                        ``fail``. ``None``: every profile.
    fixed               literals the port hard-codes (``{"c_puct": 3.0}``; ``"component:name"`` limits one
                        to one component). Cases run at the literal on both sides of a pair, and the
                        literal itself is compared with the spec's value: a wrong literal still fails,
                        named. A check that must vary the knob is ``not_applicable``.
    native_rng          the port draws from its own random stream (``torch.randn``...), not JAX's: checks
                        comparing draws value by value become structural (partners share noise, noise
                        repeats within a reuse window, distributions) or ``not_applicable``.
    exclusions          ``{domain: reason}``: input domains the port does not define (``finished_game``,
                        ``one_legal_move``); the checks leave those inputs out on both sides.
    known_differences   ``{check or component: reason}``: a failure there is ``known_difference`` with the
                        reason (listed in the report, never a silent pass).
    """

    name: str
    framework: str  # one of FRAMEWORKS
    components: Mapping[str, Callable[..., Any]]
    role: str = "port"  # one of ROLES
    description: str = ""
    profiles: tuple[str, ...] | None = None
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    native_rng: bool = False
    exclusions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    known_differences: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.framework not in FRAMEWORKS:
            raise ParityError(
                f"implementation {self.name!r}: framework must be one of {FRAMEWORKS}, got {self.framework!r}")
        if self.role not in ROLES:
            raise ParityError(f"implementation {self.name!r}: role must be one of {ROLES}, got {self.role!r}")
        bad = [k for k, v in self.components.items() if not callable(v)]
        if bad:
            raise ParityError(f"implementation {self.name!r}: components not callable: {', '.join(sorted(bad))}")
        if self.profiles is not None:
            if isinstance(self.profiles, str) or not all(isinstance(p, str) for p in self.profiles):
                raise ParityError(f"implementation {self.name!r}: profiles must be a tuple of profile names, "
                                  f"got {self.profiles!r}")
            object.__setattr__(self, "profiles", tuple(self.profiles))
        for field in ("fixed", "exclusions", "known_differences"):
            if not isinstance(getattr(self, field), Mapping):
                raise ParityError(f"implementation {self.name!r}: {field} must be a dict, got "
                                  f"{type(getattr(self, field)).__name__}")
        for field in ("exclusions", "known_differences"):
            empty = [k for k, why in getattr(self, field).items() if not isinstance(why, str) or not why.strip()]
            if empty:
                raise ParityError(f"implementation {self.name!r}: {field} {', '.join(map(repr, empty))} without a "
                                  "reason: say why (one line)")
        if not isinstance(self.native_rng, bool):
            raise ParityError(f"implementation {self.name!r}: native_rng must be True or False")

    @property
    def declares(self) -> bool:
        """True if the implementation states any port declaration."""
        return bool(self.profiles is not None or self.fixed or self.native_rng or self.exclusions
                    or self.known_differences)

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

    The *view* (``harness.declarations.View``) is what a pair of implementations has in common: both sides
    of a pair see the same one, so their outputs have the same structure.
    ``"x" in c``: component x runs in this view (optional components a port lacks are left out);
    ``c.profiles``: the check's profile sections that run (``c.sections(mapping)`` filters a dict keyed
    by them); ``c.native_rng``: compute the structural form of draws, not their values;
    ``c.excluded(domain)``: leave that input domain out. A component called through ``c[...]`` receives
    the view's fixed literals (config fields, dict keys and parameters of that name).
    """

    def __init__(self, impl: Implementation, asarray: Callable[[Any], Any], to_numpy: Callable[[Any], Any],
                 view: Any = None, profiles: tuple[str, ...] = (), signature: Callable[[str], Any] | None = None,
                 wrap: Callable[[str, Callable[..., Any]], Callable[..., Any]] | None = None):
        self.impl = impl
        self.framework = impl.framework
        self.name = impl.name
        self.asarray = asarray
        self.to_numpy = to_numpy
        self.view = view
        self._all_profiles = tuple(profiles)
        self._signature = signature
        self._wrap = wrap  # the runner's call tracker: names the component that raised / mutated its input

    @property
    def profiles(self) -> tuple[str, ...]:
        if self.view is None or self.view.profiles is None:
            return self._all_profiles
        return tuple(p for p in self._all_profiles if p in self.view.profiles)

    def sections(self, mapping: Mapping[str, Any]) -> dict:
        """The items of ``mapping`` (keyed by profile) whose profile runs in this view."""
        keep = self.profiles
        return {k: v for k, v in mapping.items() if k in keep}

    @property
    def native_rng(self) -> bool:
        return bool(self.view is not None and self.view.native_rng)

    @property
    def fixed(self) -> dict:
        return dict(self.view.fixed) if self.view is not None else {}

    def excluded(self, domain: str) -> bool:
        return bool(self.view is not None and domain in self.view.excluded)

    def __getitem__(self, component: str) -> Callable[..., Any]:
        if self.view is not None and self.view.components is not None and component not in self.view.components:
            raise ComponentMissing(component)
        try:
            fn = self.impl.components[component]
        except KeyError:
            raise ComponentMissing(component) from None
        if self.view is not None and self.view.fixed:
            from .declarations import at_literals

            fn = at_literals(fn, component, dict(self.view.fixed), self._signature)
        return fn if self._wrap is None else self._wrap(component, fn)

    def __contains__(self, component: str) -> bool:
        if self.view is not None and self.view.components is not None and component not in self.view.components:
            return False
        return component in self.impl.components


class ComponentMissing(KeyError):
    """Raised when a check asks for a component the implementation does not provide."""


# --------------------------------------------------------------------------------------------------
# Leaf results and comparison modes (one class per mode: harness/modes.py; one dtype policy: harness/tolerance.py)
# --------------------------------------------------------------------------------------------------


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
    reason: str = ""  # "", "shape", "dtype", "nan_pattern", "values", "missing", "type", "none", "statistic"
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
    # the tolerance as a fraction of the term compared: (atol + rtol s) / s with s = max |expected| (ulp modes:
    # max_ulp * 2^(1 - precision)); None where there is no tolerance (exact) or the term is 0
    slack: float | None = None
    summary: dict | None = None  # failing leaves: histograms and a coarse location map (harness/leafstats.py)

    def to_json(self, summary: bool = True) -> dict:
        d = dataclasses.asdict(self)
        if not summary:
            d["summary"] = None
        d["worst_index"] = list(self.worst_index) if self.worst_index is not None else None
        for k in ("max_abs", "max_rel", "allowed_abs", "allowed_rel", "p_value", "tol_ratio", "slack"):
            d[k] = _finite_or_none(d[k])
        return d


from .modes import Exact as Exact, Mode, Statistical as Statistical, Tolerance, Ulp as Ulp  # noqa: E402, I001 - they build on LeafResult above


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
class Knob:
    """A value a check's cases set that real code may hard-code (``c_puct``, ``patience``).

    ``spec`` is the spec's value (a dict ``{profile: value}`` when it depends on the profile; ``None`` when
    the spec leaves it an input). A port declaring ``fixed={name: literal}`` runs the check at its literal,
    and the literal is compared with ``spec``. ``varies``: the check needs values other than the literal
    (limits, sweeps), so it is ``not_applicable`` to a port that fixes the knob.
    """

    name: str
    spec: Any = None
    components: tuple[str, ...] = ()  # components that take it (default: every component of the check)
    varies: bool = False


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
    optional    components the check runs without: a port providing only some components is compared on
                those (both sides of the pair leave the others out: ``"x" in c`` in ``run``), so one
                missing component hides nothing else. At least one component must be provided.
    profiles    the profile sections of the case (``("alphazero_clique", "classic")``); ``run`` computes
                ``c.sections(...)`` only, so a single-profile port is compared on its own profile and the
                check is ``not_applicable`` when it implements none of them. ``profile_family`` lists all
                the profiles of that kind when the check covers only some (a port declaring none of the
                family's profiles is not constrained by its declaration).
    knobs       values real code may hard-code (``Knob``): the port's ``fixed`` literals apply to them.
    rng         "" (no random draws), "exact" (compares the draws of JAX's stream value by value:
                ``not_applicable`` to a ``native_rng`` port), "adapts" (``run`` returns the structural form
                of the draws when ``c.native_rng``).
    domains     input domains a port may exclude (``finished_game``...): ``run`` leaves them out when
                ``c.excluded(domain)``.
    attribute   for a whole-output check (not ``by_component``): failing leaf paths -> the components they name
                (``[]``: not attributable), so that a divergence names only its own component
                (``checks._common.Owners`` writes one from path patterns in data-flow order).
    slack_reason  why a tolerance wider than 1% of the term it compares (``tolerance.SLACK_LIMIT``; the row's
                ``slack``) is acceptable here; without it such a passing row fails the catalogue's tests.
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
    optional: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    profile_family: tuple[str, ...] = ()  # every profile of the family ``profiles`` belongs to (default: profiles)
    knobs: tuple[Knob, ...] = ()
    rng: str = ""
    domains: tuple[str, ...] = ()
    attribute: Callable[[list[str]], list[str]] | None = None
    slack_reason: str = ""

    def __post_init__(self):
        parts = self.name.split(".")
        if len(parts) < 2 or not all(parts):
            raise ParityError(f"check name {self.name!r} must be '<algorithm>.<area>[.<what>]'")
        if not self.components:
            raise ParityError(f"check {self.name!r} exercises no component")
        if self.kind not in ("pair", "property"):
            raise ParityError(f"check {self.name!r}: kind must be 'pair' or 'property'")
        if self.rng not in ("", "exact", "adapts"):
            raise ParityError(f"check {self.name!r}: rng must be '', 'exact' or 'adapts', got {self.rng!r}")
        stray = [c for c in self.optional if c not in self.components]
        if stray:
            raise ParityError(f"check {self.name!r}: optional components {stray} are not among its components")
        seen = set()
        for c in self.controls:
            if c.name in seen:
                raise ParityError(f"check {self.name!r}: duplicate control name {c.name!r}")
            seen.add(c.name)

    @property
    def component(self) -> str:
        return self.components[0]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c for c in self.components if c not in self.optional)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_PROVIDED = "not_provided"
    KNOWN_DIFFERENCE = "known_difference"
    NOT_APPLICABLE = "not_applicable"  # the port declares it does not implement this (profile, domain, knob)
    # negative controls
    DETECTED = "detected"  # the planted divergence was reported: good
    MISSED = "missed"  # the planted divergence passed: the check cannot fail -- a defect

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value

    @property
    def ok(self) -> bool:
        return self in (Status.PASS, Status.NOT_PROVIDED, Status.KNOWN_DIFFERENCE, Status.DETECTED,
                        Status.NOT_APPLICABLE)

    @property
    def compared(self) -> bool:
        """True if the row compared something (a run made only of other rows checked nothing)."""
        return self not in (Status.NOT_PROVIDED, Status.NOT_APPLICABLE)


SUMMARIES_PER_RESULT = 8


def _failing_json(leaves, summaries: bool) -> list[dict]:
    bad = [l for l in leaves if not l.ok]
    worst = sorted(range(len(bad)), key=lambda i: -(bad[i].tol_ratio or 0.0))[:SUMMARIES_PER_RESULT if summaries else 0]
    keep = set(worst)
    return [l.to_json(summary=i in keep) for i, l in enumerate(bad)]


def _slack_leaf(leaves) -> str | None:
    """The path of the leaf whose tolerance is widest relative to its term (the row's ``slack``)."""
    valued = [l for l in leaves if l.slack is not None]
    return max(valued, key=lambda l: l.slack).path if valued else None


def _trajectory(leaves) -> dict | None:
    from .leafstats import trajectories

    return trajectories(leaves) or None


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
    slack: float | None = None  # the widest tolerance of its leaves relative to the term compared (LeafResult)
    slack_reason: str = ""  # the check's reason, where slack exceeds tolerance.SLACK_LIMIT
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
            "slack": _finite_or_none(self.slack),
            "slack_leaf": _slack_leaf(self.leaves),
            "slack_reason": self.slack_reason,
            "tolerance": self.tolerance,
            "mode": self.mode,
            "blame": self.blame,
            "seed": self.seed,
            "message": self.message,
            "components": self.components,
            "failing_components": self.failing_components,
            # False: the row failed but no leaf could be attributed to one component (not "all failed")
            "attributed": (bool(self.failing_components)
                           if self.status in (Status.FAIL, Status.ERROR, Status.KNOWN_DIFFERENCE) else None),
            # plot summaries of the worst few failing leaves only, none for a detected control (report size)
            "failing_leaves": _failing_json(self.leaves, self.control is None),
            "leaves_compared": len(self.leaves),
            "trajectory": _trajectory(self.leaves),
            "reproduce": self.reproduce,
            "seconds": round(self.seconds, 4),
        }
