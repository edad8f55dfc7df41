"""Mutation testing: run mutmut on each guarded module against the tests that guard it, and report.

``make mutation`` (or ``.venv/bin/python tools/mutation.py [MODULE ...]``). The modules and their tests are the
``[tool.tunesmith.mutation]`` table in pyproject.toml (one line per module); mutmut's shared settings are
``[tool.mutmut]``. Each module runs on its own, in ``mutants/<module>/`` (git-ignored): a generated pyproject.toml
that gives mutmut that one module and its tests, and links to ``bot/`` and ``tests/``, which mutmut copies into
``mutants/<module>/mutants/`` before mutating the copy. Nothing in the repository itself is written.

mutmut runs with one worker (``--max-children 1``) under ``nice``: the machine is shared. A module's run starts afresh
(earlier results are discarded, so a changed test counts) unless ``--keep`` is given.

The report counts, per module, mutants, killed (a test failed), timeouts (a mutant that made the tests hang: caught
too), survived, and how many survivors docs/mutation.md explains (a survivor is explained when its mutant name
appears there). Exit status 1 when a survivor is not explained or mutmut could not judge a mutant.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "mutants"
DOC = ROOT / "docs" / "mutation.md"
MUTMUT = Path(sys.executable).with_name("mutmut")
# mutmut's statuses that count as the tests noticing the mutant.
CAUGHT = frozenset({"killed", "timeout", "caught by type check"})
# Imported once by mutmut's fork server so that each mutant's fresh process only imports the project itself (a
# third of the time per mutant). Never a module of bot/ or tests/: those must be imported with the mutant active.
PRELOAD = (
    "pytest",
    "_pytest.python",
    "_pytest.assertion.rewrite",
    "pytest_asyncio.plugin",
    "_hypothesis_pytestplugin",
    "hypothesis",
    "anyio.pytest_plugin",
    "platformdirs.pytest_plugin",
    "simcord.pytest_plugin",
    "discord",
    "aiohttp",
    "httpx",
    "aiosqlite",
    "pydantic",
    "pydantic_settings",
    "regex",
    "prometheus_client",
)
_RESULT_LINE = re.compile(r"^\s+(\S+): (.+)$")
_NAME_IN_DOC = re.compile(r"`([^`\s]+__mutmut_\d+)`")


@dataclass(frozen=True)
class Module:
    path: str  # e.g. "bot/core/fair_queue.py"
    tests: tuple[str, ...]

    @property
    def name(self) -> str:
        """Dotted, as mutmut names its mutants: "bot.core.fair_queue"."""
        return self.path.removesuffix(".py").replace("/", ".")


@dataclass
class Outcome:
    module: Module
    statuses: dict[str, str] = field(default_factory=dict)  # mutant name -> mutmut's status
    seconds: float = 0.0
    explained: frozenset[str] = frozenset()

    def count(self, *statuses: str) -> int:
        return sum(1 for status in self.statuses.values() if status in statuses)

    @property
    def survivors(self) -> list[str]:
        return sorted(name for name, status in self.statuses.items() if status == "survived")

    @property
    def unexplained(self) -> list[str]:
        return [name for name in self.survivors if name not in self.explained]

    @property
    def stale(self) -> list[str]:
        """Mutants of this module that docs/mutation.md explains but a test now kills: their lines can go."""
        prefix = self.module.name + "."
        return sorted(n for n in self.explained if n.startswith(prefix) and self.statuses.get(n) != "survived")

    @property
    def unjudged(self) -> list[str]:
        """Mutants mutmut could not judge: no test ran them, suspicious, not checked, crashed."""
        return sorted(n for n, s in self.statuses.items() if s not in CAUGHT and s != "survived")


def load_project(
    pyproject: Path = ROOT / "pyproject.toml",
) -> tuple[list[Module], dict[str, object], dict[str, object]]:
    """The guarded modules, mutmut's shared settings and pytest's settings, from pyproject.toml."""
    data = tomllib.loads(pyproject.read_text("utf-8"))
    tool = data["tool"]
    table: Mapping[str, list[str]] = tool["tunesmith"]["mutation"]
    modules = [Module(path, tuple(tests)) for path, tests in table.items()]
    return modules, dict(tool.get("mutmut", {})), dict(tool["pytest"]["ini_options"])


def pick(modules: Sequence[Module], wanted: Iterable[str]) -> list[Module]:
    """The modules named on the command line (path, dotted name or last part: "fair_queue"), or all of them."""
    wanted = list(wanted)
    if not wanted:
        return list(modules)
    chosen: list[Module] = []
    for word in wanted:
        key = word.removesuffix(".py").replace("/", ".")
        matches = [m for m in modules if key in (m.name, m.name.rsplit(".", 1)[-1])]
        if not matches:
            names = ", ".join(m.name.rsplit(".", 1)[-1] for m in modules)
            raise SystemExit(f"mutation: no guarded module {word!r}; the modules are: {names}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def _toml(tables: Mapping[str, Mapping[str, object]]) -> str:
    """A TOML document of flat tables whose values are strings, numbers, booleans or lists of them.

    JSON's spelling of those values is also TOML's, so json.dumps writes each one.
    """
    lines: list[str] = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        for key, value in table.items():
            if isinstance(value, dict):
                raise ValueError(f"{name}.{key}: nested tables are not supported here")
            lines.append(f"{json.dumps(key)} = {json.dumps(value)}")
        lines.append("")
    return "\n".join(lines)


def staged_pyproject(module: Module, mutmut: Mapping[str, object], pytest: Mapping[str, object]) -> str:
    """The pyproject.toml mutmut reads in a module's directory: that module only, its tests only."""
    settings = {
        **mutmut,
        "only_mutate": [module.path],
        "pytest_add_cli_args_test_selection": list(module.tests),
        # every mutant of the module against all of these tests, fast ones first (see tools/mutation_plugin.py)
        "pytest_add_cli_args": [*mutmut.get("pytest_add_cli_args", []), "-p", "tools.mutation_plugin"],  # type: ignore[misc]
        "also_copy": [*mutmut.get("also_copy", []), "tools/"],  # type: ignore[misc]
        "preload_modules_file": "preload.txt",
    }
    return _toml({"tool.pytest.ini_options": pytest, "tool.mutmut": settings})


