"""Shared fixtures: a SQLite file in a temporary folder for everything that stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import pg


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tunesmith.sqlite3"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # One clear line when the PostgreSQL tests could not run here (tests/pg.py; under CI=true they fail instead).
    for line in pg.skipped_reason:
        terminalreporter.write_line(line, yellow=True)
