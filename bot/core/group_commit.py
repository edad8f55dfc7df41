"""Group commit: writes that arrive together share one transaction.

Each transaction costs several round trips to the database thread (BEGIN, the statements, COMMIT) whatever its
size, so a burst of finished jobs written one by one costs N times what it costs written together. The first
item starts a flush ``linger`` seconds later; everything added meanwhile, or while that flush commits, joins
the batch. A few milliseconds of linger are invisible next to Discord's latency and turn a burst of webhooks
into a handful of transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Spawn = Callable[[Coroutine[Any, Any, None]], None]
Timeout = Callable[[float], AbstractAsyncContextManager[Any]]


class GroupCommit(Generic[T]):
    """Collects items and hands them to ``write`` in batches; :meth:`add` returns a future for the item's batch.

    ``spawn`` runs the flush as a background task (the owner's, so stopping the owner cancels it). A failed write
    fails the future of every item in that batch; the next batch is written regardless. ``timeout`` bounds the
    linger (the Clock's, so a fake clock drives it in tests).
    """

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        spawn: Spawn,
        linger: float = 0.0,
        timeout: Timeout = asyncio.timeout,
    ) -> None:
        self._write = write
        self._spawn = spawn
        self._linger = linger
        self._timeout = timeout
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._hurry = asyncio.Event()  # set by drain(): cut the linger short
        self._idle = asyncio.Event()  # clear while a flush is scheduled or running
        self._idle.set()

    def add(self, item: T) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, waiter))
        if self._idle.is_set():
            self._idle.clear()
            self._spawn(self._flush())
        return waiter

    async def drain(self) -> None:
        """Write what is pending now, without waiting out the linger, and return once it is stored."""
        if not self._idle.is_set():
            self._hurry.set()
            await self._idle.wait()

    async def _flush(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        try:
            if self._linger > 0 and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    async with self._timeout(self._linger):
                        await self._hurry.wait()
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._write([item for item, _ in batch])
                except Exception as exc:
                    for _, waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            self._hurry.clear()
            self._idle.set()
            # Cancelled mid-flush (the owner stopping): whoever waits must not wait forever.
            for _, waiter in (*batch, *self._pending):
                if not waiter.done():
                    waiter.cancel()
            self._pending = []
