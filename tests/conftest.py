"""Shared fixtures (a SQLite file in a temporary folder for everything that stores), and the order tests run in
(tests/scheduling.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from xdist.workermanage import Producer

from tests import pg, scheduling


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tunesmith.sqlite3"


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> scheduling.HeavyLane | None:
    # `-n N` alone asks for xdist's "load" scheduling: ours instead. Another --dist gets what it names.
    return scheduling.HeavyLane(config, log) if config.getvalue("dist") == "load" else None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # One clear line when the PostgreSQL tests could not run here (tests/pg.py; under CI=true they fail instead).
    for line in pg.skipped_reason:
        terminalreporter.write_line(line, yellow=True)