def stage(module: Module, mutmut: Mapping[str, object], pytest: Mapping[str, object], *, keep: bool) -> Path:
    """mutants/<module>/ with the generated pyproject.toml and links to the source and the tests."""
    where = WORK / module.name
    if where.exists() and not keep:
        shutil.rmtree(where)
    where.mkdir(parents=True, exist_ok=True)
    sources = [str(p) for p in mutmut.get("source_paths", ["bot"])]  # type: ignore[attr-defined]
    tops = {Path(p).parts[0] for p in [*sources, *module.tests, "tools"]}
    for top in sorted(tops):
        link = where / top
        if not link.exists():
            link.symlink_to(os.path.relpath(ROOT / top, where), target_is_directory=(ROOT / top).is_dir())
    (where / "pyproject.toml").write_text(staged_pyproject(module, mutmut, pytest), "utf-8")
    (where / "preload.txt").write_text("\n".join(PRELOAD) + "\n", "utf-8")
    return where


def _run_quietly(command: list[str], cwd: Path, log: Path) -> int:
    """Run ``command`` in its own process group, output to ``log``; the group is ended if we are interrupted."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return process.wait()
        except BaseException:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            raise


def parse_results(text: str) -> dict[str, str]:
    """``mutmut results --all true`` output -> {mutant name: status}."""
    statuses: dict[str, str] = {}
    for line in text.splitlines():
        match = _RESULT_LINE.match(line)
        if match:
            statuses[match[1]] = match[2].strip()
    return statuses


def explained_names(doc_text: str) -> frozenset[str]:
    """Mutant names that docs/mutation.md lists (in backticks) with the reason they change nothing observable."""
    return frozenset(_NAME_IN_DOC.findall(doc_text))


def run_module(module: Module, mutmut: Mapping[str, object], pytest: Mapping[str, object], *, keep: bool) -> Outcome:
    where = stage(module, mutmut, pytest, keep=keep)
    log = where / "mutmut.log"
    print(f"== {module.path}: mutmut against {' '.join(module.tests)} (log: {log.relative_to(ROOT)})", flush=True)
    started = time.monotonic()
    code = _run_quietly(["nice", "-n", "10", str(MUTMUT), "run", "--max-children", "1"], where, log)
    seconds = time.monotonic() - started
    if code != 0:
        tail = log.read_text("utf-8", "replace").splitlines()[-15:]
        raise SystemExit(
            f"mutation: mutmut failed on {module.path} (exit {code}); the end of {log}:\n" + "\n".join(tail)
        )
    listed = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"], cwd=where, capture_output=True, text=True, check=True
    )
    doc = DOC.read_text("utf-8") if DOC.exists() else ""
    return Outcome(module, parse_results(listed.stdout), seconds, explained_names(doc))


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def report(outcomes: Sequence[Outcome]) -> str:
    header = ("module", "mutants", "killed", "timeout", "survived", "explained", "unjudged", "time")
    rows = [header]
    for o in outcomes:
        rows.append(
            (
                o.module.path,
                str(len(o.statuses)),
                str(o.count("killed", "caught by type check")),
                str(o.count("timeout")),
                str(len(o.survivors)),
                str(len(o.survivors) - len(o.unexplained)),
                str(len(o.unjudged)),
                _minutes(o.seconds),
            )
        )
    totals = Counter[str]()
    for row in rows[1:]:
        for column, value in zip(header[1:-1], row[1:-1], strict=True):
            totals[column] += int(value)
    rows.append(("total", *(str(totals[c]) for c in header[1:-1]), _minutes(sum(o.seconds for o in outcomes))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def _show(module: Module, names: Sequence[str]) -> None:
    where = WORK / module.name
    for name in names:
        shown = subprocess.run([str(MUTMUT), "show", name], cwd=where, capture_output=True, text=True)
        print(shown.stdout.rstrip() or f"# {name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules to run (e.g. fair_queue); all of them when none is named")
    parser.add_argument("--keep", action="store_true", help="keep earlier results and retest only changed code")
    parser.add_argument("--list", action="store_true", help="list the guarded modules and their tests, run nothing")
    args = parser.parse_args(argv)
    modules, mutmut, pytest = load_project()
    chosen = pick(modules, args.modules)
    if args.list:
        for module in chosen:
            print(f"{module.path}: {' '.join(module.tests)}")
        return 0
    outcomes = [run_module(module, mutmut, pytest, keep=args.keep) for module in chosen]
    print()
    print(report(outcomes))
    failed = False
    for outcome in outcomes:
        if outcome.unexplained:
            failed = True
            print(f"\n{outcome.module.path}: {len(outcome.unexplained)} survivor(s) not explained in docs/mutation.md:")
            _show(outcome.module, outcome.unexplained)
        if outcome.stale:
            print(
                f"\n{outcome.module.path}: no longer survive, remove from docs/mutation.md: {', '.join(outcome.stale)}"
            )
        if outcome.unjudged:
            failed = True
            statuses = ", ".join(f"{n} ({outcome.statuses[n]})" for n in outcome.unjudged)
            print(f"\n{outcome.module.path}: mutmut could not judge: {statuses}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
