"""Real processes for the tests that kill and restart the bot, forked from one that has already imported it.

A test like ``tests/playground/test_posted_once.py`` starts the bot a dozen times and SIGKILLs it at chosen
moments. Each life is a process of its own (its own pid, memory, database connections and sockets; SIGKILL takes
it alone, mid-write), exactly as ``python -m bot`` would be, but importing discord.py, aiohttp, httpx and the bot
costs about 1.5 s of CPU per start: most of what those lives cost the suite. So the lives are forked from a
multiprocessing fork server that imported all that once (:data:`PRELOAD`), and each one then runs the same entry
point ``python -m bot`` runs, with its own environment, folder and log file.

The real ``python -m bot`` start (argument parsing, the one-line startup errors, ``make run``) stays covered by
the tests that spawn it as a new interpreter (tests/unit/test_startup_errors.py, tests/playground/test_launch.py).
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Mapping
from multiprocessing.process import BaseProcess
from pathlib import Path

# What the fork server imports before its first fork: everything a bot life needs (a module left out is imported
# by each life instead, which is correct, only slower).
PRELOAD = [
    "bot.__main__",
    "bot.app",
    "bot.storage.store",
    "bot.storage.postgres",
    "bot.providers.fuzz",
    "tests.playground.bot_process",
]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


def _child(entry: str, argv: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    """In the new process: its output to ``log``, its own environment and folder, then ``entry`` (module:function,
    returning the exit status as ``main`` does)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [entry, *argv]
    module, _, function = entry.partition(":")
    sys.exit(getattr(importlib.import_module(module), function)())


class Forked:
    """One forked process: its pid, a signal, and an awaitable exit status (like asyncio's subprocess)."""

    def __init__(self, process: BaseProcess) -> None:
        self._process = process

    @classmethod
    async def start(
        cls, entry: str, *, env: Mapping[str, str], cwd: Path, log: Path, argv: tuple[str, ...] = ()
    ) -> Forked:
        process = _context.Process(target=_child, args=(entry, list(argv), dict(env), str(cwd), str(log)), daemon=True)
        # start() blocks until the fork server has forked the child (the first time, until it has imported PRELOAD):
        # off the event loop, which may be serving the Discord the bot connects to.
        await asyncio.to_thread(process.start)
        return cls(process)

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def send_signal(self, sig: signal.Signals) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, sig)

    async def wait(self) -> int:
        """The exit status once the process has ended (negative: the signal that ended it)."""
        if self._process.exitcode is None:
            loop = asyncio.get_running_loop()
            ended = loop.create_future()
            sentinel = self._process.sentinel
            loop.add_reader(sentinel, lambda: ended.done() or ended.set_result(None))
            try:
                await ended
            finally:
                loop.remove_reader(sentinel)
            await asyncio.to_thread(self._process.join)
        code = self._process.exitcode
        assert code is not None
        return code
