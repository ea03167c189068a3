"""The reproduced stream against another JAX release than the pinned one, in its own environment.

``.venv-jax-<version>`` (ignored by git, reused once made) holds that jax / jaxlib, downloaded by pip, and the
project's own numpy / scipy / ml_dtypes / opt_einsum (symlinked, see _envs.py); the harness comes from the checkout.
Default release: 0.4.38 (the last 0.4: non-partitionable default, x^3 r fused in log1p); more with
``PARITY_JAX_VERSIONS="0.4.38 0.5.3 0.7.2"``. Measured by hand on this machine (README): 0.4.38, 0.5.0, 0.5.3,
0.6.2, 0.7.2, 0.8.3, 0.9.2, 0.10.2 and (Python 3.12) 0.11.2 -- every eggroll.rng check passes under the detected mode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from parity_tests._envs import ROOT, clean_env, closure, shim

VERSIONS = os.environ.get("PARITY_JAX_VERSIONS", "0.4.38").split()
EXPECTED_MODE = {"0.4": "0.4", "0.5": "0.5", "0.6": "0.5", "0.7": "0.7", "0.8": "0.8", "0.9": "0.8", "0.10": "0.8"}


def _venv(version: str):
    path = ROOT / f".venv-jax-{version}"
    py = path / "bin" / "python"
    stamp = path / ".ready"
    if stamp.exists():
        return py
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = closure(("numpy", "scipy", "ml_dtypes", "opt_einsum"), exclude=("jax", "jaxlib"))
    with open(os.path.join(site, "_parity_shim.pth"), "w") as f:
        f.write(str(shim(path / "shim", deps)) + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-compile", "-q",
                        f"jax=={version}", f"jaxlib=={version}"], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
        pytest.skip(f"jax {version} could not be installed here (no index?): {r.stderr.strip().splitlines()[-1:]}")
    stamp.write_text(version)
    return py


def _check(py, *args):
    return subprocess.run([str(py), "-m", "harness", "check", "-k", "eggroll.rng", "--impl", "numpy,jax",
                           "--no-controls", *args], capture_output=True, text=True, cwd=ROOT, timeout=900,
                          env=clean_env(PYTHONPATH=str(ROOT)))


@pytest.mark.parametrize("version", VERSIONS)
def test_eggroll_rng_checks_pass_on_another_jax_release(version):
    py = _venv(version)
    r = _check(py)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    mode = EXPECTED_MODE[".".join(version.split(".")[:2])]
    assert f"JAX stream semantics {mode} (" in out and f"installed JAX {version}" in out, out
    for name in ("eggroll.rng.keys", "eggroll.rng.bits", "eggroll.rng.normal", "eggroll.rng.normal.fast"):
        assert any(line.split()[:5] == [name, "jax", "vs", "numpy", "pass"] for line in out.splitlines()), out


@pytest.mark.parametrize("version", [v for v in VERSIONS if v.startswith("0.4.")])
def test_the_mode_matters_a_0_8_stream_fails_against_jax_0_4(version):
    """Negative control: the stream must follow the release. Stating 0.8 for jax 0.4 makes the NumPy side fuse
    log1p as 0.8 does while jax 0.4 does not: eggroll.rng.normal diverges and says so."""
    r = _check(_venv(version), "--jax-semantics", "0.8")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "PARITY: eggroll.rng.normal [jax vs numpy]" in r.stdout
