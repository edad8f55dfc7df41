"""A pytest plugin for ``make mutation`` only: every mutant faces every test that guards its module.

mutmut runs the selected tests once ("stats") to learn which tests call which function, and later runs a mutant
only against the tests that called its function. That narrowing is wrong for code behind a cache or run at import
time: the content filter compiles each term once (``functools.lru_cache``) and builds its regex probes when the module
is imported, so only the first test to get there was credited, and a mutant there met one test instead of the dozens
that depend on it. Here every test of the module's selection is credited with every function of the module, so a
mutant runs against all of them (stopping at the first failure). Tests run in the order of the selection in
pyproject.toml (fast unit tests first), then file order, so most mutants fail fast.

Loaded by tools/mutation.py through mutmut's ``pytest_add_cli_args``; it does nothing outside mutmut's stats run
except ordering the tests.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if os.environ.get("MUTANT_UNDER_TEST") != "stats":
        return
    from mutmut.state import state  # only importable where mutmut runs

    current = state()
    # mutmut's own teardown hook (after this one) credits the test with every function in this set.
    current._stats.update(current.current_function_hashes)


def _selection(root: Path) -> list[str]:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
        return list(data["tool"]["mutmut"]["pytest_add_cli_args_test_selection"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selection = _selection(config.rootpath)

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        matches = [
            i for i, chosen in enumerate(selection) if path == chosen or path.startswith(chosen.rstrip("/") + "/")
        ]
        return matches[0] if matches else len(selection)

    items.sort(key=rank)  # stable: file order inside each part of the selection
