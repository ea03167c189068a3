"""The package where its users run it: a non-editable wheel in a fresh virtual environment, used from a directory
outside the checkout -- the pytest plugin (entry point), the ``parity`` CLI, the golden files shipped in the wheel --
by a torch-only user (no jax, jaxlib or ml_dtypes at all) and a JAX-only user (no torch). How the environments are
made fast, and what that leaves untested, is in ``parity_tests/_envs.py``.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from parity_tests._envs import JAX_ONLY, NOT_JAX, NOT_TORCH, TORCH_ONLY, build_wheel, clean_env, fresh_venv

PORTS = textwrap.dedent('''
    """A user's torch port of the toy area (their own package, outside the harness's checkout)."""
    import torch

    from harness.base import Implementation


    def softmax(logits, axis=-1):
        return torch.softmax(logits, dim=axis)


    def cross_entropy(logits, target):
        return torch.mean(-torch.sum(target * torch.log_softmax(logits, dim=-1), dim=-1))


    PORT = Implementation("userport", "torch", {"toy.softmax": softmax, "toy.cross_entropy": cross_entropy})
    BROKEN = Implementation("userbroken", "torch", {"toy.softmax": lambda x, axis=-1: torch.softmax(-x, dim=axis),
                                                   "toy.cross_entropy": cross_entropy})
''')


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def user_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("user_repo")
    (repo / "mypkg").mkdir()
    (repo / "mypkg" / "__init__.py").write_text("")
    (repo / "mypkg" / "parity.py").write_text(PORTS)
    return repo


def _run(py: Path, args, cwd: Path):
    return subprocess.run([str(py), *args], capture_output=True, text=True, cwd=cwd, env=clean_env(), timeout=600)


def test_torch_only_install_runs_the_plugin_and_the_cli_outside_the_checkout(tmp_path, wheel, user_repo):
    py = fresh_venv(tmp_path / "venv", TORCH_ONLY, NOT_JAX, wheel)
    probe = _run(py, ["-c", "import harness, importlib.util as u; print(harness.__file__); "
                            "print([m for m in ('jax', 'jaxlib', 'ml_dtypes', 'flax') if u.find_spec(m)])"], user_repo)
    assert probe.returncode == 0, probe.stderr
    where, present = probe.stdout.splitlines()
    assert str(tmp_path / "venv") in where, f"harness imported from {where}, not the installed wheel"
    assert present == "[]", f"the torch-only environment has {present}"

    # the plugin, registered by the wheel's pytest11 entry point, collects the catalogue against the user's ports
    # (one process: a correct port passes against the oracle, torch and the golden files; a broken one is caught)
    r = _run(py, ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf", "--parity-port", "mypkg.parity:PORT",
                  "--parity-port", "mypkg.parity:BROKEN", "--parity-golden", "-k", "toy.math.softmax and user"],
             user_repo)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    failed = sorted(line.split(" - ")[0] for line in out.splitlines() if line.startswith("FAILED"))
    assert failed and all("userbroken" in f for f in failed), out
    assert any("userbroken-vs-golden" in f for f in failed), out
    assert "3 failed, 3 passed" in out, out  # userport and userbroken each vs numpy, torch, golden
    assert "PARITY: toy.math.softmax [userbroken vs golden]" in out

    cli = _run(py.parent / "parity", ["list", "-k", "toy"], user_repo)  # the console script
    assert cli.returncode == 0 and "toy.math.softmax" in cli.stdout, cli.stdout + cli.stderr


def test_jax_only_install_checks_the_jax_reference_against_golden_files(tmp_path, wheel, user_repo):
    py = fresh_venv(tmp_path / "venv", JAX_ONLY, NOT_TORCH, wheel)
    r = _run(py, ["-m", "harness", "check", "-k", "toy.math or eggroll.rng.keys", "--golden", "--no-controls"],
             user_repo)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "torch: not installed" in out
    assert "jax vs golden" in out and "torch vs" not in out
