"""This repository's pytest set-up: a thin user of the package's plugin (``harness.pytest_plugin``).

The installed package registers the plugin (entry point ``pytest11`` named ``harness.pytest_plugin``); listing the
same module name here loads it when the package is not installed (PYTHONPATH runs) and is a no-op otherwise, so it
is never registered twice. The catalogue's tests are collected from ``parity_tests/test_catalogue.py``
(``parity_catalogue = in-tree`` in pyproject.toml). Options: ``pytest --help`` (group "parity"); hypothesis profiles
ci / dev / fuzz (aliases of parity-ci / parity-dev / parity-fuzz; default ci).
"""

pytest_plugins = ["harness.pytest_plugin"]


def pytest_cmdline_main(config):
    """Under pytest-xdist (``-n N``) distribute by group: the items of checks that share an input generator
    (and so a cached run: one JAX compile, one torch.distributed group) go to one worker (``--dist loadgroup``,
    groups set in parity_tests/conftest.py). An explicit ``--dist`` is kept."""
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") == "no":
        config.option.dist = "loadgroup"
