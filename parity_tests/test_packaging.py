"""Package metadata: ranges in pyproject.toml, exact pins only in constraints.txt, and the pins inside the ranges."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from parity_tests._envs import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def _requirements():
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    for _extra, items in PROJECT["optional-dependencies"].items():
        reqs += [Requirement(r) for r in items if not r.startswith("backend-parity")]
    return reqs


def test_python_versions_declared():
    assert PROJECT["requires-python"] == ">=3.11"
    for v in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {v}" in PROJECT["classifiers"]


def test_ranges_in_metadata_pins_in_constraints():
    pins = _pins()
    extras = PROJECT["optional-dependencies"]
    assert set(extras) >= {"torch", "jax", "mctx", "all"}
    for req in _requirements():
        assert not any(s.operator == "==" for s in req.specifier), f"exact pin in pyproject.toml: {req}"
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} has no tested version in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"constraints.txt pins {name} {pins[name]} " \
                                                                     f"outside the declared range {req}"
    assert pins["torch"] == "2.13.0"  # the CPU wheel (see the README); never a range that pulls CUDA builds


def _interpreter(version: str) -> str | None:
    found = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))  # pyenv's shims may refuse to run
    if found:
        return str(found[-1])
    exe = shutil.which(f"python{version}")
    return exe if exe and ".pyenv/shims" not in exe else None


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_package_source_compiles_on_newer_pythons(version, tmp_path):
    exe = _interpreter(version)
    if not exe:
        pytest.skip(f"Python {version} is not installed here")
    r = subprocess.run([exe, "-m", "compileall", "-q", "harness", "reference", "checks"], cwd=ROOT,
                       capture_output=True, text=True, env={"PYTHONPYCACHEPREFIX": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
