"""One declaration per area: ``spec.py`` declares the contract, three framework modules implement it.

A package under ``reference/`` (an area, or a sub-package of one) that holds ``spec.py`` is a *spec*:

- ``AREA = "losses"``: the component prefix (sub-packages of one area share it);
- the area's constants (``EPS``, thresholds, default configs), defined once there and imported by the
  implementations and the checks;
- one stub per component, in report order: the full signature (names, order, defaults) and the one
  docstring that states the equation; body ``...``. The component is ``f"{AREA}.{stub.__name__}"``.

Its modules ``np_ref.py`` (the float64 oracle), ``jax_ref.py`` and ``torch_ref.py`` implement the spec:
their public functions ARE the contract (no name-to-function dicts). ``components(framework)`` imports
them and takes every declared name; a module that lacks a declared function, or defines a public function
(defined in it, not imported, not ``_private``) the spec does not declare, raises ``ContractError`` naming
the module, the function and the spec. ``mismatches`` also compares signatures and docstring first lines
(``parity_tests/test_contract.py`` runs it on every spec and installed framework).

The references know no harness: ``checks/builtin.py`` turns ``components()`` into ``Implementation`` objects.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import inspect
import os
import types

FRAMEWORKS = {"numpy": "np_ref", "jax": "jax_ref", "torch": "torch_ref"}
# a framework module whose import fails on one of these is absent (that area is not provided), not an error
OPTIONAL = ("jax", "jaxlib", "torch", "flax", "optax", "mctx", "chex", "ml_dtypes")
ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE = __name__.rpartition(".")[0]  # "reference"



class ContractError(Exception):
    """A framework module and its spec disagree (a missing or an undeclared public function)."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """One ``spec.py``: its package (``reference.losses``), its module, and the declared stubs in order."""

    package: str
    module: types.ModuleType

    @property
    def area(self) -> str:
        return self.module.AREA

    @property
    def path(self) -> str:
        """The spec's file relative to the project root (``reference/losses/spec.py``)."""
        return os.path.relpath(self.module.__file__, os.path.dirname(ROOT)).replace(os.sep, "/")

    @property
    def functions(self) -> dict[str, types.FunctionType]:
        return declared(self.module)

    def component(self, name: str) -> str:
        return f"{self.area}.{name}"

    def module_name(self, framework: str) -> str:
        """``reference.losses.torch_ref`` for ``torch``."""
        return f"{self.package}.{FRAMEWORKS[framework]}"


def _spec_packages() -> list[str]:
    out = []
    for d, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(x for x in dirs if not x.startswith(("_", ".")))
        if "spec.py" in files and "__init__.py" in files:
            rel = os.path.relpath(d, ROOT)
            out.append(PACKAGE if rel == "." else f"{PACKAGE}.{rel.replace(os.sep, '.')}")
    return out


@functools.cache
def specs() -> tuple[Spec, ...]:
    """Every spec under ``reference/``, in package order (an area before its sub-packages)."""
    out = []
    for pkg in _spec_packages():
        mod = importlib.import_module(f"{pkg}.spec")
        if not isinstance(getattr(mod, "AREA", None), str):
            raise ContractError(f"{mod.__name__}: a spec must set AREA = '<area>' (the component prefix)")
        out.append(Spec(pkg, mod))
    return tuple(out)


def _defined_here(obj, module: types.ModuleType) -> bool:
    return getattr(obj, "__module__", None) == module.__name__


def _line(obj) -> int:
    try:
        return inspect.unwrap(obj).__code__.co_firstlineno
    except AttributeError:
        return 0


def declared(spec_module: types.ModuleType) -> dict[str, types.FunctionType]:
    """The public functions of a spec module, in source order: the area's components."""
    fns = [(n, f) for n, f in vars(spec_module).items()
           if not n.startswith("_") and inspect.isfunction(f) and _defined_here(f, spec_module)]
    return dict(sorted(fns, key=lambda nf: _line(nf[1])))


def public_functions(module: types.ModuleType) -> dict:
    """The public functions DEFINED in a module (imports and ``_private`` names excluded; jitted or
    otherwise wrapped functions count, classes do not), in source order."""
    fns = [(n, f) for n, f in vars(module).items()
           if not n.startswith("_") and callable(f) and not inspect.isclass(f) and _defined_here(f, module)]
    return dict(sorted(fns, key=lambda nf: _line(nf[1])))


