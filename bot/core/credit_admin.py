"""Credits as members and admins handle them (/quota, /quota-admin): what is left, budgets, member caps,
grants, prices and early resets. Every change is checked here (Manage Server) and audited."""

from __future__ import annotations

from bot.core.audit import AuditRecorder
from bot.core.catalog import Offer
from bot.core.credits import Quota, period_key, quota_of
from bot.core.settings import SettingsBook
from bot.core.studio import require_admin
from bot.domain.audit import BudgetChanged, CostChanged, DefaultCapChanged, Granted, MemberCapChanged, PeriodReset
from bot.domain.errors import InvalidRequest
from bot.domain.models import GuildSettings, Operation, Period
from bot.domain.ports import Clock, CreditStore
from bot.domain.requester import Requester

GRANT_MAX = 1_000_000
COST_MAX = 100_000


class CreditAdmin:
    def __init__(
        self, *, store: CreditStore, settings: SettingsBook, catalog: Offer, audit: AuditRecorder, clock: Clock
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._settings = settings
        self._audit = audit
        self._clock = clock

    async def quota(self, guild_id: int, user_id: int) -> Quota:
        """The server's and the member's credits left in the current period, and what each operation costs."""
        now = self._clock.now()
        settings = await self._settings.get(guild_id)
        key = period_key(now, settings.period, settings.reset_epoch)
        balances = await self._store.balances(guild_id, user_id, key)
        # Members see the prices of what this provider offers (a Producer server is not shown Sonic's tools).
        offered = self._catalog.operations
        costs = {op: cost for op, cost in self._settings.costs(settings).items() if op in offered}
        return quota_of(settings, balances, now=now, costs=costs)

    async def set_server_budget(self, who: Requester, budget: int, period: Period | None = None) -> GuildSettings:
        require_admin(who)
        if budget < 0:
            raise InvalidRequest("The budget can't be negative.")
        changes: dict[str, object] = {"budget": budget}
        if period is not None:
            changes["period"] = period
        updated = await self._change(who, changes)
        await self._audit.record(who.guild_id, BudgetChanged(who.user_id, budget, period))
        return updated

    async def set_member_cap(self, who: Requester, member_id: int, cap: int | None) -> None:
        require_admin(who)
        if cap is not None and cap < 0:
            raise InvalidRequest("The cap can't be negative.")
        await self._store.set_member_cap(who.guild_id, member_id, cap)
        await self._audit.record(who.guild_id, MemberCapChanged(who.user_id, member_id, cap))

    async def set_default_member_cap(self, who: Requester, cap: int | None) -> GuildSettings:
        require_admin(who)
        if cap is not None and cap < 0:
            raise InvalidRequest("The cap can't be negative.")
        updated = await self._change(who, {"member_cap": cap})
        await self._audit.record(who.guild_id, DefaultCapChanged(who.user_id, cap))
        return updated

    async def grant(self, who: Requester, amount: int, member_id: int | None = None, note: str | None = None) -> int:
        """Add credits to the server's current period, or to one member's allowance. Returns the new total."""
        require_admin(who)
        if amount == 0 or abs(amount) > GRANT_MAX:
            raise InvalidRequest("Grant between 1 and 1,000,000 credits (negative to take some back).")
        now = self._clock.now()
        settings = await self._settings.get(who.guild_id)
        key = period_key(now, settings.period, settings.reset_epoch)
        await self._store.grant(
            who.guild_id, amount, key, member_id=member_id, actor_id=who.user_id, now=now, note=note
        )
        await self._audit.record(who.guild_id, Granted(who.user_id, amount, member_id))
        quota = await self.quota(who.guild_id, member_id or who.user_id)
        return quota.member_remaining if member_id and quota.member_remaining is not None else quota.server_remaining

    async def set_cost(self, who: Requester, operation: Operation, cost: int) -> GuildSettings:
        require_admin(who)
        if not 0 <= cost <= COST_MAX:
            raise InvalidRequest("A cost must be between 0 and 100,000 credits.")
        current = await self._settings.get(who.guild_id)
        updated = await self._change(who, {"costs": {**current.costs, operation: cost}})
        await self._audit.record(who.guild_id, CostChanged(who.user_id, operation, cost))
        return updated

    async def reset_period(self, who: Requester) -> GuildSettings:
        """Start a fresh period now: every balance goes back to its full budget."""
        require_admin(who)
        now = self._clock.now()
        current = await self._settings.get(who.guild_id)
        updated = current.model_copy(update={"reset_epoch": current.reset_epoch + 1})
        key = period_key(now, updated.period, updated.reset_epoch)
        await self._store.reset_period(updated, key, actor_id=who.user_id, now=now)
        self._settings.stored(updated)
        await self._audit.record(who.guild_id, PeriodReset(who.user_id))
        return updated

    async def _change(self, who: Requester, changes: dict[str, object]) -> GuildSettings:
        current = await self._settings.get(who.guild_id)
        return await self._settings.save(current.model_copy(update=changes))
