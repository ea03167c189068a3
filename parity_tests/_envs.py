"""Fresh virtual environments for the install tests, built in seconds instead of minutes.

A real user install (``pip install "backend-parity[torch]" -c constraints.txt`` into an empty venv) took 2 min 04 s
on this 2-core machine, most of it unpacking torch: too slow to repeat on every CI run. The trick, and why it
still tests what a user gets:

- the package itself is built as a wheel from the checkout and installed **non-editable** with ``--no-deps`` into
  a venv created with ``--without-pip`` (so only the wheel's files, entry points and package data are there);
- its dependencies are the project's own pinned distributions, already installed in ``.venv``, exposed through one
  ``.pth`` line pointing at a *shim* directory of symlinks to exactly the distributions a torch-only (or JAX-only)
  user would have: the transitive requirement closure of the chosen roots, read from the installed metadata, minus
  the other framework. Nothing else of ``.venv`` (not jax / jaxlib / ml_dtypes for torch-only, not torch for
  JAX-only, not the editable checkout) is importable there, and commands run from a directory outside the checkout
  with ``PYTHONPATH`` cleared.
What it does not test is pip's resolution of the version ranges against an index; the ranges are checked against
constraints.txt by ``test_packaging.py``, and the full install was run once by hand (figures in the README).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
TORCH_ONLY = ("numpy", "scipy", "hypothesis", "pytest", "torch")
JAX_ONLY = ("numpy", "scipy", "hypothesis", "pytest", "jax", "jaxlib", "flax", "optax")
NOT_TORCH = ("torch",)
NOT_JAX = ("jax", "jaxlib", "ml-dtypes", "flax", "optax", "mctx", "chex", "orbax-checkpoint", "tensorstore")


def closure(roots, exclude=()) -> dict[str, md.Distribution]:
    """The installed distributions of ``roots`` and everything they require (markers evaluated, no extras)."""
    ex = {canonicalize_name(e) for e in exclude}
    seen: dict[str, md.Distribution] = {}
    todo = list(roots)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen or name in ex:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(req.name)
    return seen


def shim(directory: Path, dists: dict[str, md.Distribution]) -> Path:
    """Symlinks to the top-level files / packages / dist-info of ``dists`` (a site directory for a .pth line)."""
    directory.mkdir(parents=True, exist_ok=True)
    for dist in dists.values():
        site = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in (dist.files or []) if not str(f).startswith("..")}
        for top in tops:
            src, dst = site / top, directory / top
            if src.exists() and not dst.exists() and top != "__pycache__":
                dst.symlink_to(src)
    return directory


# left out of the copy a wheel is built from: environments, caches, and setuptools' build/ (whose build/lib keeps
# modules deleted from the checkout: a wheel built in place would ship them)
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "build", "*.egg-info", "__pycache__", ".hypothesis",
                                    ".ruff_cache", "reports", ".pytest_cache")


def build_wheel(out: Path) -> Path:
    """The package as a wheel, from a copy of the checkout's sources (no build isolation: setuptools of .venv,
    offline)."""
    src = out / "src"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(src)], check=True, capture_output=True, text=True)
    wheels = sorted(out.glob("backend_parity-*.whl"))
    assert wheels, f"no wheel built in {out}"
    return wheels[-1]


def fresh_venv(path: Path, roots, exclude, wheel: Path | None = None) -> Path:
    """A venv holding the wheel (non-editable, --no-deps) and a shim of ``closure(roots, exclude)``; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    py = path / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_parity_shim.pth").write_text(str(shim(path / "shim", closure(roots, exclude))) + "\n")
    if wheel is not None:
        subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                        "--no-compile", "-q", str(wheel)], check=True, capture_output=True, text=True)
    return py


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "HYPOTHESIS_PROFILE")}
    env.update(extra)
    return env
