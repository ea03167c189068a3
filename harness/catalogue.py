"""Loading and selecting the check catalogue (``checks.MODULES``)."""

from __future__ import annotations

import importlib
import importlib.util

from .base import Check, ParityError
from .keyword import compile_expression


def load(modules: tuple[str, ...] | None = None) -> tuple[list[Check], list[str]]:
    """All declared checks, and notes about modules that could not be loaded.

    A module that does not exist (an area not written yet) or whose framework is not installed is noted
    and skipped; any other import error is a configuration error.
    """
    if modules is None:
        import checks

        modules = checks.MODULES
    out: list[Check] = []
    notes: list[str] = []
    seen: dict[str, str] = {}
    for modname in modules:
        if importlib.util.find_spec(modname) is None:
            continue
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name in ("jax", "jaxlib", "torch", "flax", "optax", "mctx"):
                notes.append(f"{modname}: skipped, {e.name} is not installed")
                continue
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
