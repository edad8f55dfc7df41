"""Admission: every rule a job must pass before it may start, and its reservation, in one place.

In order: the operation is available; the values make a valid request in the provider's vocabulary (a remix
starts from a track of this server, a mashup from two, a persona song names a persona of this server); the content
filter passes (before any database lock, so a slow check holds nobody up); then, inside one store transaction, the
member is not banned, the channel and role are allowed, the cooldown has passed, the in-flight limits and the
credits allow the job, a job costing more than the server's threshold was confirmed, and the job is written with
its reservation. A refusal raises a TunesmithError that says why, is written to the audit log, and costs nothing;
a job that needs confirming raises ConfirmationNeeded (with what it costs and what is left), and nothing is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.audit import AuditRecorder
from bot.core.blocklist import BlockList, file_name_text
from bot.core.catalog import Catalog
from bot.core.credits import Quota, period_key, quota_of
from bot.core.library import Library
from bot.core.settings import SettingsBook
from bot.domain.audit import Refused
from bot.domain.errors import (
    ConfirmationNeeded,
    CreditsExhausted,
    InvalidRequest,
    MissingRole,
    NotAllowed,
    NotFound,
    QuotaExceeded,
    TunesmithError,
    WrongChannel,
)
from bot.domain.models import (
    LYRICS_MAX,
    SOUND_MAX,
    GuildSettings,
    Job,
    Operation,
    Persona,
    Track,
)
from bot.domain.ports import AdmissionSnapshot, Clock, JobStore, JobTicket, PersonaStore
from bot.domain.requester import Requester
from bot.domain.requests import JobRequest, build_job_request, request_dump

log = logging.getLogger(__name__)

# Operations whose request goes through the provider's task queue: generations, downloads and the stems (the other
# tools, lyrics drafts and personas are answered at once; a concat is only ever a step of an extension).
TASK_OPERATIONS = frozenset(
    op for op in Operation if op.makes_tracks or op in (Operation.DOWNLOAD, Operation.STEMS_BASIC, Operation.STEMS_FULL)
) - {Operation.CONCAT}


@dataclass(frozen=True, slots=True)
class Admitted:
    """A job that passed every rule: its credits are reserved and it waits for a provider slot."""

    job: Job
    position: int | None  # place in line as first shown; None for jobs answered at once
    remaining: int  # credits the member has left after this one
    parent: Track | None = None  # the track a remix, a download or a tool starts from
    second_parent: Track | None = None  # a mashup's other track
    request: JobRequest | None = None  # the validated request


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


def content_of(request: JobRequest, filename: str | None) -> dict[str, str | None]:
    """The text the content filter reads, field by field, in the order a refusal names them."""
    options = getattr(request, "options", None) or {}
    return {
        "style": getattr(request, "sound", None) or getattr(request, "tags", None) or options.get("tags"),
        "description": getattr(request, "description", None),
        "styles to avoid": getattr(request, "negative_tags", None),
        "lyrics": getattr(request, "lyrics", None),
        # Before the title: an upload's title defaults to its file name, and the member should be told about
        # the name they chose, not about a title they never typed.
        "filename": file_name_text(filename) if filename else None,
        "title": getattr(request, "title", None),
        "name": getattr(request, "name", None),
        "styles": getattr(request, "styles", None),
        "idea": getattr(request, "idea", None),
    }


class AdmissionStore(JobStore, PersonaStore, Protocol):
    """What admission reads and writes: jobs (the admission itself) and the server's personas."""


