"""One declaration per area: every spec.py and its three framework modules agree (names, signatures,
docstring first lines, constants defined once), and a planted mismatch is reported by name."""

from __future__ import annotations

import importlib.util
import inspect
import types

import pytest

from reference import _contract

INSTALLED = [fw for fw in _contract.FRAMEWORKS if fw == "numpy" or importlib.util.find_spec(fw) is not None]
CASES = [(s.package, fw) for s in _contract.specs() for fw in INSTALLED]


def _spec(package: str) -> _contract.Spec:
    return next(s for s in _contract.specs() if s.package == package)


@pytest.mark.parametrize(("package", "framework"), CASES, ids=[f"{p.split('.', 1)[1]}-{fw}" for p, fw in CASES])
def test_implementation_keeps_the_spec(package, framework):
    spec = _spec(package)
    mod = _contract.implementation_module(spec, framework)
    if mod is None:
        pytest.skip(f"{spec.module_name(framework)}: an optional dependency is not installed")
    assert _contract.mismatches(spec, mod) == []


@pytest.mark.parametrize("package", [s.package for s in _contract.specs()])
def test_spec_declares_its_area(package):
    spec = _spec(package)
    assert spec.area == package.split(".")[1]  # sub-packages share their area's prefix
    assert spec.functions, f"{spec.path} declares no component"
    for name, stub in spec.functions.items():
        assert _contract.first_line(stub), f"{spec.path}: {name} has no docstring"
    assert (spec.module.__doc__ or "").strip(), f"{spec.path}: no module docstring (the area's header)"


@pytest.mark.parametrize(("package", "framework"), CASES, ids=[f"{p.split('.', 1)[1]}-{fw}" for p, fw in CASES])
def test_constants_are_defined_once(package, framework):
    """An implementation that names a spec constant imports it (the same object), never a copy."""
    spec = _spec(package)
    mod = _contract.implementation_module(spec, framework)
    if mod is None:
        pytest.skip(f"{spec.module_name(framework)}: an optional dependency is not installed")
    consts = {n: v for n, v in vars(spec.module).items() if n.isupper() and not n.startswith("_") and n != "AREA"}
    copies = [n for n, v in consts.items() if n in vars(mod) and vars(mod)[n] is not v]
    assert not copies, f"{mod.__name__} redefines {copies} of {spec.module.__name__}: import them"


def test_components_are_the_declared_names():
    for fw in INSTALLED:
        comps = _contract.components(fw)
        for spec in _contract.specs():
            if _contract.implementation_module(spec, fw) is None:
                continue
            for name in spec.functions:
                assert comps[f"{spec.area}.{name}"] is getattr(_contract.implementation_module(spec, fw), name)


# -- planted mismatches: each is reported by name ------------------------------------------------------

TOY = _spec("reference.toy")
GOOD = '''
def softmax(logits, axis=-1):
    """softmax(logits) along ``axis``, max-shifted."""

def cross_entropy(logits, target):
    """mean over the batch of -sum(target * log_softmax(logits))."""

def argmax(values):
    """index of the largest value per row, first index on ties (int64)."""
'''


def _planted(source: str) -> types.ModuleType:
    mod = types.ModuleType("reference.toy.planted_ref")
    exec(compile(source, "<planted>", "exec"), mod.__dict__)
    return mod


def test_planted_module_that_keeps_the_contract_passes():
    assert _contract.mismatches(TOY, _planted(GOOD)) == []
    assert set(_contract.check_module(TOY, _planted(GOOD + "\ndef _helper(x):\n    pass\n"))) == set(TOY.functions)


def test_renamed_parameter_is_named():
    bad = GOOD.replace("def softmax(logits, axis=-1):", "def softmax(logits, dim=-1):")
    (msg,) = _contract.mismatches(TOY, _planted(bad))
    assert "reference.toy.planted_ref.softmax" in msg and "dim=-1" in msg and "axis=-1" in msg
    assert "reference.toy.spec.softmax" in msg


def test_changed_default_is_named():
    (msg,) = _contract.mismatches(TOY, _planted(GOOD.replace("axis=-1", "axis=0", 1)))
    assert "softmax" in msg and "axis=0" in msg


def test_missing_function_is_named():
    bad = GOOD[:GOOD.index("def argmax")]
    with pytest.raises(_contract.ContractError) as e:
        _contract.check_module(TOY, _planted(bad))
    assert "reference.toy.planted_ref" in str(e.value) and "'argmax'" in str(e.value)
    assert "reference.toy.spec" in str(e.value)


def test_extra_public_function_is_named():
    bad = GOOD + '\ndef argmax_last(values):\n    """last index on ties."""\n'
    with pytest.raises(_contract.ContractError) as e:
        _contract.check_module(TOY, _planted(bad))
    assert "'argmax_last'" in str(e.value) and "reference.toy.spec" in str(e.value)
    assert "reference.toy.planted_ref" in str(e.value)


def test_imported_function_is_not_extra():
    mod = _planted("from math import sqrt\nfrom reference.toy.np_ref import softmax as np_softmax\n" + GOOD)
    assert _contract.mismatches(TOY, mod) == []


def test_docstring_first_line_is_compared():
    bad = GOOD.replace("first index on ties (int64).", "last index on ties (int64).")
    (msg,) = _contract.mismatches(TOY, _planted(bad))
    assert "reference.toy.planted_ref.argmax" in msg and "first index on ties" in msg


def test_discovery_reports_an_extra_function_of_a_real_module(monkeypatch):
    from reference.toy import np_ref

    def leaked(values):
        return values

    leaked.__module__ = np_ref.__name__
    monkeypatch.setattr(np_ref, "leaked", leaked, raising=False)
    with pytest.raises(_contract.ContractError, match=r"reference\.toy\.np_ref.*'leaked'.*reference\.toy\.spec"):
        _contract.components("numpy")


def test_discovery_reports_a_missing_function_of_a_real_module(monkeypatch):
    from reference.toy import np_ref

    monkeypatch.delattr(np_ref, "cross_entropy")
    msg = r"reference\.toy\.np_ref: lacks 'cross_entropy' declared in reference\.toy\.spec"
    with pytest.raises(_contract.ContractError, match=msg):
        _contract.components("numpy")


def test_signature_compare_sees_kinds():
    bad = GOOD.replace("def argmax(values):", "def argmax(*values):")
    (msg,) = _contract.mismatches(TOY, _planted(bad))
    assert "*values" in msg and inspect.Parameter.VAR_POSITIONAL.description not in msg
