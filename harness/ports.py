"""Implementations: the built-in references and a user's port given as ``package.module:attribute``."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import sys

from .base import Implementation, ParityError

BUILTIN_ORDER = ("numpy", "jax", "torch")


def builtin(frameworks: tuple[str, ...] = BUILTIN_ORDER, *, catalogue: str | None = None,
            ) -> tuple[dict[str, Implementation], list[str]]:
    """The catalogue's own implementations (numpy oracle, jax, torch) for the installed frameworks."""
    from .catalogue import source

    b = source(catalogue).builtin

    impls: dict[str, Implementation] = {}
    notes: list[str] = []
    for fw in frameworks:
        if fw != "numpy" and importlib.util.find_spec(fw) is None:
            notes.append(f"{fw}: not installed, its reference is skipped")
            continue
        impls[fw] = b.implementation(fw)
    return impls, notes


def load_port(spec: str) -> Implementation:
    """Resolve ``package.module:attribute`` to an Implementation (or a zero-argument factory of one)."""
    if ":" not in spec:
        raise ParityError(f"--port {spec!r}: expected 'package.module:attribute'")
    modname, attr = spec.split(":", 1)
    if not modname or not attr:
        raise ParityError(f"--port {spec!r}: expected 'package.module:attribute'")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(modname)
    except SystemExit as e:  # a module that exits at import must not end the run silently (exit 0)
        raise ParityError(f"--port {spec!r}: module {modname!r} called sys.exit({e.code!r}) while importing: a "
                          "port module must not exit the process") from None
    except Exception as e:
        raise ParityError(f"--port {spec!r}: module {modname!r} does not import: {type(e).__name__}: {e}") from e
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ParityError(f"--port {spec!r}: module {modname!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, Implementation) and callable(obj):
        try:
            obj = obj()
        except SystemExit as e:
            raise ParityError(f"--port {spec!r}: calling {attr}() called sys.exit({e.code!r})") from None
        except Exception as e:
            raise ParityError(f"--port {spec!r}: calling {attr}() raised {type(e).__name__}: {e}") from e
    if not isinstance(obj, Implementation):
        raise ParityError(f"--port {spec!r}: {attr} is a {type(obj).__name__}, expected harness.base.Implementation")
    if obj.role in ("oracle", "reference"):
        obj = dataclasses.replace(obj, role="port")  # keeps its declarations
    return obj
