"""The catalogue is found, not imported by name: the entry point ``parity.catalogues:builtin`` (or a module named
explicitly); a misspelt module in its list and a check module left out of it are errors naming them; no module
of harness/ imports the catalogue."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import sys
import textwrap

import pytest

from harness import catalogue, ports
from harness.base import ParityError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK_MODULE = '''
import numpy as np
from harness.base import Check, Control, Exact

def _flip(f):
    return lambda x: -f(x)

CHECKS = [Check("demo.{name}", ("demo.neg",), inputs=lambda seed: np.arange(3.0), mode=Exact(),
                run=lambda c, x: c["demo.neg"](x), fixture=False,
                controls=(Control("flip", "sign flipped", {{"demo.neg": _flip}}, target="numpy", against="numpy"),))]
'''


@pytest.fixture
def plant(tmp_path, monkeypatch):
    """A catalogue package ``name`` with check modules ``{module: check name}`` and ``MODULES = listed``."""
    made = []

    def make(name, modules, listed, extra=None):
        pkg = tmp_path / name
        (pkg / "sub").mkdir(parents=True)
        (pkg / "sub" / "__init__.py").write_text("")
        for mod, check in modules.items():
            (pkg / (mod.replace(".", "/") + ".py")).write_text(CHECK_MODULE.format(name=check))
        for mod, text in (extra or {}).items():
            (pkg / (mod.replace(".", "/") + ".py")).write_text(text)
        (pkg / "__init__.py").write_text(textwrap.dedent(f'''
            from harness.base import Implementation

            MODULES = {tuple(f"{name}.{m}" for m in listed)!r}

            class builtin:
                @staticmethod
                def implementation(framework):
                    return Implementation(framework, framework, {{"demo.neg": lambda x: -x}},
                                          role="oracle" if framework == "numpy" else "reference")
            '''))
        made.append(name)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for name in made:
        for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[m]


def test_the_builtin_catalogue_comes_from_the_entry_point():
    eps = [ep for ep in importlib.metadata.entry_points(group=catalogue.GROUP) if ep.name == catalogue.BUILTIN]
    assert [ep.value for ep in eps] == ["checks"]
    assert catalogue.source().__name__ == "checks"
    checks, _ = catalogue.load()
    assert checks and checks[0].name.startswith("toy.")


def test_an_explicit_catalogue_module(plant):
    name = plant("cat_ok", {"a": "one", "sub.b": "two"}, ["a", "sub.b"])
    checks, notes = catalogue.load(catalogue=name)
    assert [c.name for c in checks] == ["demo.one", "demo.two"] and notes == []
    impls, _ = ports.builtin(("numpy",), catalogue=name)
    assert impls["numpy"].components["demo.neg"](2.0) == -2.0


def test_a_misspelt_module_in_the_list_is_an_error_naming_it(plant):
    name = plant("cat_typo", {"noise": "noise", "update": "update"}, ["noise", "udpate"])
    with pytest.raises(ParityError, match=r"cat_typo.MODULES names 'cat_typo.udpate', which is not a module: "
                                          r"did you mean 'cat_typo.update'\?"):
        catalogue.load(catalogue=name)


def test_a_check_module_the_list_leaves_out_is_an_error(plant):
    helper = "def shared():\n    return 1\n"  # a helper module without CHECKS needs no entry
    name = plant("cat_unlisted", {"a": "one", "sub.forgotten": "two"}, ["a"], extra={"_common": helper})
    with pytest.raises(ParityError, match=r"cat_unlisted.sub.forgotten declares CHECKS but cat_unlisted.MODULES "
                                          r"does not list it"):
        catalogue.load(catalogue=name)


def test_an_unknown_catalogue_is_an_error():
    with pytest.raises(ParityError, match="'no_such_catalogue' is not an importable module"):
        catalogue.load(catalogue="no_such_catalogue")


def _imports(path: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args and \
                isinstance(node.args[0], ast.Constant):
            out.add(node.args[0].value)
    return out


def test_no_harness_module_imports_the_catalogue():
    here = os.path.join(ROOT, "harness")
    bad = [f"harness/{f}: {m}" for f in sorted(os.listdir(here)) if f.endswith(".py")
           for m in sorted(_imports(os.path.join(here, f))) if m == "checks" or m.startswith("checks.")]
    assert bad == [], "harness/ imports the catalogue (find it through harness.catalogue.source()):\n" + \
        "\n".join(bad)


def test_the_cli_and_workers_take_a_named_catalogue(plant, monkeypatch, capsys):
    from harness.cli import main

    monkeypatch.setenv(catalogue.ENV, "")  # restored after the test: main() sets it for its worker processes
    name = plant("cat_cli", {"a": "one"}, ["a"])
    assert main(["list", "--catalogue", name]) == 0
    assert "demo.one" in capsys.readouterr().out
    assert catalogue.source().__name__ == name  # what a worker process inherits
    assert main(["list", "--catalogue", "no_such_catalogue"]) == 2
    assert "'no_such_catalogue' is not an importable module" in capsys.readouterr().err
