"""Shared fixtures (a SQLite file in a temporary folder for everything that stores), the order tests run in
(tests/scheduling.py), and the garbage collector kept off what lives for the whole run."""

from __future__ import annotations

import atexit
import gc
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


def pytest_collection_finish(session: pytest.Session) -> None:
    # What is imported and collected by now (discord.py, the bot, ~1600 test items: some 200k objects) lives until
    # the process ends: keep it out of the full collections that run between tests, each of which would walk it all
    # again. Garbage made later is collected as usual.
    gc.freeze()


def pytest_configure(config: pytest.Config) -> None:
    # At exit, after pytest's own last collection (its check for unraisable exceptions), the interpreter would walk a
    # worker's whole heap again and again while unloading modules: seconds per worker that the run waits for.
    atexit.register(gc.freeze)
