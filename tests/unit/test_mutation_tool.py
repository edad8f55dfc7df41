"""``make mutation``'s tool (tools/mutation.py): what it gives mutmut, and how it counts and explains survivors.

mutmut itself is not run here (a full run takes many minutes); its own configuration reader is, on the file the tool
writes, so a mutmut upgrade that renames a setting fails here and not silently in a slow run.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def test_every_guarded_module_and_its_tests_exist() -> None:
    modules, mutmut, _pytest = tool.load_project()
    paths = [m.path for m in modules]
    for required in (
        "bot/core/content_filter.py",
        "bot/web/signatures.py",
        "bot/core/fair_queue.py",
        "bot/core/credits.py",
        "bot/core/admission.py",
    ):
        assert required in paths
    for module in modules:
        assert (ROOT / module.path).is_file(), module.path
        assert module.tests, module.path
        for test in module.tests:
            assert (ROOT / test).exists(), test
    assert all((ROOT / p).is_dir() for p in mutmut["source_paths"])


def test_the_staged_configuration_gives_mutmut_one_module_and_its_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules, mutmut, pytest_options = tool.load_project()
    module = tool.pick(modules, ["signatures"])[0]
    text = tool.staged_pyproject(module, mutmut, pytest_options)
    parsed = tomllib.loads(text)
    assert parsed["tool"]["pytest"]["ini_options"] == pytest_options  # the tests run as in `make test`
    (tmp_path / "pyproject.toml").write_text(text, "utf-8")
    monkeypatch.chdir(tmp_path)
    from mutmut.configuration import _load_config

    config = _load_config()
    assert config.only_mutate == ["bot/web/signatures.py"]
    assert config.pytest_add_cli_args_test_selection == list(module.tests)
    assert config.source_paths == [Path("bot")]
    assert config.should_mutate("bot/web/signatures.py") and not config.should_mutate("bot/web/server.py")
    # each mutant is imported afresh with the mutant active, and faces every test of the module (the plugin)
    assert (config.process_isolation.value, config.forkserver_warmup.value) == ("forkserver", "import")
    assert config.pytest_add_cli_args[-2:] == ["-p", "tools.mutation_plugin"]
    assert (ROOT / "tools" / "mutation_plugin.py").is_file()


def test_the_fork_server_never_preloads_the_project() -> None:
    """What the fork server imports is imported with no mutant active: never code that is mutated or tests it."""
    assert tool.PRELOAD
    assert not [name for name in tool.PRELOAD if name.split(".")[0] in {"bot", "cogs", "tests", "tools"}]


def test_modules_are_picked_by_path_dotted_name_or_last_part() -> None:
    modules, _, _ = tool.load_project()
    for word in ("fair_queue", "bot.core.fair_queue", "bot/core/fair_queue.py"):
        assert [m.path for m in tool.pick(modules, [word])] == ["bot/core/fair_queue.py"]
    assert tool.pick(modules, []) == modules
    with pytest.raises(SystemExit, match="no guarded module 'credit'"):
        tool.pick(modules, ["credit"])


MUTMUT_RESULTS = """\
    bot.web.signatures.x_verify__mutmut_1: killed
    bot.web.signatures.x_verify__mutmut_2: survived
    bot.web.signatures.x_verify__mutmut_3: survived
    bot.web.signatures.x_verify__mutmut_4: timeout
    bot.web.signatures.x_sign__mutmut_1: no tests
"""


def test_survivors_are_counted_and_matched_against_the_explanations() -> None:
    statuses = tool.parse_results(MUTMUT_RESULTS)
    assert len(statuses) == 5
    doc = "| `bot.web.signatures.x_verify__mutmut_2` | log text only |\nnot a name: x_verify__mutmut_3\n"
    module = tool.Module("bot/web/signatures.py", ("tests/web/test_signatures.py",))
    outcome = tool.Outcome(module, statuses, 65.0, tool.explained_names(doc))
    assert outcome.survivors == ["bot.web.signatures.x_verify__mutmut_2", "bot.web.signatures.x_verify__mutmut_3"]
    assert outcome.unexplained == ["bot.web.signatures.x_verify__mutmut_3"]
    assert outcome.unjudged == ["bot.web.signatures.x_sign__mutmut_1"]
    killed_since = tool.Outcome(
        module, statuses, 1.0, tool.explained_names(doc + "`bot.web.signatures.x_verify__mutmut_1`")
    )
    assert killed_since.stale == ["bot.web.signatures.x_verify__mutmut_1"]  # explained, but a test kills it now
    table = tool.report([outcome]).splitlines()
    assert table[0].split() == ["module", "mutants", "killed", "timeout", "survived", "explained", "unjudged", "time"]
    assert table[1].split() == ["bot/web/signatures.py", "5", "1", "1", "2", "1", "1", "1m05s"]
    assert table[2].split() == ["total", "5", "1", "1", "2", "1", "1", "1m05s"]


def test_every_mutant_named_in_the_doc_is_a_mutant_of_a_guarded_module() -> None:
    modules, _, _ = tool.load_project()
    names = tool.explained_names((ROOT / "docs" / "mutation.md").read_text("utf-8"))
    prefixes = tuple(m.name + "." for m in modules)
    assert names, "docs/mutation.md names no mutant"
    assert all(name.startswith(prefixes) for name in names)
