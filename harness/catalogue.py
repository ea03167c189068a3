"""Loading and selecting the check catalogue.

The harness knows no catalogue by name: the catalogue is a module found through the entry point ``builtin`` of
the group ``parity.catalogues`` (this package declares ``builtin = "checks"`` in pyproject.toml), or named
explicitly (``source("mychecks")``). That module exposes

    MODULES     the module names holding ``CHECKS: list[harness.base.Check]``, in report order
    builtin     its built-in implementations: ``builtin.implementation(framework)`` (``numpy``, ``jax``,
                ``torch``); for ``parity mutate`` also ``modules(framework)`` (the modules they come from),
                ``sources(framework)`` ({component: (module, function)}) and ``module_components(module)``
    signatures  optional: ``signatures()`` -> {component: function documenting it} (``parity docs``)

Every name in ``MODULES`` must exist (a misspelt name is an error naming it, with the closest module), and
every module of the catalogue's package that declares ``CHECKS`` must be listed (a check file left out of the
list is an error too): an area is never dropped silently. A module whose framework is not installed is
skipped with a note.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.metadata
import importlib.util
import os
from types import ModuleType

from .base import Check, ParityError
from .keyword import compile_expression

GROUP = "parity.catalogues"
BUILTIN = "builtin"
OPTIONAL = ("jax", "jaxlib", "torch", "flax", "optax", "mctx")


def source(name: str | None = None) -> ModuleType:
    """The catalogue module: ``name`` if given, else the module named by the environment variable
    ``PARITY_CATALOGUE`` (set by ``parity --catalogue`` and ``pytest --parity-catalogue``, inherited by worker
    processes), else the entry point ``builtin`` of ``parity.catalogues``."""
    name = name or os.environ.get(ENV) or None
    if name is None:
        found = [ep for ep in importlib.metadata.entry_points(group=GROUP) if ep.name == BUILTIN]
        if not found:
            raise ParityError(f"no check catalogue: the entry point {BUILTIN!r} of group {GROUP!r} is not "
                              "installed (install the package: pip install -e .), and no catalogue module was named")
        name = found[0].value
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise ParityError(f"check catalogue {name!r} is not an importable module") from None
    if not hasattr(mod, "MODULES") or not callable(getattr(getattr(mod, "builtin", None), "implementation", None)):
        raise ParityError(f"check catalogue {name!r} must define MODULES (its check modules) and builtin (with "
                          "builtin.implementation(framework): its built-in implementations)")
    return mod


ENV = "PARITY_CATALOGUE"


def use(name: str | None) -> None:
    """Make ``name`` the catalogue of this process and its workers (None: leave it as configured)."""
    if name:
        source(name)  # fails here, naming it, if it is no catalogue
        os.environ[ENV] = name


def _declares_checks(path: str) -> bool:
    """True if the module file assigns ``CHECKS`` at its top level (read, not imported)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    for stmt in tree.body:
        targets = (stmt.targets if isinstance(stmt, ast.Assign)
                   else [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) else [])
        if any(isinstance(t, ast.Name) and t.id == "CHECKS" for t in targets):
            return True
    return False


def package_modules(catalogue: ModuleType) -> dict[str, bool]:
    """{module name: declares CHECKS} for every module file under the catalogue's package."""
    out: dict[str, bool] = {}
    for root in getattr(catalogue, "__path__", []):
        for here, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if os.path.isfile(os.path.join(here, d, "__init__.py")))
            rel = os.path.relpath(here, root)
            prefix = catalogue.__name__ + ("" if rel == "." else "." + rel.replace(os.sep, "."))
            for f in sorted(files):
                if f.endswith(".py"):
                    name = prefix if f == "__init__.py" else f"{prefix}.{f[:-3]}"
                    out[name] = _declares_checks(os.path.join(here, f))
    return out


def _exists(modname: str) -> bool:
    try:
        return importlib.util.find_spec(modname) is not None
    except ModuleNotFoundError:  # its parent package does not exist
        return False


def _validate_list(catalogue: ModuleType, modules: tuple[str, ...]) -> None:
    known = package_modules(catalogue)
    for modname in modules:
        if modname not in known and not _exists(modname):
            close = difflib.get_close_matches(modname, list(known), n=1)
            raise ParityError(f"{catalogue.__name__}.MODULES names {modname!r}, which is not a module"
                              + (f": did you mean {close[0]!r}?" if close else ""))
    unlisted = [m for m, declares in known.items() if declares and m not in modules]
    if unlisted:
        raise ParityError(f"{', '.join(unlisted)} declare{'s' if len(unlisted) == 1 else ''} CHECKS but "
                          f"{catalogue.__name__}.MODULES does not list {'it' if len(unlisted) == 1 else 'them'}: "
                          "add to MODULES (in report order), or rename CHECKS if it is not a check module")


def load(modules: tuple[str, ...] | None = None, *, catalogue: str | None = None) -> tuple[list[Check], list[str]]:
    """All declared checks, and notes about modules that could not be loaded.

    ``modules``: these check modules only (as listed, each must exist); default: the catalogue's ``MODULES``,
    checked against its package. A module whose framework is not installed is noted and skipped; any other
    import error is a configuration error.
    """
    if modules is None:
        src = source(catalogue)
        modules = tuple(src.MODULES)
        _validate_list(src, modules)
    out: list[Check] = []
    notes: list[str] = []
    seen: dict[str, str] = {}
    for modname in modules:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name in OPTIONAL:
                notes.append(f"{modname}: skipped, {e.name} is not installed")
                continue
            if e.name == modname:
                raise ParityError(f"check module {modname!r} does not exist") from None
            raise ParityError(f"check module {modname} does not import: {type(e).__name__}: {e}") from e
        except Exception as e:
            raise ParityError(f"check module {modname} does not import: {type(e).__name__}: {e}") from e
        for c in getattr(mod, "CHECKS", []):
            if not isinstance(c, Check):
                raise ParityError(f"{modname}.CHECKS holds a {type(c).__name__}, not a harness.base.Check")
            if c.name in seen:
                raise ParityError(f"check {c.name!r} declared twice ({seen[c.name]} and {modname})")
            seen[c.name] = modname
            out.append(c)
    return out, notes


def select(checks: list[Check], expr: str | None) -> list[Check]:
    """The checks whose name or components match a pytest-style ``-k`` expression."""
    if not expr:
        return list(checks)
    match = compile_expression(expr)
    return [c for c in checks if match([c.name, *c.components])]
