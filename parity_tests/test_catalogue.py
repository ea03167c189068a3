"""The catalogue's tests (shipped in ``harness/pytest_catalogue.py``), collected from this repository's tree.

``parity_catalogue = in-tree`` (pyproject.toml) tells the pytest plugin not to collect them a second time.
Run one with ``./run test -k '<check>'``.
"""

from harness.pytest_catalogue import (  # noqa: F401 - collected here
    test_catalogue_is_not_empty,
    test_control,
    test_controls_target_known_implementations,
    test_every_check_has_a_negative_control,
    test_fuzz,
    test_parity,
)
