"""The service the cogs and buttons call: one method per thing a member or an admin can do.

It turns raw values into domain requests, applies the server's rules (bans, channels, roles, cooldown, blocked
content) before anything is spent, and keeps the admin settings, tracks and lineage. Discord stays outside.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.core.content_filter import BlockRule, ContentFilter, validate_regex, validate_word
from bot.core.credits import Quota, period_key
from bot.core.engine import Admission, Engine, Requester
from bot.domain.errors import InvalidRequest, NotAllowed, NotFound, ProviderError, TunesmithError
from bot.domain.models import (
    LYRICS_MAX,
    SOUND_MAX,
    DraftedLyrics,
    GuildSettings,
    Job,
    LedgerKind,
    MusicRequest,
    Operation,
    Period,
    Track,
    build_request,
    normalise_model,
)
from bot.domain.ports import AuditEntry, AuditLog, Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

HISTORY_PAGE = 10
# Provider moderation failures by one member that make the audit log raise a note.
MODERATION_STRIKES = 3
MODERATION_WINDOW_S = 600.0


class _NoAudit:
    async def record(self, guild_id: int, entry: AuditEntry) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Lineage:
    ancestors: list[Track]  # root first, direct parent last
    track: Track
    children: list[Track]


@dataclass(frozen=True, slots=True)
class StudioStatus:
    provider: str
    healthy: bool
    detail: str
    queue_depth: int
    in_flight: int
    provider_credits: float | None
    retired: list[Operation]


def _excerpt(text: str | None, limit: int = 80) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Studio:
    def __init__(
        self,
        engine: Engine,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock = time.time,
        audit: AuditLog | None = None,
    ) -> None:
        self.engine = engine
        self._uow = uow
        self._clock = clock
        self.audit: AuditLog = audit or _NoAudit()
        self._filters: dict[int, ContentFilter] = {}
        self._strikes: dict[tuple[int, int], deque[float]] = defaultdict(deque)

    # --- generation --------------------------------------------------------------------------------------------
    async def generate(
        self,
        who: Requester,
        operation: Operation,
        values: Mapping[str, Any],
        *,
        track_id: int | None = None,
        filename: str | None = None,
    ) -> tuple[Admission, Track | None]:
        """Validate, check the server's rules, reserve credits and queue the job. Raises before spending."""
        self.engine.ensure_available(operation)
        fields = {k: v for k, v in values.items() if v is not None and v != ""}
        parent: Track | None = None
        if operation.derived or operation is Operation.DOWNLOAD:
            if track_id is None:
                raise InvalidRequest("Pick a track to start from.")
            parent = await self.track(who.guild_id, track_id)
            fields["clip_id"] = parent.clip_id
            if operation in (Operation.VARIATION, Operation.EXTEND) and "sound" not in fields and parent.tags:
                # Providers that emulate these (FUZZ) resubmit the parent's style; others ignore it.
                fields["sound"] = parent.tags[:SOUND_MAX]
            if operation is Operation.VARIATION and parent.lyrics and "lyrics" not in fields:
                fields["lyrics"] = parent.lyrics[:LYRICS_MAX]
        request = build_request(operation, **fields)
        request = await self._with_default_model(who.guild_id, request)
        try:
            admission = await self.engine.admit(
                who,
                request,
                parent_track_id=parent.id if parent else None,
                precheck=lambda uow, settings: self._precheck(uow, settings, who, request, filename),
            )
        except TunesmithError as exc:
            await self._audit_refusal(who, operation, request, exc)
            raise
        # The audit entry is written when the job ends (one per job, with its outcome).
        return admission, parent

    async def _with_default_model(self, guild_id: int, request: MusicRequest) -> MusicRequest:
        if not hasattr(request, "model") or getattr(request, "model", None) or not self.engine.provider.models:
            return request
        async with self._uow(write=False) as uow:
            settings = await self.engine.guild_settings(uow, guild_id)
        if settings.default_model:
            return request.model_copy(update={"model": settings.default_model})
        return request

    async def _precheck(
        self,
        uow: UnitOfWork,
        settings: GuildSettings,
        who: Requester,
        request: MusicRequest,
        filename: str | None,
    ) -> None:
        """The server's rules, run inside the admission's unit of work before anything is written, so nothing is
        spent when one refuses."""
        ban = await uow.moderation.ban_of(who.guild_id, who.user_id)
        if ban is not None:
            reason = f" Reason: {ban['reason']}" if ban.get("reason") else ""
            raise NotAllowed(f"You are banned from making music in this server.{reason}")
        if not who.is_admin:
            allowed = settings.allowed_channel_ids
            # A thread belongs to its channel: remix threads and any thread under an allowed channel are fine.
            if allowed and who.channel_id not in allowed and who.parent_channel_id not in allowed:
                channels = ", ".join(f"<#{c}>" for c in allowed)
                raise NotAllowed(f"Music can't be made in this channel. Try {channels}.")
            if settings.required_role_id and settings.required_role_id not in who.role_ids:
                raise NotAllowed(f"You need the <@&{settings.required_role_id}> role to make music here.")
            if settings.cooldown_s > 0:
                last = await uow.jobs.last_created_at(who.guild_id, who.user_id)
                wait = (last or 0.0) + settings.cooldown_s - self._clock()
                if last is not None and wait > 0:
                    raise NotAllowed(f"Slow down a little: you can start another song in {wait:.0f} s.")
        content_filter = await self._filter(uow, settings)
        content_filter.check(
            {
                "style": getattr(request, "sound", None),
                "lyrics": getattr(request, "lyrics", None),
                # Before the title: an upload's title defaults to its file name, and the member should be told
                # about the name they chose, not about a title they never typed.
                "filename": _file_name_text(filename) if filename else None,
                "title": getattr(request, "title", None),
                "idea": getattr(request, "idea", None),
            }
        )

    async def _filter(self, uow: UnitOfWork, settings: GuildSettings) -> ContentFilter:
        cached = self._filters.get(settings.guild_id)
        if cached is None:
            rows = await uow.moderation.blocked_terms(settings.guild_id)
            rules = [BlockRule(pattern=r["pattern"], is_regex=bool(r["is_regex"]), id=r["id"]) for r in rows]
            cached = ContentFilter(rules, include_defaults=settings.use_default_blocklist)
            self._filters[settings.guild_id] = cached
        return cached

    async def _audit_refusal(self, who: Requester, operation: Operation, request: MusicRequest, exc: Exception) -> None:
        rule = getattr(exc, "rule", None)
        await self.audit.record(
            who.guild_id,
            AuditEntry(
                actor_id=who.user_id,
                action="refused",
                summary=f"{operation.label}: {_describe(request, None)}",
                outcome=str(exc),
                credits=0,
                admin_note=f"rule hit: {rule}" if rule else None,
            ),
        )

    async def draft_lyrics(self, who: Requester, idea: str) -> tuple[Job, list[DraftedLyrics]]:
        """Check the server's rules, then draft lyrics (a job like any other: charged, audited, refunded)."""
        self.engine.ensure_available(Operation.LYRICS)
        request = build_request(Operation.LYRICS, idea=idea)
        try:
            async with self._uow(write=False) as uow:
                settings = await self.engine.guild_settings(uow, who.guild_id)
                await self._precheck(uow, settings, who, request, None)
            job, drafts = await self.engine.draft_lyrics(who, idea)
        except ProviderError as exc:
            # The job was admitted and the engine refunded it; the notifier never sees lyrics jobs, so the
            # audit entry is written here.
            await self.audit.record(
                who.guild_id,
                AuditEntry(
                    actor_id=who.user_id,
                    action=f"{Operation.LYRICS.value} finished",
                    summary=_excerpt(idea, 100),
                    outcome=f"failed: {exc} (credits returned)",
                    credits=0,
                ),
            )
            raise
        except TunesmithError as exc:
            await self._audit_refusal(who, Operation.LYRICS, request, exc)
            raise
        await self.audit.record(
            who.guild_id,
            AuditEntry(
                actor_id=who.user_id,
                action=f"{Operation.LYRICS.value} finished",
                summary=f"job #{job.id} · {_excerpt(idea, 100)}",
                outcome=f"{len(drafts)} lyric draft(s)",
                credits=-job.cost,
            ),
        )
        return job, drafts

    async def drafted_lyrics(self, guild_id: int, job_id: int) -> list[DraftedLyrics]:
        job = await self.engine.job(job_id)
        if job is None or job.guild_id != guild_id or not job.result_text:
            raise NotFound("Those lyrics are no longer available; draft new ones with /music lyrics.")
        return [DraftedLyrics.model_validate(d) for d in json.loads(job.result_text)]

    async def cancel(self, who: Requester, job_id: int) -> Job:
        """Cancel a job still in the works (the member's own, or any as a moderator); its credits come back."""
        job = await self.engine.cancel(
            job_id, user_id=who.user_id, guild_id=who.guild_id, moderator=who.is_moderator or who.is_admin
        )
        # The job's own audit entry ("… → cancelled", with the refund) is written when the cancellation is
        # delivered; a second one here would break "one entry per job". Only a moderator stopping someone
        # else's job is worth its own line, as a moderation action.
        if job.user_id != who.user_id:
            await self.audit.record(
                who.guild_id,
                AuditEntry(actor_id=who.user_id, action="cancel", summary=f"job #{job_id} of <@{job.user_id}>"),
            )
        return job

    async def active_jobs(self, guild_id: int, user_id: int) -> list[Job]:
        async with self._uow(write=False) as uow:
            return [j for j in await uow.jobs.recent(guild_id, user_id, limit=25) if j.active]

    def note_moderation_failure(self, job: Job) -> int | None:
        """Count a provider moderation failure; returns the member's recent count when it warrants a note."""
        now = self._clock()
        strikes = self._strikes[(job.guild_id, job.user_id)]
        strikes.append(now)
        while strikes and now - strikes[0] > MODERATION_WINDOW_S:
            strikes.popleft()
        if len(strikes) < MODERATION_STRIKES:
            return None
        # One note per burst: the count starts again, so a member refused ten times in a row is noted three
        # times, not eight.
        count = len(strikes)
        strikes.clear()
        return count

    # --- tracks ------------------------------------------------------------------------------------------------
    async def track(self, guild_id: int, track_id: int) -> Track:
        async with self._uow(write=False) as uow:
            track = await uow.tracks.get(track_id)
        if track is None or track.guild_id != guild_id or track.deleted:
            raise NotFound(f"There is no track #{track_id} in this server.")
        return track

    async def search_tracks(self, guild_id: int, text: str, limit: int = 25) -> list[Track]:
        async with self._uow(write=False) as uow:
            if text.strip():
                return await uow.tracks.search(guild_id, text.strip(), limit=limit)
            return await uow.tracks.recent(guild_id, limit=limit)

    async def history(self, guild_id: int, author_id: int | None, page: int) -> tuple[list[Track], int]:
        """One page of recent tracks (newest first) and the number of pages."""
        async with self._uow(write=False) as uow:
            total = await uow.tracks.count(guild_id, author_id=author_id)
            pages = max(1, -(-total // HISTORY_PAGE))
            page = min(max(page, 0), pages - 1)
            tracks = await uow.tracks.recent(
                guild_id, author_id=author_id, limit=HISTORY_PAGE, offset=page * HISTORY_PAGE
            )
        return tracks, pages

    async def lineage(self, guild_id: int, track_id: int) -> Lineage:
        track = await self.track(guild_id, track_id)
        ancestors: list[Track] = []
        async with self._uow(write=False) as uow:
            seen = {track.id}
            parent_id = track.parent_track_id
            while parent_id is not None and parent_id not in seen and len(ancestors) < 25:
                parent = await uow.tracks.get(parent_id)
                if parent is None:
                    break
                ancestors.append(parent)
                seen.add(parent.id)
                parent_id = parent.parent_track_id
            children = await uow.tracks.children(track.id)
        return Lineage(ancestors=list(reversed(ancestors)), track=track, children=children)

    async def parent_of(self, track: Track) -> Track | None:
        if track.parent_track_id is None:
            return None
        async with self._uow(write=False) as uow:
            return await uow.tracks.get(track.parent_track_id)

    async def delete_track(self, who: Requester, track_id: int) -> Track:
        track = await self.track(who.guild_id, track_id)
        if track.author_id != who.user_id and not (who.is_moderator or who.is_admin):
            raise NotAllowed("Only the track's author or a moderator (Manage Messages) can delete it.")
        async with self._uow() as uow:
            await uow.tracks.mark_deleted(track_id)
            await uow.commit()
        await self.audit.record(
            who.guild_id,
            AuditEntry(actor_id=who.user_id, action="delete", summary=f"track #{track_id} {track.display_title}"),
        )
        return track

    async def remix_threads_enabled(self, guild_id: int) -> bool:
        async with self._uow(write=False) as uow:
            return (await self.engine.guild_settings(uow, guild_id)).remix_threads

    async def set_thread(self, track_id: int, thread_id: int) -> None:
        async with self._uow() as uow:
            await uow.tracks.set_thread(track_id, thread_id)
            await uow.commit()

    # --- credits -----------------------------------------------------------------------------------------------
    async def quota(self, guild_id: int, user_id: int) -> Quota:
        quota = await self.engine.quota(guild_id, user_id)
        # Members see the prices of what this provider offers (a Producer server is not shown Sonic's stems).
        offered = self.engine.provider.operations
        return replace(quota, costs={op: cost for op, cost in quota.costs.items() if op in offered})

    async def settings(self, guild_id: int) -> GuildSettings:
        async with self._uow(write=False) as uow:
            return await self.engine.guild_settings(uow, guild_id)

    async def _change_settings(self, who: Requester, summary: str, **changes: Any) -> GuildSettings:
        require_admin(who)
        async with self._uow() as uow:
            current = await self.engine.guild_settings(uow, who.guild_id)
            updated = current.model_copy(update=changes)
            await self.engine.save_settings(uow, updated)
            await uow.commit()
        self._filters.pop(who.guild_id, None)
        await self.audit.record(who.guild_id, AuditEntry(actor_id=who.user_id, action="settings", summary=summary))
        return updated

    async def set_server_budget(self, who: Requester, budget: int, period: Period | None = None) -> GuildSettings:
        if budget < 0:
            raise InvalidRequest("The budget can't be negative.")
        changes: dict[str, Any] = {"budget": budget}
        if period is not None:
            changes["period"] = period
        text = f"server budget set to {budget}" + (f" per {period.value}" if period else "")
        return await self._change_settings(who, text, **changes)

    async def set_member_cap(self, who: Requester, member_id: int, cap: int | None) -> None:
        require_admin(who)
        if cap is not None and cap < 0:
            raise InvalidRequest("The cap can't be negative.")
        async with self._uow() as uow:
            await uow.settings.set_member_cap(who.guild_id, member_id, cap)
            await uow.commit()
        text = f"cap of <@{member_id}> set to {cap}" if cap is not None else f"cap of <@{member_id}> removed"
        await self.audit.record(who.guild_id, AuditEntry(actor_id=who.user_id, action="member-cap", summary=text))

    async def set_default_member_cap(self, who: Requester, cap: int | None) -> GuildSettings:
        return await self._change_settings(who, f"default member cap set to {cap}", member_cap=cap)

    async def grant(self, who: Requester, amount: int, member_id: int | None = None, note: str | None = None) -> int:
        """Add credits to the server's current period, or to one member's allowance. Returns the new total."""
        require_admin(who)
        if amount == 0 or abs(amount) > 1_000_000:
            raise InvalidRequest("Grant between 1 and 1,000,000 credits (negative to take some back).")
        now = self._clock()
        async with self._uow() as uow:
            settings = await self.engine.guild_settings(uow, who.guild_id)
            key = period_key(now, settings.period, settings.reset_epoch)
            await uow.ledger.append(
                guild_id=who.guild_id,
                user_id=member_id,
                kind=LedgerKind.GRANT,
                amount=amount,
                period_key=key,
                now=now,
                note=note,
                actor_id=who.user_id,
            )
            await uow.commit()
        target = f"<@{member_id}>" if member_id else "the server"
        await self.audit.record(
            who.guild_id, AuditEntry(actor_id=who.user_id, action="grant", summary=f"to {target}", credits=amount)
        )
        quota = await self.quota(who.guild_id, member_id or who.user_id)
        return quota.member_remaining if member_id and quota.member_remaining is not None else quota.server_remaining

    async def set_cost(self, who: Requester, operation: Operation, cost: int) -> GuildSettings:
        if not 0 <= cost <= 100_000:
            raise InvalidRequest("A cost must be between 0 and 100,000 credits.")
        current = await self.settings(who.guild_id)
        costs = {**current.costs, operation: cost}
        return await self._change_settings(who, f"{operation.label} now costs {cost}", costs=costs)

    async def reset_period(self, who: Requester) -> GuildSettings:
        """Start a fresh period now: every balance goes back to its full budget."""
        require_admin(who)
        now = self._clock()
        async with self._uow() as uow:
            current = await self.engine.guild_settings(uow, who.guild_id)
            updated = current.model_copy(update={"reset_epoch": current.reset_epoch + 1})
            await self.engine.save_settings(uow, updated)
            await uow.ledger.append(
                guild_id=who.guild_id,
                kind=LedgerKind.RESET,
                amount=0,
                period_key=period_key(now, updated.period, updated.reset_epoch),
                now=now,
                actor_id=who.user_id,
            )
            await uow.commit()
        await self.audit.record(
            who.guild_id, AuditEntry(actor_id=who.user_id, action="reset", summary="credits reset to full budget")
        )
        return updated

    # --- studio settings and moderation ------------------------------------------------------------------------
    async def update_settings(self, who: Requester, **changes: Any) -> GuildSettings:
        """Change any of the /studio settings; unknown or invalid values raise InvalidRequest."""
        require_admin(who)
        allowed = {
            "allowed_channel_ids",
            "required_role_id",
            "remix_threads",
            "audit_channel_id",
            "default_model",
            "cooldown_s",
            "use_default_blocklist",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidRequest(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        if "default_model" in changes and changes["default_model"] is not None:
            if not self.engine.provider.models:
                raise InvalidRequest(f"The {self.engine.provider.name} provider has no choice of model.")
            try:
                changes["default_model"] = normalise_model(changes["default_model"])
            except ValueError as exc:
                # Only the first letter: str.capitalize() would lowercase the model names it lists.
                text = str(exc)
                raise InvalidRequest(text[:1].upper() + text[1:] + ".") from None
        if "cooldown_s" in changes and not 0 <= float(changes["cooldown_s"]) <= 86_400:
            raise InvalidRequest("The cooldown must be between 0 seconds and 1 day.")
        summary = ", ".join(f"{_SETTING_LABELS.get(k, k)} = {_show(k, v)}" for k, v in changes.items())
        if "audit_channel_id" in changes and changes["audit_channel_id"] is None:
            current = await self.settings(who.guild_id)
            if current.audit_channel_id is not None:
                # Written before the change: afterwards there is no audit channel left to say it was switched off.
                await self.audit.record(
                    who.guild_id, AuditEntry(actor_id=who.user_id, action="settings", summary=summary)
                )
        return await self._change_settings(who, summary, **changes)

    async def block_add(self, who: Requester, pattern: str, *, is_regex: bool) -> BlockRule:
        """Refuse a word, phrase or (validated, time-bounded) regular expression from now on."""
        require_admin(who)
        pattern = pattern.strip()
        if is_regex:
            validate_regex(pattern)
        else:
            pattern = validate_word(pattern)
        async with self._uow() as uow:
            rows = await uow.moderation.blocked_terms(who.guild_id)
            # Words match whatever their case, so "Kazoo" after "kazoo" would be the same rule twice.
            same = not is_regex and any(not r["is_regex"] and _same_word(r["pattern"], pattern) for r in rows)
            added = not same and bool(
                await uow.moderation.add_blocked_term(
                    who.guild_id, pattern, is_regex=is_regex, added_by=who.user_id, now=self._clock()
                )
            )
            await uow.commit()
        if not added:
            raise InvalidRequest("That rule is already on the list.")
        self._filters.pop(who.guild_id, None)
        rule = BlockRule(pattern=pattern, is_regex=is_regex)
        await self.audit.record(
            who.guild_id, AuditEntry(actor_id=who.user_id, action="block", summary=f"added {rule.label}")
        )
        return rule

    async def block_remove(self, who: Requester, pattern: str) -> str:
        """Stop refusing a rule: a regex exactly as listed, a word in any case. Returns the rule as it was stored."""
        require_admin(who)
        pattern = pattern.strip()
        async with self._uow() as uow:
            rows = await uow.moderation.blocked_terms(who.guild_id)
            stored = next((r["pattern"] for r in rows if r["pattern"] == pattern), None) or next(
                (r["pattern"] for r in rows if not r["is_regex"] and _same_word(r["pattern"], pattern)), None
            )
            removed = stored is not None and bool(await uow.moderation.remove_blocked_term(who.guild_id, stored))
            await uow.commit()
        if stored is None or not removed:
            raise NotFound("That rule is not on the list (use /studio block list to see them).")
        self._filters.pop(who.guild_id, None)
        await self.audit.record(
            who.guild_id, AuditEntry(actor_id=who.user_id, action="block", summary=f"removed {stored!r}")
        )
        return stored

    async def block_list(self, guild_id: int) -> tuple[list[BlockRule], bool]:
        """The server's own rules, and whether the built-in list is on."""
        async with self._uow(write=False) as uow:
            rows = await uow.moderation.blocked_terms(guild_id)
            settings = await self.engine.guild_settings(uow, guild_id)
        rules = [BlockRule(pattern=r["pattern"], is_regex=bool(r["is_regex"]), id=r["id"]) for r in rows]
        return rules, settings.use_default_blocklist

    async def ban(self, who: Requester, member_id: int, reason: str | None) -> None:
        require_admin(who)
        if member_id == who.user_id:
            raise InvalidRequest("You can't ban yourself.")
        async with self._uow() as uow:
            await uow.moderation.ban(who.guild_id, member_id, reason=reason, banned_by=who.user_id, now=self._clock())
            await uow.commit()
        await self.audit.record(
            who.guild_id,
            AuditEntry(actor_id=who.user_id, action="ban", summary=f"<@{member_id}>", outcome=reason or "no reason"),
        )

    async def unban(self, who: Requester, member_id: int) -> None:
        require_admin(who)
        async with self._uow() as uow:
            removed = await uow.moderation.unban(who.guild_id, member_id)
            await uow.commit()
        if not removed:
            raise NotFound("That member is not banned.")
        await self.audit.record(
            who.guild_id, AuditEntry(actor_id=who.user_id, action="unban", summary=f"<@{member_id}>")
        )

    async def bans(self, guild_id: int) -> list[dict[str, Any]]:
        async with self._uow(write=False) as uow:
            return await uow.moderation.bans(guild_id)

    async def status(self) -> StudioStatus:
        provider = self.engine.provider
        credits: float | None = None
        healthy, detail = True, "answering"
        try:
            credits = await provider.credits()
        except Exception as exc:  # the status page reports the problem instead of failing
            healthy, detail = False, str(exc)
        return StudioStatus(
            provider=provider.name,
            healthy=healthy,
            detail=detail,
            queue_depth=self.engine.queue_depth(),
            in_flight=self.engine.in_flight(),
            provider_credits=credits,
            retired=sorted(set(provider.operations) - set(self.engine.available_operations())),
        )


def _same_word(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


# In a file name these separate words ("my-song_demo.wav"); in a prompt the filter reads them as obfuscation
# inside one word ("b.a-d"), so a name is checked both ways.
_NAME_SEPARATORS = re.compile(r"[\s_.\-+~,;:()\[\]{}]+")


def _file_name_text(filename: str) -> str:
    """An upload's file name as the content filter should read it: as typed, without its extension, and as words."""
    stem = filename.rsplit(".", 1)[0] if "." in filename.strip(".") else filename
    words = _NAME_SEPARATORS.sub(" ", stem).strip()
    return "\n".join(dict.fromkeys(v for v in (filename, stem, words) if v))


def require_admin(who: Requester) -> None:
    """Admin commands are checked here too, not only by Discord's default permissions."""
    if not who.is_admin:
        raise NotAllowed("You need the Manage Server permission for this.")


_SETTING_LABELS = {
    "allowed_channel_ids": "allowed channels",
    "required_role_id": "required role",
    "remix_threads": "remix threads",
    "audit_channel_id": "audit log",
    "default_model": "default model",
    "cooldown_s": "cooldown",
    "use_default_blocklist": "built-in block list",
}


def _show(key: str, value: Any) -> str:
    """A setting's value as admins read it in the audit log: mentions, not raw ids (mentions don't ping here)."""
    if key == "allowed_channel_ids":
        return ", ".join(f"<#{v}>" for v in value) or "everywhere"
    if value is None:
        return "none" if key in ("required_role_id", "default_model") else "off"
    if isinstance(value, bool):
        return "on" if value else "off"
    if key == "required_role_id":
        return f"<@&{value}>"
    if key == "audit_channel_id":
        return f"<#{value}>"
    if key == "cooldown_s":
        return f"{float(value):g} s" if value else "none"
    return str(value)


def _describe(request: MusicRequest, parent: Track | None) -> str:
    parts: list[str] = []
    if parent is not None:
        parts.append(f"from #{parent.id} {parent.display_title}")
    for name in ("title", "sound", "idea", "audio_url"):
        value = getattr(request, name, None)
        if value:
            parts.append(_excerpt(str(value)))
    if getattr(request, "lyrics", None):
        parts.append(f"lyrics: {_excerpt(request.lyrics, 60)}")  # type: ignore[union-attr]
    return " · ".join(parts) or request.operation.label
