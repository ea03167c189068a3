"""Running checks: pairs of implementations, outputs computed once, blame, negative controls.

Pairs of a "pair" check, for the implementations present and the check's frameworks:
- every reference against the oracle: (jax, numpy), (torch, numpy);
- the references against each other: (jax, torch);
- every port against the oracle and against the reference of its own framework: (port, numpy),
  (port, torch) for a torch port;
- with golden files: (impl, golden) for the ports (and for the references when asked).
A "property" check runs each implementation alone: the pair is (impl, "invariant").

Blame: a failing (x, oracle) pair blames x; a failing pair of two non-oracles blames the side(s) that
also fail against the oracle. If both references fail against the oracle while agreeing with each other,
the oracle rows say so ("numpy? jax and torch agree").
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from . import tolerance as tol
from .base import (
    PREFIX,
    Check,
    ComponentMissing,
    Components,
    Control,
    Implementation,
    LeafResult,
    ParityError,
    Result,
    Status,
)
from .compare import Comparison, compare, compare_flat
from .convert import is_leaf_array, to_framework, to_numpy
from .declarations import FULL, NotApplicable, View, known_difference, literal_leaves, view_for
from .guard import CallTracker, CheckTimeout, changed_leaves, global_seed, seeded_globals, snapshot, time_limit
from .pairs import GOLDEN, INVARIANT, replayable
from .pairs import side as special_side

ORACLE = "numpy"


def one_line_error(e: BaseException, where: str) -> str:
    """``Type: message (in <where>, at file:line in func)``, pointing at the deepest frame outside
    site-packages and the harness."""
    tb = traceback.extract_tb(e.__traceback__)
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in tb if "site-packages" not in f.filename and not f.filename.startswith(here)]
    at = ""
    if frames:
        f = frames[-1]
        at = f", at {os.path.relpath(f.filename)}:{f.lineno} in {f.name}"
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg} (in {where}{at})"


def reproduce_command(check: Check, seed: int | None, ports: Iterable[str] = (), golden: bool = False,
                      control: str | None = None) -> str:
    parts = ["parity", "check", "-k", check.name]
    if seed is not None:
        parts += ["--seed", str(seed)]
    for p in ports:
        parts += ["--port", p]
    if golden:
        parts.append("--golden")
    if control:
        parts += ["--controls-only"]
    return " ".join(shlex.quote(p) for p in parts)


def _array_helpers(framework: str) -> tuple[Callable, Callable]:
    conv = lambda a: to_framework(a, framework)
    back = lambda x: to_numpy(x)[0]
    return conv, back


def _int_of(case_key: Any) -> int:
    """The seed inside a cache key (("seed", 3), ("control", name, 3), ("case", n)...), else 0."""
    ints = [k for k in (case_key if isinstance(case_key, tuple) else (case_key,)) if isinstance(k, int)]
    return ints[-1] if ints else 0


def _materialise(value: Any) -> Any:
    """JAX outputs as NumPy while x64 is still on (a float64 jax array must not outlive the context)."""
    import numpy as np

    from .convert import is_jax, map_tree

    return map_tree(lambda x: np.asarray(x) if is_jax(x) else x, value)


@dataclasses.dataclass
class Outcome:
    """The outputs of one implementation on one case (or why there are none)."""

    status: str  # "ok", "error", "not_provided"
    value: Any = None
    message: str = ""
    component: str | None = None  # the component that raised / timed out, when known
    mutated: list[str] = dataclasses.field(default_factory=list)  # "component: input paths" it wrote to


class RunInterrupted(KeyboardInterrupt):
    """KeyboardInterrupt raised while a port ran: the run stops; ``message`` names where."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def check_seed(seed: Any) -> int:
    """A seed every reference accepts: an integer with 0 <= seed < 2**32 (JAX keys and NumPy's legacy
    seeding take 32 bits)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
        raise ParityError(f"seed must be an integer with 0 <= seed < 2**32, got {seed!r}")
    return seed


def _port_hints(check: Check, port: Implementation | None, knobs: bool = True) -> str:
    """What a port that fails (or errors on) a check may declare instead: a value it hard-codes that the check
    varies (``fixed``), an input domain it does not define that the check includes (``exclusions``)."""
    if port is None:
        return ""
    out = ""
    varied = [k.name for k in check.knobs if k.varies] if knobs else []
    if varied:
        out += (f"\nhint: {check.name} runs {', '.join(varied)} at values of its own; a port that "
                f"hard-codes {'it' if len(varied) == 1 else 'them'} declares fixed={{"
                + ", ".join(f"{k!r}: <its value>" for k in varied) + "} and gets not_applicable here")
    domains = [d for d in check.domains if d not in port.exclusions]
    if domains:
        out += (f"\nhint: {check.name} includes input domain{'s' if len(domains) > 1 else ''} "
                f"{', '.join(domains)}; a port that does not define {'them' if len(domains) > 1 else 'it'} declares "
                "exclusions={" + ", ".join(f"{d!r}: <why>" for d in domains) + "} and the check leaves "
                f"{'them' if len(domains) > 1 else 'it'} out")
    return out


class Runner:
    """Runs checks over a set of implementations; caches outputs per (check, implementation, case).

    ``timeout``: seconds one implementation may spend on one case of one check (None: no limit); past
    it the row is an ``error`` and the run goes on (see ``harness.guard.time_limit`` for its limits).
    """

    def __init__(self, impls: dict[str, Implementation], *, port_specs: Iterable[str] = (),
                 golden: Any = None, golden_all: bool = False, timeout: float | None = None):
        for name, impl in impls.items():
            if impl.role == "port" and (name in ("numpy", "jax", "torch") or special_side(name) is not None):
                raise ParityError(f"port name {name!r} collides with a built-in implementation: rename it")
        self.impls = impls
        self.port_specs = list(port_specs)
        self.golden = golden  # a harness.fixtures.Store or None
        self.golden_all = golden_all
        self.timeout = timeout
        self.on_start: Callable[[Check, tuple[str, str]], None] | None = None  # progress: a row begins
        self._cache: dict[tuple, Outcome] = {}
        self._case_counter = 0

    # -- pairs --------------------------------------------------------------------------------------
    def pairs(self, check: Check) -> list[tuple[str, str]]:
        names = [n for n, i in self.impls.items() if i.framework in check.frameworks]
        if check.kind == "property":
            return [(n, INVARIANT) for n in names]
        refs = [n for n in names if self.impls[n].role == "reference"]
        ports = [n for n in names if self.impls[n].role == "port"]
        has_oracle = ORACLE in names and self.impls[ORACLE].role == "oracle"
        out: list[tuple[str, str]] = []
        if has_oracle:
            out += [(r, ORACLE) for r in refs]
        out += [(a, b) for i, a in enumerate(refs) for b in refs[i + 1:]]
        for p in ports:
            if has_oracle:
                out.append((p, ORACLE))
            same = [r for r in refs if self.impls[r].framework == self.impls[p].framework]
            out += [(p, r) for r in same]
        if self.golden is not None and check.fixture and check.kind == "pair":
            targets = ports if not self.golden_all else [n for n in names if n != ORACLE or not ports]
            out += [(t, GOLDEN) for t in targets]
        return out

    @staticmethod
    def lacks(check: Check, impl: Implementation) -> list[str]:
        """The components ``impl`` lacks to run ``check`` (its required ones; an optional one only when it
        provides none of the check's components)."""
        return impl.missing(check.required) or (
            impl.missing(check.components) if not any(c in impl.components for c in check.components) else [])

    def runnable(self, check: Check, pair: tuple[str, str], seed: int = 0) -> bool:
        """Whether a pair would compare something (both sides provide the check's components), without
        running it."""
        for side in pair:
            if side == INVARIANT:
                continue
            if side == GOLDEN:
                if self.golden is None or not self.golden.exists(check, seed):
                    return False
                continue
            impl = self.impls.get(side)
            if impl is None or self.lacks(check, impl):
                return False
        return True

    def control_runnable(self, check: Check, control: Control) -> bool:
        target = self.impls.get(control.target)
        return (target is not None and not self.lacks(check, target)
                and (control.against == INVARIANT or control.against in self.impls))

    # -- outputs ------------------------------------------------------------------------------------
    def outputs(self, check: Check, impl: Implementation, case: Any, case_key: Any, view: View = FULL) -> Outcome:
        key = (check.name, impl.name, id(impl), case_key) + ((view.key,) if not view.full else ())
        if case_key is not None and key in self._cache:
            return self._cache[key]
        missing = self.lacks(check, impl)
        if missing:
            out = Outcome("not_provided", message=f"{impl.name} does not provide {', '.join(missing)}")
        else:
            out = self._call(check, impl, case, case_key, view)
        if case_key is not None:
            self._cache[key] = out
        return out

    def _spec_signature(self, component: str):
        """The spec's signature of a component (the oracle's function): names a port's positional arguments."""
        oracle = self.impls.get(ORACLE)
        return oracle.components.get(component) if oracle is not None and oracle.role == "oracle" else None

    @staticmethod
    def _declaring(pair: tuple[str, str], impls: dict[str, Implementation]) -> Implementation | None:
        """The side of a pair whose declarations shape the pair's view: the port, if there is one."""
        for name in pair:
            impl = impls.get(name)
            if impl is not None and impl.role == "port":
                return impl
        return None

    def _run_impl(self, check: Check, impl: Implementation, fcase: Any, tracker: CallTracker, view: View) -> Any:
        conv, back = _array_helpers(impl.framework)
        c = Components(impl, conv, back, view=view, profiles=check.profiles, signature=self._spec_signature,
                       wrap=tracker.wrap)
        if check.x64 and impl.framework == "jax":
            from .numerics import x64

            with x64():
                return _materialise(check.run(c, fcase))
        return check.run(c, fcase)

    def _call(self, check: Check, impl: Implementation, case: Any, case_key: Any, view: View) -> Outcome:
        """Run one implementation on one case: global RNGs seeded from (check, seed), under the time
        limit; a component that raises, exits or times out gives an ``error`` outcome naming it."""
        tracker = CallTracker()
        gseed = global_seed(check.name, _int_of(case_key))
        try:
            fcase = to_framework(case, impl.framework)
            snap = snapshot(fcase) if impl.framework != "jax" else None
            with seeded_globals(gseed), time_limit(self.timeout):
                value = self._run_impl(check, impl, fcase, tracker, view)
            out = Outcome("ok", value)
            if snap is not None and changed_leaves(fcase, snap):
                out.mutated = self._find_mutators(check, impl, case, gseed, view)
        except RunInterrupted:
            raise
        except KeyboardInterrupt as e:
            comp = f"component {tracker.raised_in}, " if tracker.raised_in else ""
            raise RunInterrupted(f"KeyboardInterrupt (in {impl.name}, {comp}check {check.name})") from e
        except ComponentMissing as e:
            return Outcome("not_provided", message=f"{impl.name} does not provide {e.args[0]}")
        except ParityError as e:
            out = Outcome("error", message=str(e).replace(PREFIX + " ", ""))
        except CheckTimeout as e:
            inside = f"component {tracker.raised_in}" if tracker.raised_in else "the check's own code"
            out = Outcome("error", message=f"Timeout: {impl.name} gave no result for check {check.name} within "
                                           f"{e.seconds:g} s (interrupted in {inside}; --timeout sets the limit)")
        except SystemExit as e:
            comp = f"component {tracker.raised_in}, " if tracker.raised_in else ""
            out = Outcome("error", message=one_line_error(e, f"{impl.name}, {comp}check {check.name}").replace(
                "SystemExit: ", f"SystemExit({e.code!r}): a component must not exit the process: ", 1))
        except Exception as e:  # noqa: BLE001 - a component that raises is an `error` row
            comp = f"component {tracker.raised_in}, " if tracker.raised_in else ""
            out = Outcome("error", message=one_line_error(e, f"{impl.name}, {comp}check {check.name}"))
        out.component = tracker.raised_in if out.status == "error" else None
        return out

    def _find_mutators(self, check: Check, impl: Implementation, case: Any, gseed: int,
                       view: View) -> list[tuple[str | None, list[str]]]:
        """Run once more on a fresh copy of the case, looking at the case after every component call:
        [(component, input paths it wrote to)] (component None: the check's own code)."""
        fcase = to_framework(case, impl.framework)
        snap = snapshot(fcase)
        found: list[tuple[str | None, list[str]]] = []

        def after(name: str) -> None:
            changed = changed_leaves(fcase, snap)
            if changed:
                found.append((name, [p.replace("case", "input", 1) if p.startswith("case") else f"input{p}"
                                     for p in changed[:4]]))
                snap.clear()
                snap.update(snapshot(fcase))

        try:
            with seeded_globals(gseed), time_limit(self.timeout):
                self._run_impl(check, impl, fcase, CallTracker(after_call=after), view)
        except (Exception, CheckTimeout):  # noqa: BLE001 - it ran fine the first time; keep what was found
            pass
        if not found and changed_leaves(fcase, snap):
            found.append((None, [f"input{p}" for p in changed_leaves(fcase, snap)[:4]]))
        return found

    # -- one pair -----------------------------------------------------------------------------------
    def _compare(self, check: Check, a: Outcome, b: Outcome, dtypes: dict | None = None,
                 strict: tuple[bool, bool] = (False, False)) -> Comparison:
        if check.compare is not None:
            return check.compare(a.value, b.value, check.mode)
        return compare(a.value, b.value, check.mode, dtypes=dtypes, strict=strict)

    def spec_dtypes(self, check: Check, case: Any, case_key: Any, seed: int | None = None) -> dict[str, str] | None:
        """{leaf path: float dtype} the check's spec expects: the references' output dtypes (a tuple where the
        jax and torch references differ), else the golden file's recorded dtypes, else None (no spec known:
        the coarser dtype of each pair decides, as torch.testing does)."""
        ckey = (check.name, "<spec dtypes>", 0, case_key)
        if case_key is not None and ckey in self._cache:
            return self._cache[ckey].value
        spec = self._spec_dtypes(check, case, case_key, seed)
        if case_key is not None:
            self._cache[ckey] = Outcome("ok", spec)
        return spec

    def _spec_dtypes(self, check: Check, case: Any, case_key: Any, seed: int | None) -> dict[str, Any] | None:
        from .convert import flatten

        per_path: dict[str, set] = {}
        for impl in self.impls.values():
            if impl.role != "reference" or impl.framework not in check.frameworks or self.lacks(check, impl):
                continue
            o = self.outputs(check, impl, case, case_key)
            if o.status != "ok":
                continue
            try:
                for path, leaf in flatten(o.value):
                    if is_leaf_array(leaf) or isinstance(leaf, float):
                        d = to_numpy(leaf)[1]
                        if tol.kind(d) == "float":
                            per_path.setdefault(path, set()).add(d)
            except ParityError:
                continue
        if per_path:  # where the references differ (a Python float vs float32), either of theirs is accepted
            return {p: next(iter(ds)) if len(ds) == 1 else tuple(sorted(ds)) for p, ds in per_path.items()}
        from .fixtures import DEFAULT_DIR, Store

        store = self.golden if self.golden is not None else Store(DEFAULT_DIR)
        rec = store.output_dtypes(check, seed or 0)
        return {("" if p == "<root>" else p): d for p, d in rec.items() if tol.kind(d) == "float"} if rec else None

    def evaluate(self, check: Check, pair: tuple[str, str], case: Any, case_key: Any, *,
                 impls: dict[str, Implementation] | None = None, seed: int | None = None,
                 spec_key: Any = None) -> Result:
        impls = impls or self.impls
        t0 = time.perf_counter()
        res = Result(check=check.name, component=check.component, pair=pair, status=Status.PASS, seed=seed,
                     components=list(check.components),
                     mode=check.mode.kind, tolerance=check.mode.describe(),
                     reproduce=reproduce_command(check, seed, self.port_specs, pair[1] == GOLDEN))
        a_name, b_name = pair
        port = self._declaring(pair, impls)
        view = view_for(check, port)
        if isinstance(view, NotApplicable):
            res.status, res.message = Status.NOT_APPLICABLE, view.reason
            return self._done(res, t0)
        oa = self.outputs(check, impls[a_name], case, case_key, view)
        if b_name == INVARIANT:
            ob = oa
        elif b_name == GOLDEN:
            ob = self._golden_outcome(check, seed)
            if ob.status == "ok":
                case = ob.value[0]
                oa = self.outputs(check, impls[a_name], case, ("golden", check.name), view)
                ob = Outcome("ok", self._golden_in_view(check, case, ob.value[1], view))
        else:
            ob = self.outputs(check, impls[b_name], case, case_key, view)
        for o in (oa, ob):
            if o.status == "not_provided":
                res.status, res.message = Status.NOT_PROVIDED, o.message
                return self._done(res, t0)
        for side, o in ((a_name, oa), (b_name, ob)):
            if o.status == "error":
                res.status, res.message = Status.ERROR, o.message
                if port is not None and impls.get(side) is port:  # the port raised: on an input it may not define?
                    res.message += _port_hints(check, port, knobs=False)
                res.failing_components = ([o.component] if o.component
                                          else list(check.components) if len(check.components) == 1 else [])
                return self._done(res, t0)
        try:
            if b_name == INVARIANT:
                if not (isinstance(oa.value, tuple) and len(oa.value) == 2):
                    raise ParityError(f"property check {check.name} must return (actual, expected)")
                comp = self._compare(check, Outcome("ok", oa.value[0]), Outcome("ok", oa.value[1]))
            elif b_name == GOLDEN:
                from .fixtures import flatten_outputs

                spec = self.spec_dtypes(check, case, ("golden", check.name), seed)
                comp = compare_flat(flatten_outputs(oa.value), ob.value, check.mode,
                                    dtypes={("<root>" if p == "" else p): d for p, d in (spec or {}).items()},
                                    strict=(impls[a_name].role != "oracle", False))
            else:
                spec = self.spec_dtypes(check, case, case_key if spec_key is None else spec_key, seed)
                strict = (impls[a_name].role != "oracle", impls[b_name].role != "oracle")
                comp = self._compare(check, oa, ob, spec, strict)
        except Exception as e:  # noqa: BLE001 - a comparison that raises is an `error` row naming the pair
            res.status = Status.ERROR
            res.message = one_line_error(e, f"comparison of {a_name} vs {b_name}")
            return self._done(res, t0)
        comp.leaves.extend(literal_leaves(check, port, view))  # a hard-coded literal against the spec's value
        res.leaves = comp.leaves
        res.max_abs, res.max_rel, res.max_ulp = comp.max_abs, comp.max_rel, comp.max_ulp
        res.tol_ratio = comp.tol_ratio
        res.slack = comp.slack
        if res.slack is not None and res.slack > tol.SLACK_LIMIT:
            res.slack_reason = check.slack_reason
        if comp.ok:
            res.status = Status.PASS
            if port is not None and check.name in port.known_differences:
                res.message = (f"declared known difference not observed ({port.known_differences[check.name]}): "
                               "the port agrees here; drop the declaration")
            return self._done(res, t0)
        named = getattr(comp, "components", None)  # a trace comparison names its taps' components
        res.failing_components = list(named) if named else self._failing_components(check, comp.failing)
        header = f"{PREFIX} {check.name} [{a_name} vs {b_name}] " + comp.summary()
        mutated = [(name, m) for name, o in ((a_name, oa), (b_name, ob)) for m in o.mutated]
        if mutated:  # the component that wrote to its input is the culprit, not the one that read it next
            named = [c for _, (c, _) in mutated if c]
            res.failing_components = list(dict.fromkeys(named))
            header = "\n".join(
                f"{PREFIX} {name}: {'component ' + c if c else 'the check code'} modified its input in place "
                f"({', '.join(paths)}); components called after it read the altered values"
                for name, (c, paths) in mutated) + "\n" + header
        res.component = res.failing_components[0] if res.failing_components else res.component
        known = (check.known_differences.get(pair) or check.known_differences.get((pair[1], pair[0]))
                 or known_difference(port, check, res.failing_components or list(check.components)))
        if known:
            res.status = Status.KNOWN_DIFFERENCE
            res.message = f"known difference: {known}\n{header}"
        else:
            res.status = Status.FAIL
            res.message = header + _port_hints(check, port)
        return self._done(res, t0)

    def _done(self, res: Result, t0: float) -> Result:
        res.seconds = time.perf_counter() - t0
        return res

    @staticmethod
    def _failing_components(check: Check, failing: list[LeafResult]) -> list[str]:
        """The components whose leaves fail (a ``by_component`` check's outputs, a port's fixed literal: paths
        that start with the component); [] when some failing leaf belongs to no one component (the report
        says "component not attributable", never FAIL on all). A check of one component names it."""
        if len(check.components) == 1:
            return list(check.components)
        if check.attribute is not None:  # a whole-output check's own map of leaves to components
            return list(check.attribute([leaf.path for leaf in failing]))
        names: list[str] = []
        for leaf in failing:
            owner = [comp for comp in check.components if leaf.path.startswith(f"[{comp!r}]")]
            if not owner:
                return []
            if owner[0] not in names:
                names.append(owner[0])
        return names

    def _golden_in_view(self, check: Check, case: Any, expected: dict, view: View) -> dict:
        """The golden leaves a port's view computes: those the oracle computes in the same view."""
        if view.full or ORACLE not in self.impls:
            return expected
        from .fixtures import flatten_outputs

        ref = self.outputs(check, self.impls[ORACLE], case, ("golden-view", check.name), view)
        if ref.status != "ok":
            return expected
        paths = set(flatten_outputs(ref.value))
        return {k: v for k, v in expected.items() if k in paths}

    def _golden_outcome(self, check: Check, seed: int | None) -> Outcome:
        try:
            case, expected = self.golden.load(check, seed if seed is not None else 0)
        except ParityError as e:
            return Outcome("error", message=str(e).replace(PREFIX + " ", ""))
        if case is None:
            return Outcome("not_provided", message=f"no golden file for {check.name} seed {seed}")
        return Outcome("ok", (case, expected))

    # -- a whole check ------------------------------------------------------------------------------
    def make_case(self, check: Check, seed: int) -> Any:
        return check.inputs(seed)

    def run_check(self, check: Check, seed: int = 0, pairs: list[tuple[str, str]] | None = None) -> list[Result]:
        pairs = self.pairs(check) if pairs is None else pairs
        try:
            case = self.make_case(check, seed)
        except Exception as e:  # noqa: BLE001 - inputs that cannot be built are `error` rows naming the check
            msg = one_line_error(e, f"inputs of {check.name}")
            return [Result(check.name, check.component, p, Status.ERROR, seed=seed, message=msg,
                           reproduce=reproduce_command(check, seed, self.port_specs)) for p in pairs]
        results = []
        for p in pairs:
            if self.on_start is not None:
                self.on_start(check, p)
            results.append(self.evaluate(check, p, case, ("seed", seed), seed=seed))
        assign_blame(results)
        return results

    def run_case(self, check: Check, case: Any, pairs: list[tuple[str, str]] | None = None) -> list[Result]:
        """Run every pair on one explicit case (hypothesis examples); nothing is cached."""
        pairs = [p for p in (self.pairs(check) if pairs is None else pairs) if replayable(p)]
        self._case_counter += 1
        key = ("case", self._case_counter)  # each implementation runs once for this case, then forgotten
        results = [self.evaluate(check, p, case, key) for p in pairs]
        self._cache = {k: v for k, v in self._cache.items() if k[3] != key}
        assign_blame(results)
        return results

    # -- negative controls --------------------------------------------------------------------------
    def run_control(self, check: Check, control: Control, seed: int = 0) -> Result:
        target = self.impls.get(control.target)
        against = control.against
        base = Result(check=check.name, component=check.component, pair=(f"{control.target}~{control.name}", against),
                      status=Status.NOT_PROVIDED, seed=seed, control=control.name, mode=check.mode.kind,
                      tolerance=check.mode.describe(),
                      reproduce=f"pytest parity_tests/test_catalogue.py -k {shlex.quote(check.name + ' and ' + control.name)}")
        if target is None or (against not in (INVARIANT,) and against not in self.impls):
            base.message = f"control needs {control.target!r} and {against!r}, not both available"
            return base
        mutant = target.patched(f"{control.target}~{control.name}", control.patch)
        if self.on_start is not None:
            self.on_start(check, (mutant.name, against))
        impls = dict(self.impls)
        impls[mutant.name] = mutant
        pair = (mutant.name, INVARIANT if check.kind == "property" else against)
        try:
            case = self.make_case(check, seed)
        except Exception as e:  # noqa: BLE001 - a control whose inputs cannot be built is an `error` row naming it
            base.status, base.message = Status.ERROR, one_line_error(e, f"inputs of {check.name}")
            return base
        r = self.evaluate(check, pair, case, ("control", control.name, seed), impls=impls, seed=seed,
                          spec_key=("seed", seed))
        r.control = control.name
        r.reproduce = base.reproduce
        expect = control.expect_components or (check.component,)
        if r.status == Status.FAIL:
            named = [c for c in expect if c in r.failing_components]
            if len(named) == len(expect) or (not r.failing_components and not check.by_component):
                # a whole-output check cannot attribute leaves: that it failed is what can be asserted
                r.status = Status.DETECTED
                r.message = f"detected: {control.description}\n{r.message}"
            else:
                r.status = Status.MISSED
                r.message = (f"{PREFIX} control {control.name!r} of {check.name}: divergence reported but it named "
                             f"{r.failing_components}, expected {list(expect)}\n{r.message}")
        elif r.status == Status.ERROR:
            r.status = Status.MISSED
            r.message = (f"{PREFIX} control {control.name!r} of {check.name}: the mutant raised instead of "
                         f"diverging ({control.description}): {r.message}")
        elif r.status == Status.NOT_PROVIDED:
            pass
        else:
            r.status = Status.MISSED
            r.message = (f"{PREFIX} control {control.name!r} of {check.name} was NOT detected: planted "
                         f"'{control.description}' in {control.target} and the check still reports "
                         f"{r.status.value if r.status != Status.MISSED else 'pass'} -- this check cannot fail")
        return r

    # -- everything ---------------------------------------------------------------------------------
    def run_all(self, checks: list[Check], seed: int = 0, controls: bool = True, parity: bool = True,
                progress: Callable[[Result], None] | None = None) -> list[Result]:
        results: list[Result] = []
        for check in checks:
            batch: list[Result] = []
            if parity:
                batch += self.run_check(check, seed)
            if controls:
                batch += [self.run_control(check, ctl, seed) for ctl in check.controls]
            for r in batch:
                if progress:
                    progress(r)
            results += batch
            self.drop_cache(check)
        return results

    def drop_cache(self, check: Check) -> None:
        self._cache = {k: v for k, v in self._cache.items() if k[0] != check.name}


def assign_blame(results: list[Result]) -> None:
    """Fill ``blame`` on failing rows of one check, using the rows against the oracle."""
    vs_oracle = {r.pair[0]: r.status for r in results if r.pair[1] == ORACLE and r.control is None}
    agree = {frozenset(r.pair): r.status for r in results if r.control is None}
    bad = (Status.FAIL, Status.ERROR)
    for r in results:
        if r.status not in bad and r.status != Status.KNOWN_DIFFERENCE:
            continue
        a, b = r.pair
        if b == INVARIANT:
            r.blame = a
        elif b == ORACLE:
            others = [x for x, s in vs_oracle.items() if x != a and s in bad]
            both_agree = [x for x in others if agree.get(frozenset((a, x))) == Status.PASS]
            r.blame = f"{ORACLE}? ({a} and {both_agree[0]} agree with each other)" if both_agree else a
        elif b == GOLDEN:
            r.blame = a if vs_oracle.get(a) in bad or a not in vs_oracle else f"{a} or golden file"
        else:
            sides = [x for x in (a, b) if vs_oracle.get(x) in bad]
            if sides:
                r.blame = " and ".join(sides)
            elif a in vs_oracle or b in vs_oracle:
                r.blame = "undetermined (both sides agree with the oracle within tolerance)"
            else:
                r.blame = None
