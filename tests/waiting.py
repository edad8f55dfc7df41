"""Waiting in real time for something another task or process changes, when it offers no event to await."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(predicate: Callable[[], T | Awaitable[T]], *, timeout: float = 30.0, interval: float = 0.02) -> T:
    """Check ``predicate`` (plain or async) until it is truthy and return its value; TimeoutError after ``timeout``
    (generous: a loaded machine only makes the wait longer; a passing test never waits it out).

    The wait ends as soon as the condition holds: no test sleeps a fixed time hoping something has happened."""
    async with asyncio.timeout(timeout):
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value  # type: ignore[return-value]
            await asyncio.sleep(interval)
