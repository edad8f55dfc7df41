"""Server administration (/studio): settings, the block list, bans, the provider and its retired operations,
and the studio's status. Every change is checked here (Manage Server), not only by Discord, and audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.audit import AuditRecorder
from bot.core.blocklist import BlockList
from bot.core.catalog import Catalog, ProviderInfo
from bot.core.content_filter import BlockRule
from bot.core.jobs.registry import Registry
from bot.core.settings import SettingsBook
from bot.domain.audit import BanChanged, BlockRuleChanged, OperationReinstated, SettingsChanged
from bot.domain.errors import InvalidRequest, NotAllowed, NotFound
from bot.domain.models import GuildSettings, Operation, normalise_model
from bot.domain.ports import Ban, Clock, ModerationStore
from bot.domain.requester import Requester

# What /studio settings may change (the rest of GuildSettings belongs to /quota-admin).
STUDIO_SETTINGS = frozenset(
    {
        "allowed_channel_ids",
        "required_role_id",
        "remix_threads",
        "audit_channel_id",
        "default_model",
        "cooldown_s",
        "use_default_blocklist",
    }
)


def require_admin(who: Requester) -> None:
    """Admin commands are checked here too, not only by Discord's default permissions."""
    if not who.is_admin:
        raise NotAllowed("You need the Manage Server permission for this.")


@dataclass(frozen=True, slots=True)
class StudioStatus:
    provider: str
    healthy: bool
    detail: str
    queue_depth: int
    in_flight: int
    provider_credits: float | None
    retired: list[Operation]


class StudioAdmin:
    def __init__(
        self,
        *,
        settings: SettingsBook,
        blocklist: BlockList,
        store: ModerationStore,
        catalog: Catalog,
        registry: Registry,
        audit: AuditRecorder,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._blocklist = blocklist
        self._store = store
        self._catalog = catalog
        self._registry = registry
        self._audit = audit
        self._clock = clock

    def require_admin(self, who: Requester) -> None:
        """Refuse anyone without Manage Server (for commands that check before doing slow work)."""
        require_admin(who)

    # --- settings ------------------------------------------------------------------------------------------------
    async def settings(self, guild_id: int) -> GuildSettings:
        return await self._settings.get(guild_id)

    async def show_settings(self, who: Requester) -> GuildSettings:
        require_admin(who)
        return await self._settings.get(who.guild_id)

    async def update_settings(self, who: Requester, **changes: Any) -> GuildSettings:
        """Change any of the /studio settings; unknown or invalid values raise InvalidRequest."""
        require_admin(who)
        unknown = set(changes) - STUDIO_SETTINGS
        if unknown:
            raise InvalidRequest(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        if changes.get("default_model") is not None:
            if not self._catalog.models:
                raise InvalidRequest(f"The {self._catalog.provider_name} provider has no choice of model.")
            try:
                changes["default_model"] = normalise_model(changes["default_model"])
            except ValueError as exc:
                # Only the first letter: str.capitalize() would lowercase the model names it lists.
                text = str(exc)
                raise InvalidRequest(text[:1].upper() + text[1:] + ".") from None
        if "cooldown_s" in changes and not 0 <= float(changes["cooldown_s"]) <= 86_400:
            raise InvalidRequest("The cooldown must be between 0 seconds and 1 day.")
        entry = SettingsChanged.of(who.user_id, changes)
        current = await self._settings.get(who.guild_id)
        switching_audit_off = "audit_channel_id" in changes and changes["audit_channel_id"] is None
        if switching_audit_off and current.audit_channel_id is not None:
            # Written before the change: afterwards there is no audit channel left to say it was switched off.
            await self._audit.record(who.guild_id, entry)
        updated = await self._settings.save(current.model_copy(update=changes))
        if "use_default_blocklist" in changes:
            self._blocklist.forget(who.guild_id)
        await self._audit.record(who.guild_id, entry)
        return updated

    # --- the block list ------------------------------------------------------------------------------------------
    async def block_add(self, who: Requester, pattern: str, *, is_regex: bool) -> BlockRule:
        """Refuse a word, phrase or (validated, time-bounded) regular expression from now on."""
        require_admin(who)
        rule = await self._blocklist.add(who.guild_id, pattern, is_regex=is_regex, added_by=who.user_id)
        await self._audit.record(who.guild_id, BlockRuleChanged(who.user_id, rule.pattern, is_regex, added=True))
        return rule

    async def block_remove(self, who: Requester, pattern: str) -> str:
        """Stop refusing a rule: a regex exactly as listed, a word in any case. Returns the rule as it was stored."""
        require_admin(who)
        stored = await self._blocklist.remove(who.guild_id, pattern)
        await self._audit.record(who.guild_id, BlockRuleChanged(who.user_id, stored, False, added=False))
        return stored

    async def block_list(self, who: Requester) -> tuple[list[BlockRule], bool]:
        """The server's own rules, and whether the built-in list is on."""
        require_admin(who)
        return await self._blocklist.rules(who.guild_id)

    # --- bans ----------------------------------------------------------------------------------------------------
    async def ban(self, who: Requester, member_id: int, reason: str | None) -> None:
        require_admin(who)
        if member_id == who.user_id:
            raise InvalidRequest("You can't ban yourself.")
        await self._store.ban(who.guild_id, member_id, reason=reason, banned_by=who.user_id, now=self._clock.now())
        await self._audit.record(who.guild_id, BanChanged(who.user_id, member_id, banned=True, reason=reason))

    async def unban(self, who: Requester, member_id: int) -> None:
        require_admin(who)
        if not await self._store.unban(who.guild_id, member_id):
            raise NotFound("That member is not banned.")
        await self._audit.record(who.guild_id, BanChanged(who.user_id, member_id, banned=False))

    async def bans(self, guild_id: int) -> list[Ban]:
        return await self._store.bans(guild_id)

    # --- the provider --------------------------------------------------------------------------------------------
    def provider(self, who: Requester) -> ProviderInfo:
        """The active provider, its operations and which of them it retired."""
        require_admin(who)
        return self._catalog.describe()

    async def reinstate(self, who: Requester, operation: Operation) -> bool:
        """Switch an operation the provider retired back on (it may have returned, or answered 410 by mistake).
        False when it was not retired."""
        require_admin(who)
        if operation not in self._catalog.operations:
            raise InvalidRequest(
                f"{operation.label} isn't offered by the current music provider ({self._catalog.provider_name})."
            )
        if not await self._catalog.reinstate(operation):
            return False
        await self._audit.record(who.guild_id, OperationReinstated(who.user_id, self._catalog.provider_name, operation))
        return True

    async def status(self, who: Requester) -> StudioStatus:
        require_admin(who)
        credits: float | None = None
        healthy, detail = True, "answering"
        try:
            credits = await self._catalog.provider_credits()
        except Exception as exc:  # the status page reports the problem instead of failing
            healthy, detail = False, str(exc)
        return StudioStatus(
            provider=self._catalog.provider_name,
            healthy=healthy,
            detail=detail,
            queue_depth=self._registry.waiting(),
            in_flight=self._registry.at_provider(),
            provider_credits=credits,
            retired=sorted(self._catalog.operations - self._catalog.available()),
        )
