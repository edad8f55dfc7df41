"""Servers' settings, with the operator's defaults for servers that set none: read once, then from memory.

Every admission needs them and only /studio and /quota-admin change them (through :meth:`SettingsBook.save`),
so this is the one owner of the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.models import CONFIRM_ABOVE_DEFAULT, DEFAULT_COSTS, GuildSettings, Operation, Period
from bot.domain.ports import SettingsStore


@dataclass(frozen=True, slots=True)
class Defaults:
    """The operator's defaults for servers that have not set their own (from Settings)."""

    budget: int = 1000
    period: Period = Period.MONTH
    member_cap: int | None = None
    max_jobs_member: int = 2
    max_jobs_server: int = 10
    costs: dict[Operation, int] = field(default_factory=dict)
    confirm_above: int = CONFIRM_ABOVE_DEFAULT

    def settings_for(self, guild_id: int) -> GuildSettings:
        return GuildSettings(
            guild_id=guild_id,
            budget=self.budget,
            period=self.period,
            member_cap=self.member_cap,
            max_jobs_member=self.max_jobs_member,
            max_jobs_server=self.max_jobs_server,
            confirm_above=self.confirm_above,
        )

    def costs_in(self, settings: GuildSettings) -> dict[Operation, int]:
        """The prices in force in a server: the operator's defaults, then the server's overrides."""
        merged = dict(self.costs or DEFAULT_COSTS)
        merged.update(settings.costs)
        return merged


class SettingsBook:
    """A server's settings, cached; written through :meth:`save` so the cache always follows the store."""

    def __init__(self, store: SettingsStore, defaults: Defaults | None = None) -> None:
        self._store = store
        self.defaults = defaults or Defaults()
        self._cache: dict[int, GuildSettings] = {}
        self._costs: dict[int, tuple[GuildSettings, dict[Operation, int]]] = {}  # prices, per settings in force

    async def get(self, guild_id: int) -> GuildSettings:
        cached = self._cache.get(guild_id)
        if cached is None:
            cached = await self._store.guild_settings(guild_id) or self.defaults.settings_for(guild_id)
            self._cache[guild_id] = cached
        return cached

    async def save(self, settings: GuildSettings) -> GuildSettings:
        await self._store.save_settings(settings)
        self._cache[settings.guild_id] = settings
        return settings

    def stored(self, settings: GuildSettings) -> None:
        """Settings another store call just wrote (e.g. inside a period reset): the cache follows."""
        self._cache[settings.guild_id] = settings

    def forget(self, guild_id: int) -> None:
        """Another process changed this server's settings (bot/core/jobs/cluster.py): read them again next time."""
        self._cache.pop(guild_id, None)
        self._costs.pop(guild_id, None)

    def costs(self, settings: GuildSettings) -> dict[Operation, int]:
        """The prices in force in a server (the operator's defaults, then the server's own); do not modify."""
        known = self._costs.get(settings.guild_id)
        if known is None or known[0] is not settings:
            known = self._costs[settings.guild_id] = (settings, self.defaults.costs_in(settings))
        return known[1]
