"""Per-route rate limits with Discord's headers, and the global limit.

Discord counts requests per token, per route bucket and per top-level resource (a channel, a guild, a
webhook): sending messages is about 5 per 5 seconds per channel. Every answer carries the bucket's state in
``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`` so a client can wait before it is refused; a client
that goes over gets ``429`` with ``retry_after`` (and ``X-RateLimit-Scope``). discord.py honours these headers,
so the bot slows down here exactly as it would on Discord instead of failing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from bot.playground.errors import JSON


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int
    per: float  # seconds


MESSAGE_CREATE = Limit("message-create", 5, 5.0)
MESSAGE_EDIT = Limit("message-edit", 5, 5.0)
MESSAGE_DELETE = Limit("message-delete", 5, 1.0)
WEBHOOK = Limit("interaction-webhook", 5, 2.0)
INTERACTION_CALLBACK = Limit("interaction-callback", 20, 1.0)
THREAD_CREATE = Limit("thread-create", 5, 5.0)
DEFAULT = Limit("default", 25, 1.0)
GLOBAL_PER_SECOND = 50


@dataclass
class _Window:
    count: int
    resets_at: float


@dataclass(frozen=True)
class Verdict:
    """What one request got: its headers, and whether it was refused (``retry_after`` seconds)."""

    headers: dict[str, str]
    retry_after: float | None = None
    scope: str = "user"

    def body(self) -> JSON:
        return {
            "message": "You are being rate limited.",
            "retry_after": round(self.retry_after or 0.0, 3),
            "global": self.scope == "global",
        }


class RateLimiter:
    """Fixed windows per (who, bucket, resource); a window opens on its first request."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._global: dict[str, _Window] = {}

    def check(self, who: str, limit: Limit, resource: str, *, exempt_from_global: bool = False) -> Verdict:
        now = self._clock()
        self._forget(now)
        if not exempt_from_global:
            window = self._global.get(who)
            if window is None or window.resets_at <= now:
                window = self._global[who] = _Window(0, now + 1.0)
            if window.count >= GLOBAL_PER_SECOND:
                retry = window.resets_at - now
                headers = {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global", **_retry(retry)}
                return Verdict(headers, retry, "global")
            window.count += 1
        key = (who, limit.name, resource)
        window = self._windows.get(key)
        if window is None or window.resets_at <= now:
            window = self._windows[key] = _Window(0, now + limit.per)
        reset_after = max(window.resets_at - now, 0.0)
        headers = {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Remaining": str(max(limit.limit - window.count - 1, 0)),
            "X-RateLimit-Reset": f"{window.resets_at:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            # One hash per route, shared by every resource, as Discord's are.
            "X-RateLimit-Bucket": hashlib.sha1(limit.name.encode()).hexdigest()[:32],
        }
        if window.count >= limit.limit:
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Scope"] = "user"
            headers.update(_retry(reset_after))
            return Verdict(headers, reset_after, "user")
        window.count += 1
        return Verdict(headers)

    def _forget(self, now: float) -> None:
        # Expired windows are dropped now and then, so the table stays as small as the traffic of the last seconds.
        if len(self._windows) > 4096:
            self._windows = {k: w for k, w in self._windows.items() if w.resets_at > now}
        if len(self._global) > 4096:
            self._global = {k: w for k, w in self._global.items() if w.resets_at > now}


def _retry(seconds: float) -> dict[str, str]:
    # Retry-After is whole seconds (rounded up); the body's retry_after has the precision.
    whole = int(seconds) + (0 if seconds == int(seconds) else 1)
    return {"Retry-After": str(max(whole, 1)), "Via": "1.1 google"}
