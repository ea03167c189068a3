"""pytest-style keyword expressions over check names: ``-k "losses or (train and not plateau)"``.

An identifier matches when it is a case-insensitive substring of any of the names given (the check name
and its components). Operators: ``and``, ``or``, ``not``, parentheses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .base import ParityError

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


def _tokens(expr: str) -> list[tuple[str, int]]:
    out, pos = [], 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            break
        out.append((m.group(1), m.start(1)))
        pos = m.end()
    return out


def compile_expression(expr: str):
    """Parse ``expr`` once; returns ``match(names) -> bool``. Raises ParityError on a syntax error."""
    toks = _tokens(expr)
    if not toks:
        raise ParityError(f"-k {expr!r}: empty expression")
    i = 0

    def peek():
        return toks[i][0] if i < len(toks) else None

    def take():
        nonlocal i
        t = toks[i]
        i += 1
        return t

    def err(msg):
        where = toks[i][1] if i < len(toks) else len(expr)
        raise ParityError(f"-k {expr!r}: {msg} at column {where + 1}")

    def binary(op, operand):  # operand (op operand)*, left-associative
        def parse():
            node = operand()
            while peek() == op:
                take()
                node = (op, node, operand())
            return node
        return parse

    def p_or():
        return binary("or", binary("and", p_not))()

    def p_not():
        t = peek()
        if t is None:
            err("expected an identifier")
        if t == "not":
            take()
            return ("not", p_not())
        if t == "(":
            take()
            node = p_or()
            if peek() != ")":
                err("expected ')'")
            take()
            return node
        if t in (")", "and", "or"):
            err(f"unexpected {t!r}")
        return ("id", take()[0].lower())

    tree = p_or()
    if i != len(toks):
        err(f"unexpected {toks[i][0]!r}")

    def ev(node, names):
        op = node[0]
        if op == "id":
            return any(node[1] in n for n in names)
        if op == "not":
            return not ev(node[1], names)
        if op == "and":
            return ev(node[1], names) and ev(node[2], names)
        return ev(node[1], names) or ev(node[2], names)

    def match(names: Iterable[str]) -> bool:
        return ev(tree, [n.lower() for n in names])

    return match
