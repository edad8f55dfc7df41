"""Real processes for the tests that start many, forked from one that has already imported the bot.

Some tests start whole processes again and again: the bot's dozen lives in ``tests/playground/test_posted_once.py``
(each SIGKILLed at a chosen moment), three engines on one database, processes racing to migrate or to admit. Each
is a process of its own (its own pid, memory, database connections and sockets; SIGKILL takes it alone, mid-write),
exactly as ``python ...`` would start it, but a new interpreter pays about 1.5 s of CPU to import discord.py,
aiohttp, httpx, pydantic and the bot before doing anything: most of what those processes cost the suite. So they
are forked from a multiprocessing fork server that imported all that once (:data:`PRELOAD`, once per pytest
worker), and each one then runs its entry point with its own arguments, environment, folder and standard streams.

:class:`Forked` mirrors ``asyncio.subprocess.Process`` (``stdin``, ``stdout``, ``stderr``, ``wait``,
``communicate``, ``send_signal``, ``kill``, ``pid``, ``returncode``), so a test swaps
``asyncio.create_subprocess_exec(sys.executable, "-c", CODE, ...)`` for ``Forked.python("-c", CODE, ...)``.

The real interpreter start of ``python -m bot`` (argument parsing, the one-line startup errors, ``make run``) stays
covered by the tests that spawn it (tests/unit/test_startup_errors.py, tests/playground/test_launch.py).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import importlib
import multiprocessing
import os
import runpy
import signal
import socket
import sys
from collections.abc import Mapping
from multiprocessing.process import BaseProcess
from pathlib import Path

# What the fork server imports before its first fork: what the forked processes run (a module left out is imported
# by each process instead, which is correct, only slower).
PRELOAD = [
    "bot.__main__",
    "bot.app",
    "bot.bench_cluster",
    "bot.providers.fuzz",
    "bot.storage.postgres",
    "bot.storage.store",
    "tests.playground.bot_process",
    "tests.storage.test_store_contract",
]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)

Streams = tuple[socket.socket, socket.socket, socket.socket]


def _child(
    how: str,
    target: str,
    argv: list[str],
    env: dict[str, str],
    cwd: str | None,
    log: str | None,
    streams: Streams | None,
) -> None:
    """In the new process: its standard streams (the log file, or the parent's sockets), environment (the
    starting test's, as a subprocess inherits it, not the fork server's) and folder, then ``target`` as
    ``python -c``, ``python -m`` or a call of ``module:function`` (its return is the status)."""
    if log is not None:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    elif streams is not None:
        for number, stream in enumerate(streams):
            os.dup2(stream.fileno(), number)
            stream.close()
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 (multiprocessing left /dev/null)
    # Line-buffered, as the tests' line protocols expect (a new interpreter's PYTHONUNBUFFERED is read at start).
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    if cwd is not None:
        os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    if how == "-c":
        sys.argv = ["-c", *argv]
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__", "__builtins__": builtins})
    elif how == "-m":
        sys.argv = [target, *argv]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = [target, *argv]
        module, _, function = target.partition(":")
        sys.exit(getattr(importlib.import_module(module), function)())


class Forked:
    """One forked process, used as an ``asyncio.subprocess.Process`` is."""

    def __init__(self, process: BaseProcess) -> None:
        self._process = process
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        self._ended: asyncio.Future[None] | None = None  # set once the process has ended (what wait() awaits)

    @classmethod
    async def python(
        cls, how: str, target: str, *argv: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Forked:
        """``python -c CODE ARGS...`` or ``python -m MODULE ARGS...``, with stdin, stdout and stderr as pipes."""
        if how not in ("-c", "-m"):
            raise ValueError(f"python {how}: only -c and -m")
        return await cls._start(how, target, argv, env=env, cwd=cwd, log=None)

    @classmethod
    async def call(
        cls, entry: str, *argv: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, log: Path
    ) -> Forked:
        """``module:function()`` (its return is the exit status, as ``main`` returns it), with stdout and stderr
        appended to ``log``."""
        return await cls._start("call", entry, argv, env=env, cwd=cwd, log=log)

    @classmethod
    async def _start(
        cls,
        how: str,
        target: str,
        argv: tuple[str, ...],
        *,
        env: Mapping[str, str] | None,
        cwd: Path | None,
        log: Path | None,
    ) -> Forked:
        pairs = [] if log is not None else [socket.socketpair() for _ in range(3)]
        streams: Streams | None = (pairs[0][1], pairs[1][1], pairs[2][1]) if pairs else None
        environment = dict(os.environ if env is None else env)
        process = _context.Process(
            target=_child,
            args=(how, target, list(argv), environment, cwd and str(cwd), log and str(log)),
            kwargs={"streams": streams},
            daemon=True,
        )
        try:
            # start() blocks until the fork server has forked the child (the first time, until it has imported
            # PRELOAD): off the event loop, which may be serving what the child connects to.
            await asyncio.to_thread(process.start)
        finally:
            for _, theirs in pairs:
                theirs.close()  # the child has its own copies; ours would keep its output from ever ending
        forked = cls(process)
        if pairs:
            forked.stdin = (await asyncio.open_connection(sock=pairs[0][0]))[1]
            forked.stdout, forked.stderr = await _reader(pairs[1][0]), await _reader(pairs[2][0])
        return forked

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        """The exit status once the process has ended (negative: the signal that ended it). Any number of callers
        may wait at once, and one that is cancelled does not stop the others."""
        if self._process.exitcode is None:
            if self._ended is None:
                loop = asyncio.get_running_loop()
                ended = self._ended = loop.create_future()
                sentinel = self._process.sentinel

                def readable() -> None:  # the process is gone: its sentinel pipe closed
                    loop.remove_reader(sentinel)
                    if not ended.done():
                        ended.set_result(None)

                loop.add_reader(sentinel, readable)
            await asyncio.shield(self._ended)
            await asyncio.to_thread(self._process.join)
        if self.stdin is not None:
            self.stdin.close()  # no one reads it any more; what the process wrote stays readable until its end
        code = self._process.exitcode
        assert code is not None
        return code

    async def communicate(self, data: bytes | None = None) -> tuple[bytes, bytes]:
        """Send ``data`` (then end of input), read stdout and stderr to their end, wait for the exit."""
        if self.stdin is not None:
            if data:
                self.stdin.write(data)
                with contextlib.suppress(ConnectionError):
                    await self.stdin.drain()
            self.stdin.close()

        async def read(stream: asyncio.StreamReader | None) -> bytes:
            return b"" if stream is None else await stream.read()

        out, err = await asyncio.gather(read(self.stdout), read(self.stderr))
        await self.wait()
        return out, err


async def _reader(ours: socket.socket) -> asyncio.StreamReader:
    """Our end of a child's output stream. Read as a pipe is (asyncio.subprocess does the same), so the transport
    closes itself once the child's end is closed and everything it wrote has been read."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), ours)
    return reader
