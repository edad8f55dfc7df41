"""Confirmations: a job costing more than the server's threshold is started only once its member says so.

Admission raises ConfirmationNeeded (every other rule passed, nothing reserved); the ui holds what the member
asked for here and shows "This costs N credits (you have M left) · Confirm / Cancel". Confirm runs admission
again with the quoted cost as a ceiling (a price raised meanwhile asks again). A confirmation is for its member
only, works once, and expires after ``ttl_s`` (the balance and the price may have moved on); held in memory, so a
restart expires it too, and the buttons then say so.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.errors import NotAllowed, NotFound
from bot.domain.ports import Clock
from bot.domain.requester import Requester

CONFIRM_TTL_S = 600.0  # ten minutes: well inside an interaction's 15, and long enough to read the price
HELD_MAX = 10_000

EXPIRED = "This confirmation expired (or was already used); run the command again. Nothing was charged."


@dataclass(frozen=True, slots=True)
class Pending:
    """What a member asked for, waiting for Confirm: ``action`` and ``args`` say how the ui starts it again."""

    token: str
    guild_id: int
    user_id: int
    operation: str
    cost: int
    remaining: int
    action: str
    args: Mapping[str, Any] = field(default_factory=dict)
    expires_at: float = 0.0


class Confirmations:
    def __init__(self, clock: Clock, *, ttl_s: float = CONFIRM_TTL_S, limit: int = HELD_MAX) -> None:
        self._clock = clock
        self._ttl = ttl_s
        self._limit = limit
        self._held: OrderedDict[str, Pending] = OrderedDict()

    def hold(
        self, who: Requester, *, operation: str, cost: int, remaining: int, action: str, args: Mapping[str, Any]
    ) -> Pending:
        """Keep a request until its member confirms it (or it expires); returns it with its token."""
        now = self._clock.now()
        self._prune(now)
        pending = Pending(
            token=secrets.token_hex(8),
            guild_id=who.guild_id,
            user_id=who.user_id,
            operation=operation,
            cost=cost,
            remaining=remaining,
            action=action,
            args=dict(args),
            expires_at=now + self._ttl,
        )
        self._held[pending.token] = pending
        while len(self._held) > self._limit:
            self._held.popitem(last=False)
        return pending

    def take(self, token: str, who: Requester) -> Pending:
        """The request behind a Confirm, once: NotFound when it expired or was used, NotAllowed for another member."""
        pending = self._held.get(token)
        if pending is None or pending.expires_at <= self._clock.now() or pending.guild_id != who.guild_id:
            self._held.pop(token, None)
            raise NotFound(EXPIRED)
        if pending.user_id != who.user_id:
            raise NotAllowed("Only the member who asked can confirm this.")
        del self._held[token]
        return pending

    def cancel(self, token: str, who: Requester) -> bool:
        """Drop a held request (its member's Cancel); False when there was nothing to drop."""
        pending = self._held.get(token)
        if pending is None or pending.user_id != who.user_id:
            return False
        del self._held[token]
        return True

    def _prune(self, now: float) -> None:
        # Held in the order they were made, all with the same lifetime: the expired ones are at the front.
        while self._held:
            token, pending = next(iter(self._held.items()))
            if pending.expires_at > now:
                break
            del self._held[token]

    def __len__(self) -> int:
        return len(self._held)
