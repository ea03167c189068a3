"""Port declarations: what a port states about itself, and the view a pair of implementations shares.

A real port is not the spec's full contract: it implements one profile, hard-codes ``c_puct = 3.0``,
draws noise from ``torch.randn``, leaves the temperature of a finished game undefined, or differs on
purpose. ``Implementation`` states these (``profiles``, ``fixed``, ``native_rng``, ``exclusions``,
``known_differences``); this module turns them, per check, into a ``View`` that BOTH sides of a pair run
under (so the oracle computes exactly the subset the port computes), or into a ``not_applicable`` reason.

Nothing here hides a divergence: a fixed literal is compared with the spec's value, a known difference is
a status of its own listed in the report, and a run whose rows are all ``not_applicable`` /
``not_provided`` compared nothing and is not green (``harness.report.exit_code``).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from .base import Check, Implementation, Knob, LeafResult, ParityError


@dataclasses.dataclass(frozen=True)
class View:
    """What the two sides of a pair run: the same profile sections, components, literals, domains."""

    profiles: tuple[str, ...] | None = None  # None: every profile of the check
    components: frozenset | None = None  # None: every component
    fixed: tuple[tuple[str, Any], ...] = ()  # (knob name, literal)
    native_rng: bool = False
    excluded: frozenset = frozenset()

    @property
    def key(self) -> tuple:
        return (self.profiles, tuple(sorted(self.components)) if self.components is not None else None,
                tuple((k, repr(v)) for k, v in self.fixed), self.native_rng, tuple(sorted(self.excluded)))

    @property
    def full(self) -> bool:
        return self == FULL


FULL = View()


@dataclasses.dataclass(frozen=True)
class NotApplicable:
    reason: str


def _literal(impl: Implementation, knob: Knob, check: Check) -> tuple[bool, Any]:
    """The port's literal for ``knob`` (plain name, or ``component:name`` for one of its components)."""
    comps = knob.components or check.components
    for comp in comps:
        key = f"{comp}:{knob.name}"
        if key in impl.fixed and comp in impl.components:
            return True, impl.fixed[key]
    if knob.name in impl.fixed:
        return True, impl.fixed[knob.name]
    return False, None


def view_for(check: Check, impl: Implementation | None) -> View | NotApplicable:
    """The view of a pair whose declaring side is ``impl`` (None: a pair of built-ins, the full view)."""
    if impl is None or not impl.declares and not check.optional:
        return FULL
    profiles = None
    if check.profiles and impl.profiles is not None:
        mine = [p for p in check.profiles if p in impl.profiles]
        if not set(impl.profiles) & set(check.profile_family or check.profiles):
            mine = list(check.profiles)  # the port's profiles say nothing about this check's sections
        if not mine:
            return NotApplicable(f"{impl.name} implements profiles {', '.join(impl.profiles)}; "
                                 f"{check.name} covers {', '.join(check.profiles)}")
        profiles = tuple(mine) if len(mine) < len(check.profiles) else None
    components = None
    if check.optional:
        have = frozenset(c for c in check.components if c in impl.components)
        if have and have != frozenset(check.components):
            components = have
    if impl.native_rng and check.rng == "exact":
        return NotApplicable(f"{impl.name} draws from its own random stream (native_rng): {check.name} compares "
                             "draws of JAX's stream value by value (their structure and distribution are checked "
                             "by the structural / statistical checks)")
    fixed = []
    for knob in check.knobs:
        has, value = _literal(impl, knob, check)
        if not has:
            continue
        if knob.varies:
            return NotApplicable(f"{impl.name} hard-codes {knob.name} = {value!r}; {check.name} varies it")
        fixed.append((knob.name, value))
    excluded = frozenset(d for d in check.domains if d in impl.exclusions)
    return View(profiles=profiles, components=components, fixed=tuple(fixed),
                native_rng=bool(impl.native_rng and check.rng == "adapts"), excluded=excluded)


# ---------------------------------------------------------------------------------------- literals


