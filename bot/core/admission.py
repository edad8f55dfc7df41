"""Admission: every rule a job must pass before it may start, and its reservation, in one place.

In order: the operation is available; the values make a valid request (a remix starts from a track of this
server); the content filter passes (before any database lock, so a slow check holds nobody up); then, inside one
store transaction, the member is not banned, the channel and role are allowed, the cooldown has passed, the
in-flight limits and the credits allow the job, and the job is written with its reservation. A refusal raises a
TunesmithError that says why, is written to the audit log, and costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.audit import AuditRecorder
from bot.core.blocklist import BlockList, file_name_text
from bot.core.catalog import Catalog
from bot.core.credits import Quota, period_key, quota_of
from bot.core.library import Library
from bot.core.settings import SettingsBook
from bot.domain.audit import Refused
from bot.domain.errors import (
    CreditsExhausted,
    InvalidRequest,
    MissingRole,
    NotAllowed,
    QuotaExceeded,
    TunesmithError,
    WrongChannel,
)
from bot.domain.models import (
    LYRICS_MAX,
    SOUND_MAX,
    GuildSettings,
    Job,
    MusicRequest,
    Operation,
    Track,
    build_request,
)
from bot.domain.ports import AdmissionSnapshot, Clock, JobStore, JobTicket
from bot.domain.requester import Requester

log = logging.getLogger(__name__)

# Operations whose request goes through the provider's task queue (lyrics are answered at once).
TASK_OPERATIONS = frozenset(Operation) - {Operation.LYRICS}


@dataclass(frozen=True, slots=True)
class Admitted:
    """A job that passed every rule: its credits are reserved and it waits for a provider slot."""

    job: Job
    position: int | None  # place in line as first shown; None for jobs answered at once
    remaining: int  # credits the member has left after this one
    parent: Track | None = None  # the track a remix or download starts from


def check_rules(who: Requester, settings: GuildSettings, snapshot: AdmissionSnapshot, now: float) -> None:
    """Ban, channel, role and cooldown: who may make music where, and how often."""
    ban = snapshot.ban
    if ban is not None:
        reason = f" Reason: {ban.reason}" if ban.reason else ""
        raise NotAllowed(f"You are banned from making music in this server.{reason}")
    if who.is_admin:
        return
    allowed = settings.allowed_channel_ids
    # A thread belongs to its channel: remix threads and any thread under an allowed channel are fine.
    if allowed and who.channel_id not in allowed and who.parent_channel_id not in allowed:
        raise WrongChannel(allowed)
    if settings.required_role_id and settings.required_role_id not in who.role_ids:
        raise MissingRole(settings.required_role_id)
    if settings.cooldown_s > 0 and snapshot.last_job_at is not None:
        wait = snapshot.last_job_at + settings.cooldown_s - now
        if wait > 0:
            raise NotAllowed(f"Slow down a little: you can start another song in {wait:.0f} s.")


def check_quota(
    quota: Quota, settings: GuildSettings, snapshot: AdmissionSnapshot, *, cost: int, operation: Operation
) -> None:
    """The in-flight limits and the credits: raise QuotaExceeded with a reason the member can act on."""
    balances = snapshot.balances
    if balances.member_active >= settings.max_jobs_member:
        raise QuotaExceeded(
            f"You already have {balances.member_active} song(s) in the works (the limit is "
            f"{settings.max_jobs_member}). Wait for one to finish or cancel it with /music cancel."
        )
    if balances.server_active >= settings.max_jobs_server:
        raise QuotaExceeded(
            f"This server already has {balances.server_active} songs in the works (the limit is "
            f"{settings.max_jobs_server}). Try again in a minute."
        )
    label = operation.label.lower()
    if cost > quota.server_remaining:
        raise CreditsExhausted(remaining=quota.server_remaining, cost=cost, operation=label, resets_at=quota.resets_at)
    if quota.member_remaining is not None and cost > quota.member_remaining:
        raise CreditsExhausted(
            remaining=quota.member_remaining,
            cost=cost,
            operation=label,
            resets_at=quota.resets_at,
            member_cap=quota.member_cap,
        )


def content_of(request: MusicRequest, filename: str | None) -> dict[str, str | None]:
    """The text the content filter reads, field by field, in the order a refusal names them."""
    return {
        "style": getattr(request, "sound", None),
        "lyrics": getattr(request, "lyrics", None),
        # Before the title: an upload's title defaults to its file name, and the member should be told about
        # the name they chose, not about a title they never typed.
        "filename": file_name_text(filename) if filename else None,
        "title": getattr(request, "title", None),
        "idea": getattr(request, "idea", None),
    }


class Admission:
    def __init__(
        self,
        *,
        store: JobStore,
        library: Library,
        catalog: Catalog,
        settings: SettingsBook,
        blocklist: BlockList,
        audit: AuditRecorder,
        intake: Callable[[Job, MusicRequest], int | None],
        clock: Clock,
    ) -> None:
        self._store = store
        self._library = library
        self._catalog = catalog
        self._settings = settings
        self._blocklist = blocklist
        self._audit = audit
        self._intake = intake
        self._clock = clock

    async def admit(
        self,
        who: Requester,
        operation: Operation,
        values: Mapping[str, Any],
        *,
        track_id: int | None = None,
        filename: str | None = None,
    ) -> Admitted:
        """Validate, check every rule, reserve the credits and queue the job. Raises before spending."""
        self._catalog.ensure_available(operation)
        fields = {k: v for k, v in values.items() if v is not None and v != ""}
        parent: Track | None = None
        if operation.derived or operation is Operation.DOWNLOAD:
            if track_id is None:
                raise InvalidRequest("Pick a track to start from.")
            parent = await self._library.track(who.guild_id, track_id)
            fields["clip_id"] = parent.clip_id
            if operation in (Operation.VARIATION, Operation.EXTEND) and "sound" not in fields and parent.tags:
                # Providers that emulate these (FUZZ) resubmit the parent's style; others ignore it.
                fields["sound"] = parent.tags[:SOUND_MAX]
            if operation is Operation.VARIATION and parent.lyrics and "lyrics" not in fields:
                fields["lyrics"] = parent.lyrics[:LYRICS_MAX]
        request = build_request(operation, **fields)
        settings = await self._settings.get(who.guild_id)
        if settings.default_model and hasattr(request, "model") and not request.model and self._catalog.models:
            request = request.model_copy(update={"model": settings.default_model})
        try:
            # The content check runs before the store's transaction: a slow check holds no lock.
            await self._blocklist.check(who.guild_id, content_of(request, filename))
            job, remaining = await self._reserve(who, request, parent, settings)
        except TunesmithError as exc:
            await self._audit.record(who.guild_id, Refused(who.user_id, operation, request, exc))
            raise
        position = self._intake(job, request) if operation in TASK_OPERATIONS else None
        log.info("job %d admitted: %s for guild %d, cost %d", job.id, operation.value, who.guild_id, job.cost)
        # The audit entry is written when the job ends (one per job, with its outcome).
        return Admitted(job=job, position=position, remaining=remaining, parent=parent)

    async def _reserve(
        self, who: Requester, request: MusicRequest, parent: Track | None, settings: GuildSettings
    ) -> tuple[Job, int]:
        operation = Operation(request.operation)
        now = self._clock.now()
        costs = self._settings.costs(settings)
        cost = costs[operation]
        remaining = 0

        def decide(snapshot: AdmissionSnapshot) -> int:
            # Runs inside the store's transaction: every rule that reads the store, then the price.
            nonlocal remaining
            check_rules(who, settings, snapshot, now)
            quota = quota_of(settings, snapshot.balances, now=now, costs=costs)
            check_quota(quota, settings, snapshot, cost=cost, operation=operation)
            remaining = quota.available_to_member - cost
            return cost

        ticket = JobTicket(
            guild_id=who.guild_id,
            channel_id=who.channel_id,
            user_id=who.user_id,
            operation=operation,
            request=request.model_dump(mode="json", exclude_none=True),
            provider=self._catalog.provider_name,
            period_key=period_key(now, settings.period, settings.reset_epoch),
            parent_track_id=parent.id if parent is not None else None,
            now=now,
            with_last_job=settings.cooldown_s > 0 and not who.is_admin,
        )
        job = await self._store.admit(ticket, decide)
        return job, remaining
