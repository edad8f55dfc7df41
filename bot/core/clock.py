"""The real clock: wall time from ``time.time``, waiting from asyncio. Tests inject a fake one instead."""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager
from typing import Any


class SystemClock:
    """The Clock port on the real world."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[Any]:
        # asyncio.timeout, not wait_for: no extra task (and loop turns) for every wait.
        return asyncio.timeout(seconds)
