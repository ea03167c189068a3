"""Mutation testing of the catalogue: how many plausible port drifts do the checks catch?

A *mutant* is one small change to the source of a reference module -- a spec constant perturbed or an
operator swapped -- loaded as a fresh module object (never written into the tree) and wrapped as a port
(``Implementation``, role ``port``) of the framework it came from. The catalogue then runs against it, only
the checks whose components can reach the mutated code, and the mutant is *killed* when some check reports
``fail`` or ``error`` on a pair that involves it, *survived* otherwise.

Mutation operators (``Site.op``):

constants   every numeric literal that is not structural (axes, shapes, indices): floats x0.1, x10 and
            negated; integers +1, -1 and negated. Module-level constants (``EPS = 1e-8``) and config
            defaults are literals too.
operators   ``<`` / ``<=`` (and ``>`` / ``>=``, ``==`` / ``!=``), ``+`` / ``-`` (also ``+=`` / ``-=``),
            drop a term of a sum or difference, drop a unary minus (sign), ``max`` / ``min`` (``maximum`` /
            ``minimum``, ``argmax`` / ``argmin``, ``amax`` / ``amin``), swap the first two positional
            arguments of a call, reverse the iteration order of a ``for`` loop, first -> last index on ties
            of ``argmax`` / ``argmin``.

Which components a mutant touches is decided statically: a component reaches the mutated top-level
definition when its function refers to it (by name, ``module.name`` or an import), transitively, across
the reference modules of the framework. Only checks exercising a reached component run.

Equivalent mutants (no observable change within the spec) are listed, with the reason, in
``checks/mutation_equivalent.json`` (reviewed by hand); a surviving mutant in that list is reported
``equivalent``, never silently dropped, and a listed mutant that is killed is reported as a stale entry.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import datetime as _dt
import functools
import importlib
import importlib.util
import json
import os
import sys
import time
import types
from collections.abc import Callable, Iterable

from .base import Implementation, ParityError, Status

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EQUIVALENT_FILE = os.path.join(ROOT, "checks", "mutation_equivalent.json")
KINDS = ("constant", "operator")
MUTANT_NAME = "mutant"
HELPER_PREFIX = "__parity_mut_"
SPEC_FILE = "spec.py"  # an area's declaration: its constants are mutated, its stubs are not

# integer literals with |v| <= 2 as call arguments, in subscripts or in tuples are axes / shapes / indices
_STRUCTURAL_INT = 2
_SWAP_MINMAX = {"max": "min", "min": "max", "maximum": "minimum", "minimum": "maximum", "amax": "amin",
                "amin": "amax", "argmax": "argmin", "argmin": "argmax", "fmax": "fmin", "fmin": "fmax",
                "nanmax": "nanmin", "nanmin": "nanmax", "clamp_min": "clamp_max", "clamp_max": "clamp_min"}
_CMP_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq}
# calls whose arguments are not values of the algorithm (swapping them only crashes)
_NO_SWAP = {"isinstance", "getattr", "setattr", "hasattr", "range", "print", "zip", "enumerate", "ValueError",
            "TypeError", "NotImplementedError", "RuntimeError", "KeyError", "dict", "tuple", "list", "reshape",
            "view", "astype", "to", "full", "zeros", "ones", "empty", "arange", "permute", "transpose",
            "broadcast_to", "expand", "tile", "repeat", "split", "fold_in", "replace", "get", "partial",
            "einsum", "where_fn", "update", "format", "join", "startswith", "cast", "dataclass", "field", "tap"}
_ERRORS = {"ValueError", "TypeError", "NotImplementedError", "RuntimeError", "KeyError", "ParityError",
           "AssertionError", "IndexError"}


# --------------------------------------------------------------------------------------------------
# Mutation sites
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Site:
    """One mutant: where (module, scope, line), which operator, the source before and after."""

    id: str
    path: str  # relative to the project root: reference/losses/torch_ref.py
    module: str  # reference.losses.torch_ref
    framework: str  # the framework whose port the mutant becomes
    scope: str  # enclosing qualified name (function / class), "<module>" at top level
    top: str  # the enclosing top-level definition (what components reach)
    kind: str  # "constant" or "operator"
    op: str
    line: int
    original: str
    mutated: str
    ordinal: int  # index of the candidate in the module's deterministic traversal

    @property
    def area(self) -> str:
        parts = self.path.split("/")
        return parts[1] if len(parts) > 2 else parts[0]

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["area"] = self.area
        return d


@dataclasses.dataclass
class _Candidate:
    ordinal: int
    scope: str
    top: str
    kind: str
    op: str
    line: int
    original: str
    mutated: str
    apply: Callable[[], None]  # mutates the tree in place


def _unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - only for descriptions
        return type(node).__name__


def _num(v) -> ast.AST:
    if isinstance(v, (int, float)) and v < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-v))
    return ast.Constant(v)


def _round(v: float) -> float:
    """x0.1 / x10 without binary noise in the id (0.1 * 0.1 -> 0.01, not 0.010000000000000002)."""
    return float(f"{v:.12g}")


def _fmt(v) -> str:
    return repr(v)


def _call_name(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return ""


class _Collector:
    """Walks a module tree in a fixed order and lists the candidate mutations (with closures that apply
    them to *this* tree). Parsing the same source again and collecting gives the same order."""

    def __init__(self, tree: ast.Module, kinds: Iterable[str]):
        self.tree = tree
        self.kinds = set(kinds)
        self.out: list[_Candidate] = []
        self.scope: list[str] = []

    # -- traversal ----------------------------------------------------------------------------------
    def collect(self) -> list[_Candidate]:
        for stmt in self.tree.body:
            self._stmt_top(stmt)
        return self.out

    def _stmt_top(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return  # docstring
        if isinstance(stmt, ast.If) and "__name__" in _unparse(stmt.test):
            return
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names = _target_names(targets)
            if any(n.startswith("__") for n in names):
                return
            top = names[0] if names else "<module>"  # a, b = ...: affected_components follows every name
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            top = stmt.name
        else:
            top = "<module>"
        self.top = top
        self._visit(stmt, None, None, None)

    def _visit(self, node: ast.AST, parent: ast.AST | None, field: str | None, index: int | None,
               structural: bool = False) -> None:
        if isinstance(node, (ast.Raise, ast.Assert, ast.JoinedStr, ast.Import, ast.ImportFrom)):
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # docstring
        if isinstance(node, ast.Call) and _call_name(node) in _ERRORS:
            return
        pushed = False
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.scope.append(node.name)
            pushed = True
        self._candidates(node, parent, field, index, structural)
        for fname, value in ast.iter_fields(node):
            if fname in ("annotation", "returns", "type_comment"):
                continue
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        self._visit(child, node, fname, i, self._inherit(node, fname, child, structural))
            elif isinstance(value, ast.AST):
                self._visit(value, node, fname, None, self._inherit(node, fname, value, structural))
        if pushed:
            self.scope.pop()

    def _inherit(self, node, fname, child, structural) -> bool:
        if structural and isinstance(node, (ast.Slice, ast.UnaryOp, ast.Tuple, ast.List)):
            return True
        return self._is_structural(node, fname, child)

    @staticmethod
    def _is_structural(parent: ast.AST, field: str, child: ast.AST) -> bool:
        """Children whose small integer literals are axes / shapes / indices."""
        if isinstance(parent, ast.Subscript) and field == "slice":
            return True
        if isinstance(parent, (ast.Tuple, ast.List)):
            return True
        if isinstance(parent, ast.Call) and field == "args":
            return True
        if isinstance(parent, ast.keyword):
            return True
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
            return False
        return False

    # -- candidates at one node ---------------------------------------------------------------------
    def _add(self, kind, op, node, original, mutated, apply):
        if kind not in self.kinds:
            return
        scope = ".".join(self.scope) or "<module>"
        self.out.append(_Candidate(len(self.out), scope, self.top, kind, op, getattr(node, "lineno", 0),
                                   original, mutated, apply))

    def _replace(self, parent, field, index, new):
        def apply():
            if index is None:
                setattr(parent, field, new)
            else:
                getattr(parent, field)[index] = new
        return apply

    def _candidates(self, node, parent, field, index, structural):
        if parent is None:
            return
        # constants (a negative literal is UnaryOp(USub, Constant): mutate it as one number)
        value = None
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
                value = None  # handled at the UnaryOp
            else:
                value = node.value
        elif (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
              and type(node.operand.value) in (int, float)):
            value = -node.operand.value
        if value is not None:
            if isinstance(value, int) and structural and abs(value) <= _STRUCTURAL_INT:
                return
            if isinstance(value, float):
                news = [("x0.1", _round(value * 0.1)), ("x10", _round(value * 10.0))] + ([("sign", -value)] if value != 0 else [])
                if value == 0:
                    news = [("to_1e-3", 1e-3)]
            else:
                news = [("+1", value + 1), ("-1", value - 1)] + ([("sign", -value)] if value not in (0, 1, -1) else [])
            seen = set()
            for op, v in news:
                if v in seen or v == value:
                    continue
                seen.add(v)
                self._add("constant", op, node, _fmt(value), _fmt(v), self._replace(parent, field, index, _num(v)))
            return
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP_SWAP:
            new = copy.copy(node)
            new.ops = [_CMP_SWAP[type(node.ops[0])]()]
            self._add("operator", "compare", node, _unparse(node), _unparse(new), self._replace(parent, field, index, new))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            new = copy.copy(node)
            new.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            if not _is_string_concat(node):
                self._add("operator", "add_sub", node, _unparse(node), _unparse(new), self._replace(parent, field, index, new))
                self._add("operator", "drop_term", node, _unparse(node), _unparse(node.left),
                          self._replace(parent, field, index, node.left))
                if isinstance(node.op, ast.Add):
                    self._add("operator", "drop_term", node, _unparse(node), _unparse(node.right),
                              self._replace(parent, field, index, node.right))
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Add, ast.Sub)):
            new = copy.copy(node)
            new.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            self._add("operator", "add_sub", node, _unparse(node), _unparse(new), self._replace(parent, field, index, new))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            self._add("operator", "drop_sign", node, _unparse(node), _unparse(node.operand),
                      self._replace(parent, field, index, node.operand))
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name in _SWAP_MINMAX:
                new = copy.copy(node)
                if isinstance(node.func, ast.Name):
                    new.func = ast.Name(id=_SWAP_MINMAX[name], ctx=ast.Load())
                else:
                    new.func = ast.Attribute(value=node.func.value, attr=_SWAP_MINMAX[name], ctx=ast.Load())
                self._add("operator", "max_min", node, _unparse(node), _unparse(new), self._replace(parent, field, index, new))
            if name in ("argmax", "argmin"):
                # first -> last index on ties: helper(lambda *a, **k: <original call>(*a, **k), args...)
                fn = node.func
                if isinstance(fn, ast.Attribute) and not _is_module_ref(fn.value):
                    # method: x.argmax(...) -> helper(method caller, x, ...)
                    target = ast.Lambda(args=_lambda_args(), body=ast.Call(
                        func=ast.Attribute(value=ast.Name(id="_v", ctx=ast.Load()), attr=name, ctx=ast.Load()),
                        args=[ast.Starred(value=ast.Name(id="_a", ctx=ast.Load()), ctx=ast.Load())],
                        keywords=[ast.keyword(arg=None, value=ast.Name(id="_k", ctx=ast.Load()))]))
                    args = [target, fn.value, *node.args]
                else:
                    args = [fn, *node.args]
                new = ast.Call(func=ast.Name(id=HELPER_PREFIX + "last_index", ctx=ast.Load()), args=args,
                               keywords=node.keywords)
                self._add("operator", "tie_last", node, _unparse(node), f"last-index {name}",
                          self._replace(parent, field, index, new))
            pos = [a for a in node.args if not isinstance(a, ast.Starred)]
            if (len(pos) >= 2 and len(pos) == len(node.args) and name and name not in _NO_SWAP
                    and name not in _SWAP_MINMAX and _unparse(pos[0]) != _unparse(pos[1])
                    and not all(isinstance(a, ast.Constant) for a in pos[:2])):
                new = copy.copy(node)
                new.args = [node.args[1], node.args[0], *node.args[2:]]
                self._add("operator", "swap_args", node, _unparse(node), _unparse(new), self._replace(parent, field, index, new))
        elif isinstance(node, ast.For):
            new_iter = ast.Call(func=ast.Name(id=HELPER_PREFIX + "reversed", ctx=ast.Load()), args=[node.iter], keywords=[])

            def apply(node=node, new_iter=new_iter):
                node.iter = new_iter
            self._add("operator", "reverse_iter", node, f"for {_unparse(node.target)} in {_unparse(node.iter)}",
                      f"for {_unparse(node.target)} in reversed({_unparse(node.iter)})", apply)


def _lambda_args() -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[ast.arg(arg="_v")], vararg=ast.arg(arg="_a"), kwonlyargs=[],
                         kw_defaults=[], kwarg=ast.arg(arg="_k"), defaults=[])


def _is_module_ref(node: ast.AST) -> bool:
    """``np`` / ``jnp`` / ``torch`` / ``jax.numpy``: a module, so ``np.argmax`` is a function, not a method."""
    root = node
    while isinstance(root, ast.Attribute):
        root = root.value
    return isinstance(root, ast.Name) and root.id in ("np", "jnp", "jax", "torch", "numpy", "math", "lax", "F")


def _is_string_concat(node: ast.BinOp) -> bool:
    return any(isinstance(x, (ast.JoinedStr,)) or (isinstance(x, ast.Constant) and isinstance(x.value, str))
               for x in (node.left, node.right))


# -- helpers injected into a mutant's globals --------------------------------------------------------

def _helper_reversed(it):
    return list(it)[::-1]


def _helper_last_index(fn, x, *args, **kwargs):
    """``fn`` (an argmax / argmin) with ties settled on the LAST index instead of the first."""
    axis = args[0] if args else kwargs.pop("axis", kwargs.pop("dim", None))
    rest = args[1:] if args else ()
    mod = type(x).__module__
    if mod.startswith("torch"):
        import torch

        if axis is None:
            flat = torch.flip(x.reshape(-1), dims=[0])
            return x.numel() - 1 - fn(flat, *rest, **kwargs)
        kw = dict(kwargs)
        return x.shape[axis] - 1 - fn(torch.flip(x, dims=[axis]), axis, *rest, **kw)
    if mod.startswith("jax") or "jaxlib" in mod:
        import jax.numpy as xp
    else:
        import numpy as xp
    if axis is None:
        flat = xp.flip(xp.reshape(x, (-1,)))
        return x.size - 1 - fn(flat, *rest, **kwargs)
    return x.shape[axis] - 1 - fn(xp.flip(x, axis=axis), axis, *rest, **kwargs)


HELPERS = {HELPER_PREFIX + "reversed": _helper_reversed, HELPER_PREFIX + "last_index": _helper_last_index}


# --------------------------------------------------------------------------------------------------
# Modules, frameworks, scopes
# --------------------------------------------------------------------------------------------------


def framework_of(path: str) -> str | None:
    """The framework of a reference module by its file name; None for a shared module (config, tables)."""
    base = os.path.basename(path)[:-3]
    for fw, tags in (("numpy", ("np_ref", "_np")), ("jax", ("jax_ref", "_jax")), ("torch", ("torch_ref", "_torch"))):
        if base in tags or any(base.endswith(t) for t in tags if t.startswith("_")):
            return fw
    return None


def module_name(path: str) -> str:
    rel = os.path.relpath(os.path.join(ROOT, path), ROOT) if not os.path.isabs(path) else os.path.relpath(path, ROOT)
    if rel.startswith("..") or not rel.endswith(".py"):
        raise ParityError(f"mutate: {path!r} is not a Python module of the project")
    return rel[:-3].replace(os.sep, ".")


def module_path(modname: str) -> str:
    return modname.replace(".", "/") + ".py"


def area_modules(area: str, frameworks: Iterable[str] = ("jax", "torch")) -> list[str]:
    """The mutable modules of ``reference/<area>`` and its sub-packages: the framework's references and
    helpers, and the shared modules (the spec's constants, configs, tables); never the numpy oracle, never an
    external oracle (mctx)."""
    d = os.path.join(ROOT, "reference", area)
    if not os.path.isdir(d):
        known = sorted(x for x in os.listdir(os.path.join(ROOT, "reference")) if not x.startswith(("_", ".")))
        raise ParityError(f"mutate: unknown area {area!r} (known: {', '.join(known)})")
    out = []
    for sub, dirs, files in os.walk(d):
        dirs[:] = sorted(x for x in dirs if not x.startswith(("_", ".")))
        for f in sorted(files):
            if not f.endswith(".py") or f == "__init__.py" or "oracle" in f:
                continue
            fw = framework_of(f)
            if fw == "numpy" or (fw is not None and fw not in frameworks):
                continue
            out.append(os.path.relpath(os.path.join(sub, f), ROOT).replace(os.sep, "/"))
    return out


def _read(path: str) -> str:
    with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
        return fh.read()


def sites(paths: Iterable[str], kinds: Iterable[str] = KINDS, frameworks: Iterable[str] = ("jax", "torch"),
          functions: Iterable[str] = ()) -> list[Site]:
    """Every mutant of the given modules (a shared module gives one mutant per framework)."""
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ParityError(f"mutate: unknown kind(s) {bad} (choose from {', '.join(KINDS)})")
    functions = tuple(functions)
    out: list[Site] = []
    for path in paths:
        path = os.path.relpath(os.path.join(ROOT, path), ROOT).replace(os.sep, "/")
        if not os.path.isfile(os.path.join(ROOT, path)):
            raise ParityError(f"mutate: no such module {path!r}")
        fw = framework_of(path)
        fws = [fw] if fw is not None else [f for f in frameworks if path in framework_graph(f)[1]]
        fws = [f for f in fws if f in frameworks or fw is not None]
        tree = ast.parse(_read(path), filename=path)
        stubs = _spec_stubs(tree) if os.path.basename(path) == SPEC_FILE else set()
        cands = [c for c in _Collector(tree, KINDS).collect() if c.kind in kinds and c.top not in stubs]
        counts: dict[tuple, int] = {}
        for c in cands:
            if functions and not any(c.scope == f or c.scope.startswith(f + ".") or c.top == f for f in functions):
                continue
            base = f"{path}::{c.scope}::{c.op}::{_short(c.original)} -> {_short(c.mutated)}"
            n = counts.get(base, 0)
            counts[base] = n + 1
            for f in fws:
                sid = base + (f"#{n}" if n else "") + (f"@{f}" if fw is None else "")
                out.append(Site(sid, path, module_name(path), f, c.scope, c.top, c.kind, c.op, c.line, c.original,
                                c.mutated, c.ordinal))
    return out


def _spec_stubs(tree: ast.Module) -> set[str]:
    """The declared (public) functions of a spec module: stubs, never executed, so never mutated."""
    return {s.name for s in tree.body if isinstance(s, ast.FunctionDef) and not s.name.startswith("_")}


def _short(text: str, n: int = 72) -> str:
    """Source text for a mutant id: short ones as they are, long ones cut with a digest of the whole."""
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    import hashlib

    return text[: n - 10] + "..." + hashlib.sha1(text.encode()).hexdigest()[:7]


def mutated_code(site: Site):
    """The code object of the module with the one mutation applied."""
    col = _Collector(ast.parse(_read(site.path), filename=site.path), KINDS)
    cands = col.collect()
    t = cands[site.ordinal] if site.ordinal < len(cands) else None
    if t is None or (t.op, t.original, t.mutated) != (site.op, site.original, site.mutated):
        raise ParityError(f"mutate: mutant {site.id} no longer matches the source of {site.path} (stale id?)")
    t.apply()
    ast.fix_missing_locations(col.tree)
    return compile(col.tree, f"<mutant {site.path}:{site.line} {site.op}>", "exec")


# -- the module graph of one framework ---------------------------------------------------------------

_GRAPHS: dict[str, tuple[dict[str, set[str]], dict[str, str]]] = {}


def _ref_imports(path: str) -> set[str]:
    """Reference modules imported by a module (``from reference.x import y`` -> reference.x.y if a module)."""
    tree = ast.parse(_read(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reference"):
            for a in node.names:
                cand = f"{node.module}.{a.name}"
                out.add(cand if os.path.isfile(os.path.join(ROOT, module_path(cand))) else node.module)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("reference"):
                    out.add(a.name)
    return {m for m in out if os.path.isfile(os.path.join(ROOT, module_path(m)))}


def _builtin():
    """The catalogue's built-in implementations (its ``builtin``: for this project ``checks.builtin`` over
    ``reference/_contract.py``, found through the catalogue's entry point): the one place this module reaches
    the catalogue."""
    from .catalogue import source

    return source().builtin


def framework_graph(framework: str) -> tuple[dict[str, set[str]], dict[str, str]]:
    """({module: reference modules it imports}, {path: module}) for the modules a framework's components
    come from (the specs' ``reference/<area>/<fw>_ref.py``) and everything they import."""
    if framework in _GRAPHS:
        return _GRAPHS[framework]
    todo = [m for m in _builtin().modules(framework) if os.path.isfile(os.path.join(ROOT, module_path(m)))]
    graph: dict[str, set[str]] = {}
    while todo:
        m = todo.pop()
        if m in graph:
            continue
        graph[m] = _ref_imports(module_path(m))
        todo += list(graph[m])
    _GRAPHS[framework] = (graph, {module_path(m): m for m in graph})
    return _GRAPHS[framework]


def _dependents(graph: dict[str, set[str]], target: str) -> list[str]:
    """Modules that import ``target`` transitively (and target itself), in import order (deps first)."""
    dep = {target}
    changed = True
    while changed:
        changed = False
        for m, imps in graph.items():
            if m not in dep and imps & dep:
                dep.add(m)
                changed = True
    order: list[str] = []

    def visit(m):
        if m in order:
            return
        for d in sorted(graph.get(m, ())):
            if d in dep:
                visit(d)
        order.append(m)
    for m in sorted(dep):
        visit(m)
    return order


# -- static reach: which top-level definitions refer to which -------------------------------------

_REFS: dict[str, dict[str, set[tuple[str, str]]]] = {}


def _module_refs(modname: str) -> dict[str, set[tuple[str, str]]]:
    """{top-level name: {(module, name) it refers to}} for one module."""
    if modname in _REFS:
        return _REFS[modname]
    tree = ast.parse(_read(module_path(modname)))
    aliases: dict[str, str] = {}  # local name -> module
    imported: dict[str, tuple[str, str]] = {}  # local name -> (module, name)
    tops: dict[str, list[ast.AST]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.module.startswith("reference"):
            for a in stmt.names:
                full = f"{stmt.module}.{a.name}"
                if os.path.isfile(os.path.join(ROOT, module_path(full))):
                    aliases[a.asname or a.name] = full
                else:
                    imported[a.asname or a.name] = (stmt.module, a.name)
        elif isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.name.startswith("reference"):
                    aliases[a.asname or a.name] = a.name
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            tops.setdefault(stmt.name, []).append(stmt)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        tops.setdefault(n.id, []).append(stmt)
    refs: dict[str, set[tuple[str, str]]] = {}
    for name, nodes in tops.items():
        s: set[tuple[str, str]] = set()
        for node in nodes:
            for n in ast.walk(node):
                if isinstance(n, ast.Name):
                    if n.id in tops and n.id != name:
                        s.add((modname, n.id))
                    elif n.id in imported:
                        s.add(imported[n.id])
                elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases:
                    s.add((aliases[n.value.id], n.attr))
        refs[name] = s
    _REFS[modname] = refs
    return refs


def reaches(start: tuple[str, str], goal: tuple[str, str]) -> bool:
    seen = set()
    todo = [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node in seen:
            continue
        seen.add(node)
        mod, name = node
        if not os.path.isfile(os.path.join(ROOT, module_path(mod))):
            continue
        todo += list(_module_refs(mod).get(name, ()))
    return False


def _component_defs(framework: str) -> dict[str, tuple[str, str]]:
    """{component: (module, top-level name)}: the specs' declared names in the framework's modules, followed to
    the module that defines them."""
    builtin = _builtin()
    out: dict[str, tuple[str, str]] = {}
    for comp, (m, name) in builtin.sources(framework).items():
        if os.path.isfile(os.path.join(ROOT, module_path(m))):
            out[comp] = _defining(m, name)
    return out


def _defining(modname: str, name: str) -> tuple[str, str]:
    """(module, name) where ``name`` of ``modname`` is defined: followed through ``from reference... import``."""
    for stmt in ast.parse(_read(module_path(modname))).body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.module.startswith("reference"):
            for a in stmt.names:
                if (a.asname or a.name) == name and os.path.isfile(os.path.join(ROOT, module_path(stmt.module))):
                    return _defining(stmt.module, a.name)
    return modname, name


def _target_names(targets) -> list[str]:
    """The names an assignment binds, tuple targets included (``_NINE, _MANT = ...``)."""
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


@functools.cache
def _statement_names(modname: str, top: str, line: int) -> tuple[str, ...]:
    """Every name the top-level statement defining ``top`` at ``line`` binds (a tuple assignment binds several)."""
    for stmt in ast.parse(_read(module_path(modname))).body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
            names = _target_names(stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
            if top in names:
                return tuple(names)
    return (top,)


def affected_components(site: Site) -> list[str]:
    """Components whose function can reach the mutated top-level definition (statically)."""
    goals = [(site.module, n) for n in _statement_names(site.module, site.top, site.line)]
    out = []
    for comp, start in sorted(_component_defs(site.framework).items()):
        if any(reaches(start, goal) for goal in goals):
            out.append(comp)
    return out


# --------------------------------------------------------------------------------------------------
# Loading a mutant as a port
# --------------------------------------------------------------------------------------------------


def _exec_module(modname: str, code, path: str) -> types.ModuleType:
    mod = types.ModuleType(modname)
    mod.__file__ = os.path.join(ROOT, path)
    mod.__package__ = modname.rpartition(".")[0]
    mod.__dict__.update(HELPERS)
    sys.modules[modname] = mod  # dataclasses and string annotations look the module up while it executes
    exec(code, mod.__dict__)
    return mod


def load_mutant(site: Site | None, framework: str, path: str | None = None) -> Implementation:
    """The framework's components with ``site`` applied, as a port named ``mutant``.

    The mutated module and every reference module of the framework that imports it (transitively) are
    executed afresh as new module objects; ``sys.modules`` and the package attributes are restored
    afterwards, so the project's own references stay untouched. ``site=None`` (with ``path``) loads the
    same modules unmutated: the baseline that must pass.
    """
    from .base import Implementation

    builtin = _builtin()
    path = site.path if site is not None else path
    modname = module_name(path)
    graph, _ = framework_graph(framework)
    for m in graph:
        importlib.import_module(m)
    order = _dependents(graph, modname)
    saved = {m: sys.modules.get(m) for m in order}
    parents = {}
    for m in order:
        pkg, _, child = m.rpartition(".")
        parents[m] = (sys.modules[pkg], child, getattr(sys.modules[pkg], child, None))
    shadow: dict[str, types.ModuleType] = {}
    try:
        for m in order:
            p = module_path(m)
            if m == modname and site is not None:
                code = mutated_code(site)
            else:
                code = compile(_read(p), os.path.join(ROOT, p), "exec")
            mod = _exec_module(m, code, p)
            setattr(parents[m][0], parents[m][1], mod)
            shadow[m] = mod
    finally:
        for m, old in saved.items():
            if old is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = old
            pkg, child, val = parents[m]
            if val is None:
                if hasattr(pkg, child):
                    delattr(pkg, child)
            else:
                setattr(pkg, child, val)
    comps = dict(builtin.implementation(framework).components)
    for m in builtin.modules(framework):
        if m in shadow:
            comps.update(builtin.module_components(shadow[m]))
    return Implementation(name=MUTANT_NAME, framework=framework, components=comps, role="port",
                          description=f"mutant {site.id}" if site else f"unmutated copy of {path}")


# --------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    site: Site
    status: str  # killed, survived, timeout, no_check, equivalent, invalid
    components: list[str] = dataclasses.field(default_factory=list)
    checks: list[str] = dataclasses.field(default_factory=list)
    killed_by: list[str] = dataclasses.field(default_factory=list)
    rows: list[dict] = dataclasses.field(default_factory=list)
    named_precisely: bool | None = None
    seconds: float = 0.0
    note: str = ""
    # the configuration the catalogue ran in when not the default: environment settings that select other code of
    # the references (``PARITY_RNG_NATIVE=0``: the pure-torch stream; ``PARITY_JAX_SEMANTICS=0.4``: another JAX
    # release's stream), as a campaign's ``--env`` set them
    config: str = ""

    def to_json(self) -> dict:
        d = self.site.to_json()
        d.update(status=self.status, components=self.components, checks=self.checks, killed_by=self.killed_by,
                 rows=self.rows, named_precisely=self.named_precisely, seconds=round(self.seconds, 3), note=self.note,
                 config=self.config)
        return d


class Worker:
    """Runs mutants in this process: the catalogue, the built-in implementations, a baseline per module."""

    def __init__(self, seed: int = 0, first_kill: bool = False):
        from . import catalogue, numerics, ports

        numerics.pin()
        self.seed = seed
        self.first_kill = first_kill
        self.checks, _ = catalogue.load()
        self.impls, _ = ports.builtin()
        self._baseline: dict[tuple[str, str, str], bool] = {}

    def selected(self, components: list[str], framework: str) -> list:
        comps = set(components)
        return [c for c in self.checks if framework in c.frameworks and comps & set(c.components)]

    def _rows(self, mutant, check) -> list:
        from .runner import Runner

        impls = {n: i for n, i in self.impls.items() if n in ("numpy", mutant.framework)}
        impls[MUTANT_NAME] = mutant
        runner = Runner(impls)
        pairs = [p for p in runner.pairs(check) if MUTANT_NAME in p]
        if not pairs:
            return []
        return runner.run_check(check, self.seed, pairs=pairs)

    def baseline_ok(self, site: Site, check) -> bool:
        """The unmutated copy of the module passes the check (else the check cannot judge this module)."""
        key = (site.path, site.framework, check.name)
        if key not in self._baseline:
            impl = load_mutant(None, site.framework, site.path)
            rows = self._rows(impl, check)
            self._baseline[key] = all(r.status in (Status.PASS, Status.NOT_PROVIDED, Status.KNOWN_DIFFERENCE)
                                      for r in rows)
        return self._baseline[key]

    def run(self, site: Site, deadline: float | None = None) -> Outcome:
        t0 = time.perf_counter()
        comps = affected_components(site)
        out = Outcome(site, "survived", components=comps)
        checks = self.selected(comps, site.framework)
        out.checks = [c.name for c in checks]
        if not checks:
            out.status = "no_check"
            out.note = "no check exercises " + (", ".join(comps) if comps else "any component reaching this code")
            out.seconds = time.perf_counter() - t0
            return out
        try:
            mutant = load_mutant(site, site.framework)
        except Exception as e:  # noqa: BLE001 - an invalid mutant (does not compile / import) is reported
            out.status, out.note = "invalid", f"{type(e).__name__}: {e}"
            out.seconds = time.perf_counter() - t0
            return out
        broken = []
        for check in checks:
            if deadline is not None and time.perf_counter() > deadline:
                out.note = "time budget ran out before every check ran"
                break
            if not self.baseline_ok(site, check):
                broken.append(check.name)
                continue
            for r in self._rows(mutant, check):
                if r.status in (Status.FAIL, Status.ERROR):
                    out.rows.append({"check": r.check, "pair": list(r.pair), "status": r.status.value,
                                     "failing_components": list(r.failing_components),
                                     "check_components": list(check.components),
                                     "precise": _row_precise(r.failing_components, check.components, comps,
                                                             mutant.components),
                                     "message": r.message.splitlines()[0][:300] if r.message else ""})
                    if r.check not in out.killed_by:
                        out.killed_by.append(r.check)
            if out.killed_by and self.first_kill:
                break
        if broken:
            out.note = (out.note + "; " if out.note else "") + "baseline fails (not judged): " + ", ".join(broken)
        if out.killed_by:
            out.status = "killed"
            out.named_precisely = named_precisely(out.rows, comps)
        out.seconds = time.perf_counter() - t0
        return out


def _row_precise(failing, check_components, affected, known) -> bool:
    """Every name in a failing row reaches the mutation; a name that is no component (a trace check's tap
    group, ``train.loss`` of ``train.trajectory``) counts when every component of its check does."""
    allowed = set(affected)
    own = set(check_components) <= allowed
    failing = failing or check_components  # a row no leaf attributes (failing_components []) names the whole check
    return all(n in allowed or (n not in known and own) for n in failing)


def named_precisely(rows: list[dict], components: list[str]) -> bool | None:
    """Did the killing rows name only components that reach the mutated code?

    Judged on the ``fail`` rows (a leaf comparison attributes them); a kill by ``error`` rows alone (the
    mutant raised) names every component of the check and is not judged (None)."""
    fails = [r for r in rows if r["status"] == "fail"]
    if not fails:
        return None
    allowed = set(components)
    return all(r.get("precise", set(r["failing_components"]) <= allowed) for r in fails)


# A worker retires (and a fresh one takes over) after this many mutants or above this resident memory: every
# mutant loads new modules, and JAX keeps each one's compiled programs, so a long-lived worker grows until
# XLA's LLVM cannot map more code ("Cannot allocate memory", measured after ~370 JAX mutants per worker).
WORKER_MUTANTS = int(os.environ.get("PARITY_MUTATE_WORKER_MUTANTS", "60"))
WORKER_RSS_MB = float(os.environ.get("PARITY_MUTATE_WORKER_RSS_MB", "2500"))


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when its parent dies (a killed campaign left a worker spinning in an
    XLA loop that never ends for 40 minutes; daemon processes are only reaped on a clean exit)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(conn, seed: int, first_kill: bool) -> None:  # pragma: no cover - runs in a subprocess
    _die_with_parent()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    w = Worker(seed=seed, first_kill=first_kill)
    conn.send(("ready", None))
    done = 0
    while True:
        msg = conn.recv()
        if msg is None:
            return
        site, deadline_s = msg
        try:
            o = w.run(site, time.perf_counter() + deadline_s if deadline_s else None)
        except Exception as e:  # noqa: BLE001 - a mutant that crashes the worker is an `invalid` outcome, not a crash
            o = Outcome(site, "invalid", note=f"{type(e).__name__}: {e}")
        done += 1
        retire = done >= WORKER_MUTANTS or _rss_mb() > WORKER_RSS_MB
        conn.send(("done", o, retire))
        if retire:
            return


class _Proc:
    def __init__(self, ctx, seed, first_kill):
        self.parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, seed, first_kill), daemon=True)
        self.proc.start()
        self.site: Site | None = None
        self.started = 0.0
        self.ready = False

    def stop(self):
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


def run_sites(site_list: list[Site], *, jobs: int = 1, timeout: float = 300.0, budget: float | None = None,
              seed: int = 0, first_kill: bool = False, progress: Callable[[Outcome], None] | None = None,
              nice: int = 0, journal: str | None = None) -> tuple[list[Outcome], list[Site]]:
    """Run every mutant (``jobs`` = 0: in this process); returns (outcomes, sites not run for the budget).

    ``journal``: a file each outcome is appended to as one JSON line when it arrives (``read_journal``), so a
    run that is stopped keeps what it measured. A worker that dies (its memory, a mutant that kills the
    process) is replaced and its mutant run once more in a fresh worker; a second death is ``invalid``."""
    if journal is not None:
        inner = progress

        def progress(o: Outcome) -> None:
            with open(journal, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(o.to_json()) + "\n")
            if inner:
                inner(o)
    t_end = time.perf_counter() + budget if budget else None
    outcomes: list[Outcome] = []
    if jobs <= 0:
        w = Worker(seed=seed, first_kill=first_kill)
        left = []
        for s in site_list:
            if t_end is not None and time.perf_counter() > t_end:
                left.append(s)
                continue
            o = w.run(s, time.perf_counter() + timeout)
            if o.note.startswith("time budget"):
                o.status = "timeout" if not o.killed_by else o.status
            outcomes.append(o)
            if progress:
                progress(o)
        return outcomes, left
    import multiprocessing as mp
    import shutil
    import tempfile

    ctx = mp.get_context("spawn")
    if nice:
        os.environ["PARITY_MUTATE_NICE"] = str(nice)
    # A mutant re-executes its module, so every jitted function of it is new to JAX's in-memory cache and
    # would compile again, although only the mutated function's program changed. A compilation cache keyed
    # on the program (XLA's HLO; shared by the workers, removed at the end) compiles each distinct program
    # once: 2.5x more JAX mutants per minute, identical outcomes. A cache the user configured is kept.
    xla_cache = None
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        xla_cache = tempfile.mkdtemp(prefix="parity-mutate-xla-")
        os.environ.update(JAX_COMPILATION_CACHE_DIR=xla_cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                          JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")
    todo = list(site_list)
    procs = [_Proc(ctx, seed, first_kill) for _ in range(min(jobs, max(1, len(todo))))]
    left: list[Site] = []
    deaths: dict[str, int] = {}

    def finish(o: Outcome) -> None:
        outcomes.append(o)
        if progress:
            progress(o)

    def died(i: int, p: _Proc, now: float) -> None:
        code = p.proc.exitcode
        p.stop()
        site, p.site = p.site, None
        procs[i] = _Proc(ctx, seed, first_kill)
        deaths[site.id] = deaths.get(site.id, 0) + 1
        if deaths[site.id] < 2:
            todo.insert(0, site)  # once more, in a fresh worker: the old one may have died of its own history
        else:
            finish(Outcome(site, "invalid", note=f"the worker died twice running it (exit code {code}, "
                                                 f"after {now - p.started:.0f} s)"))

    try:
        while todo or any(p.site is not None for p in procs):
            now = time.perf_counter()
            for i, p in enumerate(procs):
                if not p.ready:
                    try:
                        if p.parent.poll(0):
                            p.parent.recv()
                            p.ready = True
                            continue
                    except (EOFError, OSError):
                        pass
                    if not p.proc.is_alive():
                        raise ParityError("mutate: a worker process died while starting (see its stderr)")
                    continue
                if p.site is None and todo:
                    if t_end is not None and now > t_end:
                        left += todo
                        todo = []
                        continue
                    p.site = todo.pop(0)
                    p.started = now
                    p.parent.send((p.site, timeout))
                elif p.site is not None:
                    try:
                        msg = p.parent.recv() if p.parent.poll(0) else None
                    except (EOFError, OSError):  # the worker died: its end of the pipe is closed
                        died(i, p, now)
                        continue
                    if msg is not None:
                        _, o, retire = msg
                        if o.note.startswith("time budget") and not o.killed_by:
                            o.status = "timeout"
                        p.site = None
                        finish(o)
                        if retire:
                            p.proc.join(10)
                            p.stop()
                            procs[i] = _Proc(ctx, seed, first_kill)
                    elif not p.proc.is_alive():
                        died(i, p, now)
                    elif now - p.started > timeout * 1.5 + 60:
                        finish(Outcome(p.site, "timeout", note=f"worker killed after {now - p.started:.0f} s"))
                        p.stop()
                        procs[i] = _Proc(ctx, seed, first_kill)
            time.sleep(0.05)
    finally:
        for p in procs:
            try:
                p.parent.send(None)
            except Exception:  # noqa: BLE001 - a worker already gone cannot take the stop message; it is joined next
                pass
            p.proc.join(2)
            p.stop()
        if xla_cache is not None:
            for k in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                      "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"):
                os.environ.pop(k, None)
            shutil.rmtree(xla_cache, ignore_errors=True)
    order = {s.id: i for i, s in enumerate(site_list)}
    outcomes.sort(key=lambda o: order.get(o.site.id, 0))
    return outcomes, left


# --------------------------------------------------------------------------------------------------
# Equivalents and the report
# --------------------------------------------------------------------------------------------------


def load_equivalents(path: str = EQUIVALENT_FILE) -> dict[str, str]:
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as e:
        raise ParityError(f"mutate: {path} is not valid JSON: {e}") from e
    entries = data.get("equivalent", data) if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(v, str) and v.strip() for v in entries.values()):
        raise ParityError(f"mutate: {path} must map mutant ids to a non-empty reason")
    return dict(entries)


def stale_equivalents(equivalents: dict[str, str], selected: list[Site]) -> list[str]:
    """Listed ids of the selected modules that no current mutant has (the source moved under them)."""
    paths = {s.path for s in selected}
    current = {s.id for s in sites(sorted(paths), frameworks=("numpy", "jax", "torch"))} if paths else set()
    return sorted(k for k in equivalents if k.split("::")[0] in paths and k not in current)


def apply_equivalents(outcomes: list[Outcome], equivalents: dict[str, str]) -> None:
    for o in outcomes:
        reason = equivalents.get(o.site.id)
        if reason is None or o.status == "equivalent":
            continue
        if o.status in ("survived", "no_check"):
            o.status = "equivalent"
            o.note = reason
        else:
            o.note = (o.note + "; " if o.note else "") + f"STALE equivalent entry (mutant was {o.status}): {reason}"


def _outcome(m: dict) -> Outcome:
    fields = {f.name for f in dataclasses.fields(Site)}
    kept = {f.name for f in dataclasses.fields(Outcome)} - {"site"}
    return Outcome(Site(**{k: m[k] for k in fields}), **{k: m[k] for k in kept if k in m})


def read_report(path: str) -> tuple[dict, list[Outcome]]:
    """A mutation.json back as (its data, its outcomes): to re-run its survivors or re-apply the equivalents."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        outcomes = [_outcome(m) for m in data["mutants"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ParityError(f"mutate: {path} is not a mutation report written by this tool: {e}") from e
    return data, outcomes


def read_journal(path: str) -> list[Outcome]:
    """The outcomes a run appended to its ``journal`` (one JSON line each); a torn last line is skipped."""
    out = []
    if not os.path.isfile(path):
        return out
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                out.append(_outcome(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue
    return out


def area_scores(outcomes: list[Outcome]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for o in outcomes:
        a = out.setdefault(o.site.area, {"mutants": 0, "killed": 0, "survived": 0, "no_check": 0, "equivalent": 0,
                                         "timeout": 0, "invalid": 0, "named_precisely": 0, "attributed": 0})
        a["mutants"] += 1
        a[o.status] = a.get(o.status, 0) + 1
        a["named_precisely"] += bool(o.named_precisely)
        a["attributed"] += o.named_precisely is not None
    for a in out.values():
        judged = a["mutants"] - a["equivalent"] - a["invalid"]
        # a timeout counts as detected (as in Stryker): the mutant hangs its check (an XLA loop that never
        # ends cannot be interrupted), so a run with it never goes green; the table lists timeouts apart
        a["score"] = round((a["killed"] + a["timeout"]) / judged, 4) if judged else None
        a["precision"] = round(a["named_precisely"] / a["attributed"], 4) if a["attributed"] else None
    return out


def _cause(o: Outcome) -> str:
    if o.status == "no_check":
        return "no check exercises the code it reaches"
    if o.status == "timeout":
        return "ran out of time"
    if o.status == "invalid":
        return "mutant did not load"
    if o.note and "baseline fails" in o.note and not o.killed_by:
        return "the checks that reach it fail on the unmutated copy"
    return f"checks pass: {', '.join(o.checks) if o.checks else '-'}"


def write_report(outdir: str, outcomes: list[Outcome], left: list[Site], *, command: str, seconds: float,
                 jobs: int, before: dict | None = None) -> tuple[str, str]:
    from pathlib import Path

    from .fixtures import atomic_write_bytes

    def _atomic_write(path, text):
        atomic_write_bytes(Path(path), text.encode())

    os.makedirs(outdir, exist_ok=True)
    scores = area_scores(outcomes)
    per_min = len(outcomes) / (seconds / 60) if seconds > 0 else None
    data = {
        "command": command,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "jobs": jobs,
        "mutants_per_minute": round(per_min, 2) if per_min else None,
        "areas": scores,
        **({"before": before} if before is not None else {}),
        "not_run": [s.id if isinstance(s, Site) else s for s in left],
        "mutants": [o.to_json() for o in outcomes],
    }
    js = os.path.join(outdir, "mutation.json")
    md = os.path.join(outdir, "mutation.md")
    _atomic_write(js, json.dumps(data, indent=1, sort_keys=False) + "\n")
    _atomic_write(md, markdown(data, outcomes))
    return js, md


def markdown(data: dict, outcomes: list[Outcome]) -> str:
    lines = ["# Mutation report", "", f"`{data['command']}`: {len(outcomes)} mutants in {data['seconds']} s "
             f"({data['mutants_per_minute']} / min, {data['jobs']} job(s)); {len(data['not_run'])} not run (budget).",
             "", "Score = (killed + timeout) / (mutants - equivalent - invalid): a timeout is a mutant that hangs its "
             "check, counted as detected (as Stryker does). Named precisely = kills whose failing rows name only "
             "components that reach the mutated code, over the kills with `fail` rows.",
             "", "| area | mutants | killed | survived | no check | equivalent | timeout | invalid | score | named precisely |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for area, a in sorted(data["areas"].items()):
        sc = f"{a['score']:.1%}" if a["score"] is not None else "-"
        pr = f"{a['precision']:.1%}" if a["precision"] is not None else "-"
        lines.append(f"| {area} | {a['mutants']} | {a['killed']} | {a['survived']} | {a['no_check']} | "
                     f"{a['equivalent']} | {a['timeout']} | {a['invalid']} | {sc} | {pr} |")
    if data.get("before"):
        lines += ["", f"Before the survivors were re-run ({data['before'].get('command', '')}):", "",
                  "| area | killed | survived | no check | equivalent | score | named precisely |",
                  "|---|---|---|---|---|---|---|"]
        for area, a in sorted(data["before"]["areas"].items()):
            sc = f"{a['score']:.1%}" if a["score"] is not None else "-"
            pr = f"{a['precision']:.1%}" if a["precision"] is not None else "-"
            lines.append(f"| {area} | {a['killed']} | {a['survived']} | {a['no_check']} | {a['equivalent']} | {sc} | {pr} |")
    surv = [o for o in outcomes if o.status in ("survived", "no_check", "timeout", "invalid")]
    lines += ["", "## Survivors by cause", ""]
    groups: dict[str, list[Outcome]] = {}
    for o in surv:
        groups.setdefault(_cause(o), []).append(o)
    if not groups:
        lines.append("none")
    for cause, os_ in sorted(groups.items()):
        lines.append(f"### {cause} ({len(os_)})")
        lines.append("")
        for o in os_:
            s = o.site
            lines.append(f"- `{s.id}` ({s.path}:{s.line}, {s.framework})" + (f" -- {o.note}" if o.note else ""))
        lines.append("")
    eq = [o for o in outcomes if o.status == "equivalent"]
    if eq:
        lines += ["## Equivalent (reviewed)", ""]
        lines += [f"- `{o.site.id}`: {o.note}" for o in eq]
        lines.append("")
    lines += ["## Every mutant", "", "| status | mutant | line | killed by | named precisely |", "|---|---|---|---|---|"]
    for o in outcomes:
        s = o.site
        np_ = "" if o.named_precisely is None else ("yes" if o.named_precisely else "no")
        by = ", ".join(o.killed_by) + (f" (with {o.config})" if o.config and o.killed_by else "")
        lines.append(f"| {o.status} | `{s.id}` | {s.line} | {by} | {np_} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Command line (``parity mutate`` and bench/mutate_campaign.py)
# --------------------------------------------------------------------------------------------------


def add_arguments(p) -> None:
    p.add_argument("--area", action="append", default=[], help="reference area (losses, train, eggroll, mcts, ...); "
                   "repeatable; its jax / torch modules and shared configs")
    p.add_argument("--module", action="append", default=[], metavar="PATH",
                   help="a reference module to mutate (reference/losses/torch_ref.py); repeatable")
    p.add_argument("--function", action="append", default=[], metavar="NAME",
                   help="only mutants inside this top-level definition or qualified scope; repeatable")
    p.add_argument("--kinds", default="constant,operator", help="constant,operator (default both)")
    p.add_argument("--frameworks", default="jax,torch", help="frameworks to mutate (default jax,torch)")
    p.add_argument("--op", action="append", default=[], help="only these operators (x0.1, compare, drop_term...)")
    p.add_argument("--max-mutants", type=int, default=None, help="run at most this many (evenly spread)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (0: in this process; default 1)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant (default 300)")
    p.add_argument("--budget", type=float, default=None, help="seconds for the whole run; the rest is listed not run")
    p.add_argument("--first-kill", action="store_true", help="stop a mutant at its first killing check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--list", action="store_true", help="list the mutants (and the checks each would run); run nothing")
    p.add_argument("--out", default="reports/mutation", help="directory for mutation.json / mutation.md")
    p.add_argument("--equivalent", default=EQUIVALENT_FILE, help="reviewed list of equivalent mutants (JSON)")


def select_sites(args) -> list[Site]:
    frameworks = tuple(x.strip() for x in args.frameworks.split(",") if x.strip())
    for f in frameworks:
        if f not in ("numpy", "jax", "torch"):
            raise ParityError(f"mutate: unknown framework {f!r}")
    paths = list(args.module)
    for a in args.area:
        paths += area_modules(a, frameworks)
    if not paths:
        raise ParityError("mutate: say what to mutate: --area AREA or --module reference/<area>/<file>.py")
    kinds = tuple(x.strip() for x in args.kinds.split(",") if x.strip())
    ss = sites(dict.fromkeys(paths), kinds, frameworks, args.function)
    ss = [s for s in ss if s.framework in frameworks]
    if args.op:
        ss = [s for s in ss if s.op in args.op]
    if args.max_mutants is not None and len(ss) > args.max_mutants:
        step = len(ss) / args.max_mutants
        ss = [ss[int(i * step)] for i in range(args.max_mutants)]
    return ss


def main(args, stream=sys.stdout, command: str = "parity mutate") -> int:
    ss = select_sites(args)
    equivalents = load_equivalents(args.equivalent)
    if args.list:
        for s in ss:
            comps = affected_components(s)
            stream.write(f"{s.id}\n    line {s.line}, {s.framework}, components: {', '.join(comps) or '-'}"
                         + (f"  [equivalent: {equivalents[s.id]}]" if s.id in equivalents else "") + "\n")
        stream.write(f"{len(ss)} mutant(s)\n")
        return 0
    if not ss:
        raise ParityError("mutate: no mutant matches the selection")
    stale = stale_equivalents(equivalents, ss)
    for k in stale:
        stream.write(f"note: stale equivalent entry (no such mutant any more): {k}\n")
    t0 = time.perf_counter()

    def progress(o: Outcome):
        extra = f" by {', '.join(o.killed_by)}" if o.killed_by else (f" ({o.note})" if o.note else "")
        stream.write(f"{o.status:>10}  {o.site.id}{extra}  [{o.seconds:.1f} s]\n")
        stream.flush()

    outcomes, left = run_sites(ss, jobs=args.jobs, timeout=args.timeout, budget=args.budget, seed=args.seed,
                               first_kill=args.first_kill, progress=progress)
    apply_equivalents(outcomes, equivalents)
    seconds = time.perf_counter() - t0
    js, md = write_report(args.out, outcomes, left, command=command, seconds=seconds, jobs=args.jobs)
    for area, a in sorted(area_scores(outcomes).items()):
        sc = f"{a['score']:.1%}" if a["score"] is not None else "-"
        stream.write(f"{area}: {a['killed']} killed / {a['mutants'] - a['equivalent'] - a['invalid']} judged "
                     f"({sc}), {a['survived']} survived, {a['no_check']} without a check, {a['equivalent']} equivalent\n")
    stream.write(f"wrote {js} and {md}\n")
    bad = [o for o in outcomes if o.status in ("survived", "no_check", "timeout")]
    return 1 if bad or left else 0
