"""Package layout (metadata is in pyproject.toml): the code packages, and the golden files of fixtures/ shipped
as the package data ``harness.golden`` so that ``--golden`` works from a non-editable install."""

from setuptools import find_packages, setup

CODE = find_packages(include=["harness", "harness.*", "reference", "reference.*", "checks", "checks.*"])

setup(
    packages=CODE + ["harness.golden"],
    package_dir={"harness.golden": "fixtures"},
    package_data={"harness.golden": ["**/*.npz", "**/*.json"],
                  "reference.rng": ["_native.c"]},  # the torch stream's optional C kernels, compiled on first use
    include_package_data=False,
)
