"""This repository's pytest set-up: a thin user of the package's plugin (``harness.pytest_plugin``).

The installed package registers the plugin (entry point ``pytest11`` named ``harness.pytest_plugin``); listing the
same module name here loads it when the package is not installed (PYTHONPATH runs) and is a no-op otherwise, so it
is never registered twice. The catalogue's tests are collected from ``parity_tests/test_catalogue.py``
(``parity_catalogue = in-tree`` in pyproject.toml). Options: ``pytest --help`` (group "parity"); hypothesis profiles
ci / dev / fuzz (aliases of parity-ci / parity-dev / parity-fuzz; default ci).
"""

pytest_plugins = ["harness.pytest_plugin"]
