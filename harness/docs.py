"""``parity docs``: the README's generated sections, written from the catalogue so that they cannot drift.

A generated section sits between marker comments and is rewritten whole; everything outside stays as written:

    <!-- generated: checks -->                     the check table: every check of the catalogue with its
    ...                                            components, kind, comparison mode and negative controls
    <!-- /generated -->
    <!-- generated: signatures eggroll.* rng.* -->  the components matching these patterns (fnmatch; a
    ...                                             component goes to the block with the longest matching
    <!-- /generated -->                             pattern): signature and the docstring's first line

The signatures come from the catalogue's ``signatures()`` ({component: function}: the area's spec stub where
the area has a spec, else the oracle's function). ``parity docs --check`` exits 1 naming each section that
differs; ``parity docs --write`` rewrites them.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
import re
from collections.abc import Callable, Iterable, Mapping

from .base import Check, ParityError

COMMAND = "./run parity docs --write"
_BLOCK = re.compile(r"(<!-- generated: (?P<what>[^>]*?) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.S)


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "..."


def check_table(checks: list[Check]) -> str:
    controls = sum(len(c.controls) for c in checks)
    lines = [f"{len(checks)} checks, {controls} negative controls (every one must be detected).", "",
             "| check | components | kind | mode | what it guards | negative controls |",
             "|---|---|---|---|---|---|"]
    for c in checks:
        comps = ", ".join(f"`{x}`" for x in c.components)
        ctl = ", ".join(k.name for k in c.controls) or "-"
        what = _short(c.description).replace("|", "/")
        lines.append(f"| `{c.name}` | {comps} | {c.kind} | {c.mode.kind} | {what} | {ctl} |")
    return "\n".join(lines) + "\n"


def first_line(fn: Callable) -> str:
    doc = inspect.getdoc(fn) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def signature_line(name: str, fn: Callable) -> str:
    """``name(parameters)`` and, indented below it, the docstring's first line (the equation)."""
    head, doc = f"{name}{_signature(fn)}", first_line(fn)
    return f"{head}\n    {doc}" if doc else head


def signatures_block(patterns: Iterable[str], functions: Mapping[str, Callable], owner: Mapping[str, str]) -> str:
    key = " ".join(patterns)
    mine = [n for n in functions if owner.get(n) == key]
    return "```\n" + "\n".join(signature_line(n, functions[n]) for n in mine) + "\n```\n"


def _owners(blocks: list[list[str]], names: Iterable[str]) -> dict[str, str]:
    """{component: the block (its patterns joined) whose longest pattern matches it}."""
    out = {}
    for n in names:
        best = max(((len(p), " ".join(ps)) for ps in blocks for p in ps if fnmatch.fnmatchcase(n, p)), default=None)
        if best is not None:
            out[n] = best[1]
    return out


def render(text: str, checks: list[Check], functions: Mapping[str, Callable]) -> str:
    """``text`` with every generated section rewritten."""
    specs = [m.group("what").split() for m in _BLOCK.finditer(text)]
    owner = _owners([s[1:] for s in specs if s and s[0] == "signatures"], functions)

    def body(m: re.Match) -> str:
        what = m.group("what").split()
        if what == ["checks"]:
            new = check_table(checks)
        elif what and what[0] == "signatures" and len(what) > 1:
            new = signatures_block(what[1:], functions, owner)
        else:
            raise ParityError(f"README: unknown generated section {m.group('what')!r} (known: 'checks', "
                              "'signatures <pattern> ...')")
        return m.group(1) + new + m.group(4)

    return _BLOCK.sub(body, text)


def drifted(text: str, new: str) -> list[str]:
    """The generated sections of ``text`` that differ from ``new``'s."""
    old = {m.group("what"): m.group("body") for m in _BLOCK.finditer(text)}
    return [w for w, b in ((m.group("what"), m.group("body")) for m in _BLOCK.finditer(new)) if old.get(w) != b]


def _shown(value) -> str:
    text = repr(value)
    if " at 0x" in text or len(text) > 40:  # a function / object repr: its name, never an address
        return getattr(value, "__name__", None) or f"{type(value).__name__}(...)"
    return text


class _Default:
    def __init__(self, value):
        self.text = _shown(value)

    def __repr__(self) -> str:
        return self.text


def _signature(fn: Callable) -> str:
    """The parameters as written (no annotations; defaults shown by value, objects by name)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return "(...)"
    params = [p.replace(annotation=inspect.Parameter.empty,
                        default=p.default if p.default is inspect.Parameter.empty else _Default(p.default))
              for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def add_arguments(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="rewrite the README's generated sections")
    g.add_argument("--check", action="store_true", help="exit 1 if a generated section differs (the default)")
    p.add_argument("--readme", default="README.md", help="the README to check or write (default ./README.md)")


def main(args, out) -> int:
    from . import catalogue

    checks, notes = catalogue.load()
    if notes:
        raise ParityError("the README's check table needs the whole catalogue, and some check modules were "
                          "skipped: " + "; ".join(notes))
    src = catalogue.source()
    functions = src.signatures() if callable(getattr(src, "signatures", None)) else {}
    try:
        with open(args.readme, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ParityError(f"--readme {args.readme}: {e.strerror}") from None
    if not _BLOCK.search(text):
        raise ParityError(f"{args.readme} has no generated section (<!-- generated: checks --> ... "
                          "<!-- /generated -->)")
    new = render(text, checks, functions)
    stale = drifted(text, new)
    if not args.write:
        if stale:
            out.write(f"{args.readme}: generated section(s) differ from the catalogue: {', '.join(stale)}; "
                      f"run {COMMAND}\n")
            return 1
        out.write(f"{args.readme}: generated sections up to date\n")
        return 0
    if stale:
        tmp = f"{args.readme}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(new)
        os.replace(tmp, args.readme)
    out.write(f"{args.readme}: {'rewrote ' + ', '.join(stale) if stale else 'generated sections up to date'}\n")
    return 0