def _import(modname: str) -> types.ModuleType | None:
    """The module, or None when its file is absent or an optional framework it needs is not installed."""
    if importlib.util.find_spec(modname.rpartition(".")[0]) is None or importlib.util.find_spec(modname) is None:
        return None
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] in OPTIONAL:  # e.g. JAX without optax / flax: the area is absent
            return None
        raise


def check_module(spec: Spec, module: types.ModuleType) -> dict:
    """``{short name: function}`` of ``module`` for the names ``spec`` declares; ContractError when one is
    missing or when the module defines a public function the spec does not declare."""
    names = spec.functions
    missing = [n for n in names if not callable(getattr(module, n, None))]
    extra = [n for n in public_functions(module) if n not in names]
    problems = []
    if missing:
        problems.append(f"lacks {', '.join(repr(n) for n in missing)} declared in {spec.module.__name__}")
    if extra:
        problems.append(f"defines public function(s) {', '.join(repr(n) for n in extra)} that "
                        f"{spec.module.__name__} does not declare (declare them there or name them '_{extra[0]}')")
    if problems:
        raise ContractError(f"{module.__name__}: " + "; ".join(problems))
    return {n: getattr(module, n) for n in names}


def implementation_module(spec: Spec, framework: str) -> types.ModuleType | None:
    return _import(spec.module_name(framework))


def modules(framework: str) -> list[str]:
    """The names of the framework's implementation modules whose files exist (nothing imported)."""
    names = [s.module_name(framework) for s in specs()]
    return [m for m in names if os.path.isfile(os.path.join(os.path.dirname(ROOT), *m.split(".")) + ".py")]


def sources(framework: str) -> dict[str, tuple[str, str]]:
    """``{component: (implementation module, top-level name)}``, nothing imported but the specs."""
    return {s.component(n): (s.module_name(framework), n) for s in specs() for n in s.functions}


def components(framework: str) -> dict:
    """``{"<area>.<name>": function}``: every spec's declared names taken from the framework's module
    (an area whose module or optional framework is missing is absent)."""
    comps: dict = {}
    for spec in specs():
        mod = implementation_module(spec, framework)
        if mod is not None:
            comps.update({spec.component(n): f for n, f in check_module(spec, mod).items()})
    return comps


def _params(fn) -> list[tuple[str, str, object]]:
    sig = inspect.signature(fn)
    return [(p.name, p.kind.description, p.default) for p in sig.parameters.values()]


def first_line(fn) -> str:
    doc = inspect.getdoc(fn) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def mismatches(spec: Spec, module: types.ModuleType) -> list[str]:
    """Every disagreement of ``module`` with ``spec``: missing / undeclared functions, parameters (names,
    kinds, defaults) and docstring first lines. Empty when the module keeps the contract."""
    out = []
    try:
        check_module(spec, module)
    except ContractError as e:
        out.append(str(e))
    for name, stub in spec.functions.items():
        fn = getattr(module, name, None)
        if not callable(fn):
            continue
        where = f"{module.__name__}.{name}"
        want, got = _params(stub), _params(fn)
        if want != got:
            out.append(f"{where}: parameters {_show(got)} differ from {spec.module.__name__}.{name}{_show(want)}")
        line = first_line(stub).removesuffix(".")  # the implementation may go on after the spec's sentence
        if not line:
            out.append(f"{spec.module.__name__}.{name}: the spec's stub has no docstring")
        elif not (inspect.getdoc(fn) or "").strip().startswith(line):
            out.append(f"{where}: docstring does not start with the spec's first line {line!r} "
                       f"(got {first_line(fn)!r})")
    return out


def _show(params) -> str:
    parts = []
    for name, kind, default in params:
        star = {"variadic positional": "*", "variadic keyword": "**"}.get(kind, "")
        parts.append(f"{star}{name}" + ("" if default is inspect.Parameter.empty else f"={default!r}"))
    return "(" + ", ".join(parts) + ")"


def components_of(module: types.ModuleType) -> dict:
    """``{"<area>.<name>": function}`` of one implementation module (``reference.toy.torch_ref``), checked
    against its package's spec: a port built from a reference starts from this."""
    pkg = module.__name__.rpartition(".")[0]
    for spec in specs():
        if spec.package == pkg:
            return {spec.component(n): f for n, f in check_module(spec, module).items()}
    raise ContractError(f"{module.__name__}: no spec.py in {pkg} declares its components")