def _substitute(value: Any, literals: Mapping[str, Any]) -> Any:
    """``value`` with every dataclass field / dict key named in ``literals`` set to the literal."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = {f.name for f in dataclasses.fields(value)}
        hit = {k: v for k, v in literals.items() if k in names}
        return dataclasses.replace(value, **hit) if hit else value
    if isinstance(value, dict):
        return {k: (literals[k] if k in literals else _substitute(v, literals)) for k, v in value.items()}
    return value


def _parameters(fn: Callable) -> list[str] | None:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None


def at_literals(fn: Callable, component: str, literals: Mapping[str, Any],
                spec_signature: Callable[[str], Any] | None = None) -> Callable:
    """``fn`` called with the literals in place of its arguments of that name (positional arguments are
    named by the spec's signature of ``component``: the oracle's), and inside config dataclasses / dicts."""
    mine = {k.split(":", 1)[-1]: v for k, v in literals.items()}
    if not mine:
        return fn
    spec = spec_signature(component) if spec_signature is not None else None
    names = _parameters(spec) if spec is not None else _parameters(fn)
    own = _parameters(fn) or []

    def call(*args, **kwargs):
        args = list(args)
        for i, a in enumerate(args):
            if names is not None and i < len(names) and names[i] in mine:
                args[i] = mine[names[i]]
            else:
                args[i] = _substitute(a, mine)
        kwargs = {k: (mine[k] if k in mine else _substitute(v, mine)) for k, v in kwargs.items()}
        passed = set(kwargs) | {names[i] for i in range(min(len(args), len(names or [])))}
        for k, v in mine.items():  # a parameter left at its default takes the literal too
            if k in own and k not in passed:
                kwargs[k] = v
        return fn(*args, **kwargs)

    call.__wrapped__ = fn
    return call


def literal_leaves(check: Check, impl: Implementation | None, view: View) -> list[LeafResult]:
    """The port's fixed literals compared with the spec's values (one leaf per literal and profile)."""
    if impl is None or not view.fixed:
        return []
    out = []
    for knob in check.knobs:
        has, value = _literal(impl, knob, check)
        if not has or knob.spec is None:
            continue
        specs = knob.spec if isinstance(knob.spec, Mapping) else {"": knob.spec}
        for prof, want in specs.items():
            if prof and view.profiles is not None and prof not in view.profiles:
                continue
            if prof and check.profiles and prof not in check.profiles:
                continue
            if prof and impl.profiles is not None and set(impl.profiles) & set(specs) and prof not in impl.profiles:
                continue
            ok = _equal(value, want)
            where = f" (profile {prof})" if prof else ""
            users = knob.components or check.components
            comps = ", ".join(users)
            out.append(LeafResult(  # the path starts with the component, so a by-component check names it
                path=f"[{users[0]!r}][fixed {knob.name}{'@' + prof if prof else ''}]", ok=ok, reason="" if ok else "literal",
                total=1, mismatches=0 if ok else 1,
                message="" if ok else f"hard-coded {knob.name} = {value!r} in {impl.name}, the spec's value is "
                                      f"{want!r}{where} (used by {comps}); the cases ran at the literal"))
    return out


def _equal(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            return float(a) == float(b)
        return a == b
    except Exception:  # noqa: BLE001 - values that cannot be compared are unequal, and reported as such
        return False


# -------------------------------------------------------------------------------- known differences


def known_difference(impl: Implementation | None, check: Check, failing_components: list[str]) -> str | None:
    """The port's declared reason for a failure of ``check`` (keyed by check or component name)."""
    if impl is None or not impl.known_differences:
        return None
    kd = impl.known_differences
    if check.name in kd:
        return kd[check.name]
    named = [kd[c] for c in failing_components if c in kd]
    return "; ".join(dict.fromkeys(named)) if named and all(c in kd for c in failing_components) else None


# ------------------------------------------------------------------------------------- validation


def validate(impl: Implementation, checks: list[Check]) -> None:
    """Usage errors for declarations that match nothing in the catalogue (a typo must not pass silently)."""
    if not impl.declares:
        return
    profiles = {p for c in checks for p in c.profiles + c.profile_family}
    knobs = {k.name for c in checks for k in c.knobs}
    domains = {d for c in checks for d in c.domains}
    names = {c.name for c in checks} | {comp for c in checks for comp in c.components}
    bad = []
    for p in impl.profiles or ():
        if p not in profiles:
            bad.append(f"profile {p!r} (known: {', '.join(sorted(profiles))})")
    for key in impl.fixed:
        comp, _, name = key.rpartition(":")
        if name not in knobs:
            bad.append(f"fixed literal {name!r} (known knobs: {', '.join(sorted(knobs))})")
        elif comp and comp not in names:
            bad.append(f"fixed literal {key!r}: no component {comp!r}")
    for d in impl.exclusions:
        if d not in domains:
            bad.append(f"exclusion {d!r} (known domains: {', '.join(sorted(domains))})")
    for k in impl.known_differences:
        if k not in names:
            bad.append(f"known difference {k!r} names no check or component")
    if bad:
        raise ParityError(f"port {impl.name!r} declares what the catalogue does not know: " + "; ".join(bad))


def summary(impls: Mapping[str, Implementation]) -> list[dict]:
    """The declarations of every port, for report.json / report.md."""
    out = []
    for name, impl in impls.items():
        if impl.role != "port" or not impl.declares:
            continue
        out.append({"port": name, "framework": impl.framework,
                    "profiles": list(impl.profiles) if impl.profiles is not None else None,
                    "fixed": {k: repr(v) for k, v in impl.fixed.items()},
                    "native_rng": impl.native_rng,
                    "exclusions": dict(impl.exclusions),
                    "known_differences": dict(impl.known_differences)})
    return out


def markdown(decls: list[dict]) -> list[str]:
    """The report's "Port declarations" section."""
    if not decls:
        return []
    lines = ["", "## Port declarations", "",
             "What each port states about itself. Sections of other profiles are `not_applicable`; hard-coded "
             "literals are run as they are AND compared with the spec's value; known differences are a status "
             "of their own, never a pass.", ""]
    for d in decls:
        lines.append(f"**{d['port']}** ({d['framework']})")
        lines.append("")
        lines.append(f"- profiles: {', '.join(d['profiles']) if d['profiles'] is not None else 'all'}")
        if d["fixed"]:
            lines.append("- hard-coded literals: " + ", ".join(f"`{k} = {v}`" for k, v in d["fixed"].items()))
        if d["native_rng"]:
            lines.append("- native random stream: draws compared by structure and distribution, not value by value")
        for k, why in d["exclusions"].items():
            lines.append(f"- excludes `{k}`: {why}")
        for k, why in d["known_differences"].items():
            lines.append(f"- known difference in `{k}`: {why}")
        lines.append("")
    return lines
