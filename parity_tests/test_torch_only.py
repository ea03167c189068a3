"""A torch-only user: JAX (and flax, optax, mctx) absent, golden files stand in for the JAX reference."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BLOCK = ("import sys\n"
         "for m in ('jax', 'jaxlib', 'flax', 'optax', 'mctx', 'chex'):\n"
         "    sys.modules[m] = None  # import fails as if not installed\n"
         "from harness.cli import main\n"
         "sys.exit(main(sys.argv[1:]))\n")


def _parity(*args):
    return subprocess.run([sys.executable, "-c", BLOCK, *args], capture_output=True, text=True, cwd=ROOT)


def test_torch_only_port_checked_against_golden_files():
    r = _parity("check", "-k", "toy", "--golden", "--no-controls", "--port", "parity_tests.example_ports:GOOD")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "jax: not installed" in r.stdout
    assert "goodport vs golden" in r.stdout and " jax " not in r.stdout.replace("jax: not installed", "")


def test_torch_only_broken_port_fails_against_golden_files():
    r = _parity("check", "-k", "toy.math.softmax", "--golden", "--no-controls", "--port",
                "parity_tests.example_ports:BROKEN")
    assert r.returncode == 1
    assert "PARITY: toy.math.softmax [brokenport vs golden]" in r.stdout


def test_catalogue_loads_without_jax():
    r = _parity("list")
    assert r.returncode == 0, r.stderr
    assert "does not import" not in r.stdout + r.stderr
