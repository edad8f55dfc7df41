"""Issue 9.14 (make part) and 9.17: ``make test`` runs every check and names every failure; a bare ``make`` lists
the targets; ``make lint`` has a recipe. The checks are swapped for stand-ins through their make variables, so
this runs the real Makefile without running the suite inside itself."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}}
    # -o: the installed venv counts as up to date, so nothing is (re)installed here.
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_test_runs_every_check_and_names_each_failure() -> None:
    result = make(
        "test", "CHECK_PYTEST=false", "CHECK_RUFF=echo ruff-ran", "CHECK_IMPORTS=false", "CHECK_TYPES=echo mypy-ran"
    )
    assert result.returncode != 0
    assert "ruff-ran" in result.stdout and "mypy-ran" in result.stdout  # the rest still ran after pytest failed
    assert "FAILED: pytest lint-imports" in result.stdout


def test_make_test_passes_when_every_check_passes() -> None:
    result = make(
        "test", "CHECK_PYTEST=echo pytest-ran", "CHECK_RUFF=true", "CHECK_IMPORTS=echo imports-ran", "CHECK_TYPES=true"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pytest-ran" in result.stdout and "imports-ran" in result.stdout and "FAILED" not in result.stdout


def test_make_lint_runs_the_static_checks() -> None:
    result = make("lint", "CHECK_RUFF=echo ruff-ran", "CHECK_IMPORTS=false", "CHECK_TYPES=true")
    assert result.returncode != 0 and "ruff-ran" in result.stdout and "FAILED: lint-imports" in result.stdout


def test_a_bare_make_lists_the_targets() -> None:
    result = make()
    assert result.returncode == 0
    for target in ("run", "test", "lint", "bench", "sandbox", "clean"):
        assert f"make {target} " in result.stdout, target