class Admission:
    def __init__(
        self,
        *,
        store: AdmissionStore,
        library: Library,
        catalog: Catalog,
        settings: SettingsBook,
        blocklist: BlockList,
        audit: AuditRecorder,
        intake: Callable[[Job, JobRequest], int | None],
        clock: Clock,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._library = library
        self._catalog = catalog
        self._settings = settings
        self._blocklist = blocklist
        self._audit = audit
        self._intake = intake
        self._clock = clock
        self._owner = owner  # the worker new jobs are leased to (many processes), else None

    async def admit(
        self,
        who: Requester,
        operation: Operation,
        values: Mapping[str, Any],
        *,
        track_id: int | None = None,
        second_track_id: int | None = None,
        persona: int | None = None,
        filename: str | None = None,
        confirmed_cost: int | None = None,
    ) -> Admitted:
        """Validate, check every rule, reserve the credits and queue the job. Raises before spending.

        ``confirmed_cost``: the member confirmed paying up to this much (after a ConfirmationNeeded); None asks
        first when the job costs more than the server's threshold."""
        self._catalog.ensure_available(operation)
        fields = {k: v for k, v in values.items() if v is not None and v != ""}
        parent, second = await self._tracks(who, operation, fields, track_id, second_track_id)
        if persona is not None:
            fields["persona_id"] = (await self._persona(who, persona)).persona_id
        request = build_job_request(operation, fields, dialect=self._catalog.dialect)
        settings = await self._settings.get(who.guild_id)
        request = self._with_default_model(request, settings)
        try:
            # The content check runs before the store's transaction: a slow check holds no lock.
            await self._blocklist.check(who.guild_id, content_of(request, filename))
            job, remaining = await self._reserve(who, request, parent, second, settings, confirmed_cost)
        except ConfirmationNeeded:
            raise  # not a refusal: the member is asked, and nothing was kept
        except TunesmithError as exc:
            await self._audit.record(who.guild_id, Refused(who.user_id, operation, request, exc))
            raise
        position = self._intake(job, request) if operation in TASK_OPERATIONS else None
        log.info("job %d admitted: %s for guild %d, cost %d", job.id, operation.value, who.guild_id, job.cost)
        # The audit entry is written when the job ends (one per job, with its outcome).
        return Admitted(
            job=job, position=position, remaining=remaining, parent=parent, second_parent=second, request=request
        )

    async def _tracks(
        self,
        who: Requester,
        operation: Operation,
        fields: dict[str, Any],
        track_id: int | None,
        second_track_id: int | None,
    ) -> tuple[Track | None, Track | None]:
        """The track(s) a job starts from, checked to be this server's, and what the request takes from them."""
        if not operation.needs_track:
            return None, None
        if track_id is None:
            raise InvalidRequest("Pick a track to start from.")
        parent = await self._library.track(who, track_id)
        fields["clip_id"] = parent.clip_id
        if operation in (Operation.VARIATION, Operation.EXTEND) and "sound" not in fields and parent.tags:
            # Providers that emulate these (FUZZ) resubmit the parent's style; others ignore it.
            fields["sound"] = parent.tags[:SOUND_MAX]
        if operation is Operation.VARIATION and parent.lyrics and "lyrics" not in fields:
            fields["lyrics"] = parent.lyrics[:LYRICS_MAX]
        if (
            self._catalog.dialect == "sonic"
            and operation in (Operation.EXTEND, Operation.COVER)
            and parent.operation is Operation.UPLOAD
        ):
            # An uploaded track is extended and covered with their own task types (extend/cover_upload_music).
            fields["uploaded"] = True
        second: Track | None = None
        if operation is Operation.MASHUP:
            if second_track_id is None:
                raise InvalidRequest("A mashup takes two tracks: pick the second one too.")
            if second_track_id == track_id:
                raise InvalidRequest("A mashup needs two different tracks.")
            second = await self._library.track(who, second_track_id)
            fields["clip_ids"] = [fields.pop("clip_id"), second.clip_id]
        return parent, second

    async def _persona(self, who: Requester, persona_id: int) -> Persona:
        persona = await self._store.persona(persona_id)
        if persona is None or persona.guild_id != who.guild_id or persona.provider != self._catalog.provider_name:
            raise NotFound("That persona isn't saved in this server; pick one from the list.")
        return persona

    def _with_default_model(self, request: JobRequest, settings: GuildSettings) -> JobRequest:
        """The server's default model, for a request that takes one and did not name one (when it fits)."""
        default = settings.default_model
        if not default or not self._catalog.models or getattr(request, "model", "unset") is not None:
            return request
        try:
            # Validated like a typed one: a default set for another provider (or its vocabulary) is not sent.
            return type(request).model_validate({**request.model_dump(), "model": default})
        except ValueError:
            return request

    def cost_of(self, operation: Operation, costs: Mapping[Operation, int]) -> int:
        """What a job of ``operation`` costs here: an extension whose provider joins it into the full song pays
        for the join too (one concat per job, whatever the number of takes)."""
        cost = costs[operation]
        if operation is Operation.EXTEND and self._catalog.extensions_are_partial:
            cost += costs.get(Operation.CONCAT, 0)
        return cost

    async def _reserve(
        self,
        who: Requester,
        request: JobRequest,
        parent: Track | None,
        second: Track | None,
        settings: GuildSettings,
        confirmed_cost: int | None,
    ) -> tuple[Job, int]:
        operation = Operation(request.operation)
        now = self._clock.now()
        costs = self._settings.costs(settings)
        cost = self.cost_of(operation, costs)
        remaining = 0

        def decide(snapshot: AdmissionSnapshot) -> int:
            # Runs inside the store's transaction: every rule that reads the store, then the price.
            nonlocal remaining
            check_rules(who, settings, snapshot, now)
            quota = quota_of(settings, snapshot.balances, now=now, costs=costs)
            check_quota(quota, settings, snapshot, cost=cost, operation=operation)
            if (confirmed_cost is None and cost > settings.confirm_above) or (
                confirmed_cost is not None and cost > confirmed_cost
            ):
                # Raised inside the transaction: nothing is written; the member confirms and admission runs again.
                raise ConfirmationNeeded(operation=operation.label, cost=cost, remaining=quota.available_to_member)
            remaining = quota.available_to_member - cost
            return cost

        ticket = JobTicket(
            guild_id=who.guild_id,
            channel_id=who.channel_id,
            user_id=who.user_id,
            operation=operation,
            request=request_dump(request),
            provider=self._catalog.provider_name,
            period_key=period_key(now, settings.period, settings.reset_epoch),
            parent_track_id=parent.id if parent is not None else None,
            now=now,
            with_last_job=settings.cooldown_s > 0 and not who.is_admin,
            second_parent_track_id=second.id if second is not None else None,
            owner=self._owner,
        )
        job = await self._store.admit(ticket, decide)
        return job, remaining
