"""The ports core depends on, in domain terms. Adapters implement them structurally (no inheritance needed).

- ``MusicProvider`` (bot/providers), ``FileFetcher`` (bot/providers/files.py), ``Notifier`` (bot/ui),
  ``Clock`` (bot/core/clock.py; a fake in tests), and the store (bot/storage), split by concern so each part
  of core asks only for what it uses.
- Store methods are intents, not tables: each call is atomic on its own (one transaction or one statement),
  and no raw row crosses a port. A method whose work needs a transaction says so in its docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.audit import AuditEntry
from bot.domain.lyrics_timeline import LyricsAlignment
from bot.domain.models import (
    Clip,
    DraftedLyrics,
    GuildSettings,
    Job,
    JobState,
    LedgerEntry,
    MusicRequest,
    Operation,
    Persona,
    TaskStatus,
    Track,
    WebhookTarget,
)
from bot.domain.outcomes import Delivery, DeliveryClaim, Failure, JobResult, Progress
from bot.domain.requester import Visible


# --- the provider and files --------------------------------------------------------------------------------------
class MusicProvider(Protocol):
    """A music-generation service, normalised: submit a request, then read task statuses."""

    name: str
    operations: frozenset[Operation]
    """Operations this provider offers (emulated ones included, e.g. FUZZ variation)."""
    models: tuple[str, ...]
    """Model names a member may pick; empty when the provider has no choice of model."""
    batch_size: int
    """How many task ids one status call may carry (1 = one call per task)."""
    supports_webhooks: bool
    max_concurrency: int
    """How many tasks the bot keeps in flight at the provider at once; the rest wait in the fair queue."""
    request_dialect: str
    """"generic" (bot.domain.models) or "sonic" (bot.domain.sonic): how the shared operations' values are validated
    (models, limits) before anything is spent; see bot/domain/requests.py."""
    extensions_are_partial: bool
    """An extension's clip holds only the new part (Sonic): the job joins it into the full song (a concat)."""

    async def submit(self, request: MusicRequest, *, webhook: WebhookTarget | None = None) -> str:
        """Start a task and return its id. Raises ProviderError. A provider receives only the requests its dialect
        builds (and Sonic's own operations when it offers them)."""
        ...

    async def fetch(self, task_ids: Sequence[str]) -> list[TaskStatus]:
        """Statuses of up to ``batch_size`` tasks, in any order. Raises ProviderError."""
        ...

    async def credits(self) -> float | None:
        """The provider account's remaining credits, when the provider can tell."""
        ...

    async def draft_lyrics(self, idea: str) -> list[DraftedLyrics]:
        """Lyrics drafted from a short idea. Raises ProviderError or OperationUnavailable."""
        ...

    async def aclose(self) -> None: ...


class FileFetcher(Protocol):
    """Downloads a file a provider made (audio, cover art), refusing addresses it must not reach."""

    async def fetch(self, url: str, *, limit: int) -> bytes | None:
        """The file's bytes; None when it is missing, unreachable, larger than ``limit`` or refused."""
        ...


# --- time ------------------------------------------------------------------------------------------------------
class Clock(Protocol):
    """Wall time and waiting, injected so tests run on a fake clock and never wait in real time."""

    def now(self) -> float:
        """Unix seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[Any]:
        """Like ``asyncio.timeout``: the block is cancelled (TimeoutError) once ``seconds`` have passed."""
        ...


# --- members and admins -------------------------------------------------------------------------------------------
class Notifier(Protocol):
    """Tells members and admins what happened. The Discord notifier posts and edits by channel and message id
    and owns Discord's edit budget: core reports every change, the notifier decides when to edit."""

    def job_progress(self, job: Job, progress: Progress) -> None:
        """A waiting or rendering job moved. Returns at once; the edit follows when the budget allows."""
        ...

    async def job_succeeded(self, result: JobResult) -> list[Delivery]:
        """Post every card (or the download) and say where each track went. May raise DeliveryIncomplete."""
        ...

    async def job_failed(self, job: Job, failure: Failure, refunded: int) -> None: ...

    async def audit(self, guild_id: int, channel_id: int, entry: AuditEntry) -> None:
        """Write one entry to a server's audit-log channel."""
        ...


# --- the store --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Balances:
    """A period's ledger sums (negative = spent) and the jobs in flight: everything a quota is made of."""

    server_sum: int = 0
    member_sum: int = 0
    member_cap: int | None = None  # the member's own cap, when an admin set one
    member_active: int = 0
    server_active: int = 0


@dataclass(frozen=True, slots=True)
class Ban:
    guild_id: int
    user_id: int
    reason: str | None
    banned_by: int | None
    created_at: float


@dataclass(frozen=True, slots=True)
class BlockedTerm:
    id: int
    pattern: str
    is_regex: bool


@dataclass(frozen=True, slots=True)
class AdmissionSnapshot:
    """What admission decides on, read inside the admission's transaction."""

    balances: Balances
    ban: Ban | None
    last_job_at: float | None  # the member's latest job (for the cooldown); None when not asked or none


@dataclass(frozen=True, slots=True)
class JobTicket:
    """A job asking to be admitted: everything the store writes once the decision says yes."""

    guild_id: int
    channel_id: int
    user_id: int
    operation: Operation
    request: Mapping[str, Any]
    provider: str
    period_key: str
    parent_track_id: int | None
    now: float
    with_last_job: bool = False  # read the member's latest job too (only a cooldown needs it)
    second_parent_track_id: int | None = None  # a mashup's other track
    owner: str | None = None  # the worker (process) the job is leased to from the start, when many share the store


AdmissionDecision = Callable[[AdmissionSnapshot], int]
"""Core's rules over a snapshot: returns the cost to reserve, or raises to refuse. Pure and quick: it runs inside
the store's transaction (on SQLite's database thread)."""


@dataclass(frozen=True, slots=True)
class Completion:
    """A job the provider finished, with what it made.

    ``partials``: a follow-up joined each of these (a Sonic extension's new part) into ``clips[i]`` (the full song);
    both are stored, the partial as the full song's parent, so the lineage keeps it. ``result_text``: what a job
    that makes no tracks (stems) made, as JSON."""

    job: Job
    clips: tuple[Clip, ...]
    partials: tuple[Clip, ...] = ()
    result_text: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    """A processed webhook delivery, remembered so a replay is recognised."""

    event_key: str
    task_id: str


@dataclass(frozen=True, slots=True)
class Finished:
    """A job the store moved to SUCCEEDED, as now stored, with its new tracks."""

    job: Job
    tracks: tuple[Track, ...]


@dataclass(frozen=True, slots=True)
class TrackPage:
    tracks: list[Track]
    page: int  # 0-based, clamped to the pages there are
    pages: int


class JobStore(Protocol):
    async def admit(self, ticket: JobTicket, decide: AdmissionDecision) -> Job:
        """In one transaction: read the snapshot, ask ``decide``, and write the job with its reservation.
        Atomic across processes: two admissions never both spend the last credits."""
        ...

    async def job(self, job_id: int) -> Job | None: ...

    async def unfinished_jobs(self) -> list[Job]:
        """Jobs still queued, submitted or running, oldest first (recovery)."""
        ...

    async def undelivered_jobs(self) -> list[Job]:
        """Finished jobs whose outcome has not reached Discord yet, oldest first (recovery)."""
        ...

    async def active_jobs_of(self, guild_id: int, user_id: int, *, limit: int = 25) -> list[Job]:
        """A member's jobs still in the works, newest first."""
        ...

    async def attach_status_message(self, job_id: int, message_id: int, channel_id: int | None = None) -> None: ...

    async def mark_submitted(self, job_id: int, task_id: str, now: float) -> bool:
        """Record the provider's task id, unless the job stopped being queued meanwhile (cancelled)."""
        ...

    async def mark_running(self, job_id: int, polls: int) -> bool:
        """Only a job still waiting moves (never a cancelled or finished one)."""
        ...

    async def finish_jobs(
        self, completions: Sequence[Completion], webhooks: Sequence[WebhookReceipt], now: float
    ) -> dict[int, Finished]:
        """In one transaction: move the still-active jobs to SUCCEEDED, store their tracks (or a download's
        link), settle their reservations, and remember the webhooks. Returns the jobs that moved."""
        ...

    async def end_job(
        self, job_id: int, state: JobState, failure: Failure, now: float, *, delivered: bool = False
    ) -> Job | None:
        """In one transaction: end a still-active job (FAILED or CANCELLED) and refund its reservation.
        ``delivered``: the member was told another way. None when the job had already ended."""
        ...

    async def complete_lyrics(self, job_id: int, drafts: Sequence[DraftedLyrics], now: float) -> None:
        """A lyrics job answered: drafts stored, reservation settled, nothing left to deliver."""
        ...

    async def complete_at_once(self, job_id: int, result_text: str, now: float) -> bool:
        """A job answered inside the command (a studio tool): its result stored, its reservation settled, nothing
        left to deliver. False when the job had already ended."""
        ...

    async def record_followup(self, job_id: int, task_id: str, followup: Mapping[str, Any], now: float) -> bool:
        """A still-active job moved to its next provider task (a follow-up step): the task id and what the steps
        made so far. False when the job ended meanwhile (cancelled)."""
        ...

    async def claim_deliveries(
        self, job_id: int, nonces: Mapping[int, str], owner: str, now: float
    ) -> list[DeliveryClaim]:
        """Before posting, in one transaction: record the intent to post each slot (a track's id) of a job with its
        nonce, or return the claim recorded before by any process (``fresh`` False), whose nonce every later
        attempt sends. In the order of ``nonces``. One claim per job and slot, whoever asks (a unique key); claims
        are kept, so a late attempt still finds one."""
        ...

    async def record_deliveries(self, deliveries: Sequence[Delivery], delivered: Sequence[int], now: float) -> None:
        """In one transaction: where tracks were posted, and which jobs are now fully delivered."""
        ...


class TrackStore(Protocol):
    async def track(self, track_id: int) -> Track | None:
        """Deleted tracks too (their ``deleted`` flag says so)."""
        ...

    async def tracks_of_job(self, job_id: int) -> list[Track]: ...

    async def ancestors(self, track_id: int, *, limit: int = 25) -> list[Track]:
        """The chain of parents, direct parent first, stopping at a missing track or a loop."""
        ...

    async def children(self, track_id: int) -> list[Track]:
        """Remixes of a track that are not deleted, oldest first (mashups it is the second track of too)."""
        ...

    async def find_tracks(self, guild_id: int, text: str, *, limit: int = 25) -> list[Track]:
        """Newest first: by title, style or id when ``text`` is given, else the most recent."""
        ...

    async def track_channels(self, guild_id: int, author_id: int | None = None) -> set[int]:
        """The channels (and threads) a server's tracks live in (``author_id``'s tracks only, when given)."""
        ...

    async def track_page(
        self, guild_id: int, author_id: int | None, page: int, size: int, *, visible: Visible
    ) -> TrackPage:
        """Newest first, only tracks ``visible`` allows: the count of pages counts those only."""
        ...

    async def set_thread(self, track_id: int, thread_id: int) -> None: ...

    async def set_alignment(self, track_id: int, alignment: LyricsAlignment) -> None:
        """Keep a track's lyrics timeline (asked once of the provider), so it is answered again for free."""
        ...

    async def delete_track(self, track_id: int) -> bool: ...


class CreditStore(Protocol):
    async def balances(self, guild_id: int, user_id: int, period_key: str) -> Balances: ...

    async def ledger_of_job(self, job_id: int) -> list[LedgerEntry]: ...

    async def grant(
        self,
        guild_id: int,
        amount: int,
        period_key: str,
        *,
        member_id: int | None,
        actor_id: int,
        now: float,
        note: str | None = None,
    ) -> None: ...

    async def set_member_cap(self, guild_id: int, user_id: int, cap: int | None) -> None: ...

    async def reset_period(self, settings: GuildSettings, period_key: str, *, actor_id: int, now: float) -> None:
        """In one transaction: store the settings (with the bumped epoch) and the reset's ledger marker."""
        ...


class SettingsStore(Protocol):
    async def guild_settings(self, guild_id: int) -> GuildSettings | None: ...

    async def save_settings(self, settings: GuildSettings) -> None: ...


class ModerationStore(Protocol):
    async def blocked_terms(self, guild_id: int) -> list[BlockedTerm]: ...

    async def add_blocked_term(self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int, now: float) -> bool:
        """False when exactly this rule is already stored."""
        ...

    async def remove_blocked_term(self, guild_id: int, pattern: str) -> bool: ...

    async def ban(self, guild_id: int, user_id: int, *, reason: str | None, banned_by: int, now: float) -> None: ...

    async def unban(self, guild_id: int, user_id: int) -> bool: ...

    async def bans(self, guild_id: int) -> list[Ban]: ...


class ProviderStateStore(Protocol):
    """Provider-wide state: operations a provider retired, and webhook deliveries already processed."""

    async def retired_operations(self, provider: str) -> dict[Operation, str | None]: ...

    async def retire_operation(
        self, provider: str, operation: Operation, *, message: str | None, now: float
    ) -> None: ...

    async def reinstate_operation(self, provider: str, operation: Operation) -> bool: ...

    async def record_webhook(self, receipt: WebhookReceipt, now: float) -> bool:
        """Remember a webhook delivery; False when it was seen before (a replay to ignore)."""
        ...

    async def prune_webhooks(self, before: float) -> int:
        """Forget webhook deliveries received before ``before`` (they can no longer be replayed validly)."""
        ...


@dataclass(frozen=True, slots=True)
class NewPersona:
    """A persona the provider just saved, to keep for the server."""

    guild_id: int
    provider: str
    name: str
    persona_id: str
    track_id: int | None
    created_by: int


class PersonaStore(Protocol):
    """Voices saved from tracks, per server and provider; names are unique per server and provider (any case)."""

    async def save_persona(self, job_id: int, persona: NewPersona, now: float) -> Persona | None:
        """In one transaction: keep the persona and settle the job that made it (answered at once). None when the
        name was taken meanwhile (nothing written; the caller refunds the job)."""
        ...

    async def personas(self, guild_id: int, provider: str) -> list[Persona]:
        """A server's personas for a provider, by name."""
        ...

    async def persona(self, persona_id: int) -> Persona | None: ...

    async def delete_persona(self, persona_id: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class TakenOver:
    """Jobs a worker just leased from workers that went silent (or that nobody held)."""

    unfinished: list[Job]  # still queued, submitted or running, oldest first
    undelivered: list[Job]  # finished, their outcome not yet delivered, oldest first


@dataclass(frozen=True, slots=True)
class PollRoom:
    """What a worker about to make a batched status poll is told first (bot/core/jobs/tracker.py)."""

    poll: list[int]  # of its own batch, those to poll now (marked polled)
    lost: list[int]  # of its own batch, jobs no longer leased to it or no longer at the provider: not polled
    polled: dict[int, float]  # of its own batch, those another worker polled since: when (not polled again yet)
    due: list[Job]  # other workers' tasks at the provider due for a poll (marked polled): they fill the room


@dataclass(frozen=True, slots=True)
class CacheChange:
    """One change another process may have cached: a server's settings or block rules, or the retired operations
    (``scope`` "settings", "blocklist" or "catalog"; ``guild_id`` 0 for the catalog)."""

    seq: int
    scope: str
    guild_id: int


class ClusterStore(Protocol):
    """Many bot processes ("workers") on one database: leases, the global queue, the change feed, and the
    per-channel edit budget. Each call is one transaction. The SQLite store implements it too (one process: its
    leases are always its own), so both stores pass one contract suite."""

    async def heartbeat(self, worker: str, now: float, held: Sequence[int]) -> list[int]:
        """Say ``worker`` is alive at ``now``; returns the ids among ``held`` no longer leased to it (another
        worker took them over while this one was silent)."""
        ...

    async def take_over(self, worker: str, now: float, stale_before: float, *, limit: int = 500) -> TakenOver:
        """Lease to ``worker`` the undelivered jobs (live or finished) of workers whose last heartbeat is older than
        ``stale_before``, and those nobody holds. Two workers never take the same job."""
        ...

    async def strays(self, worker: str, held: Sequence[int]) -> list[Job]:
        """Jobs at the provider (submitted or running) leased to ``worker`` that it does not hold (``held``): it
        must have let go of them by mistake (a race with a worker it took them from); it takes them up again."""
        ...

    async def adopt(self, worker: str, job_id: int) -> Job | None:
        """Lease one live job to ``worker`` now, whoever held it (a webhook for it reached this worker); None when
        the job is not live any more."""
        ...

    async def poll_room(
        self,
        worker: str,
        provider: str,
        *,
        mine: Sequence[tuple[int, float]],
        now: float,
        submitted_before: float,
        polled_before: float,
        limit: int,
    ) -> PollRoom:
        """Polls shared by every worker. ``mine``: the batch ``worker`` is about to poll, each job with a cut: a job
        last polled (by anyone) after its cut was polled by another worker since this one did, so it is not polled
        now. Those to poll are marked polled at ``now``; then, when there are any, other workers' tasks at the
        provider (submitted or running, with a task id, one step: no follow-up) submitted before
        ``submitted_before`` and not polled after ``polled_before``, oldest first, fill the call (``limit`` is its
        size): they are marked polled at ``now`` too and returned, to ride along."""
        ...

    async def release(self, worker: str) -> None:
        """``worker`` stops: its leases are given back (others take them over at once) and its heartbeat goes."""
        ...

    async def claim_slots(
        self,
        worker: str,
        provider: str,
        concurrency: int,
        *,
        ready: Sequence[int],
        returned: Sequence[int],
        now: float,
    ) -> list[int]:
        """The global fair queue. In one transaction, for one provider at a time: mark ``ready`` (the worker's
        queued jobs that may start), put ``returned`` back in line (dispatched, but their submit must wait), hand
        the free provider slots (``concurrency`` minus the jobs at the provider or dispatched, counted across
        every worker) to the ready jobs in fair order (servers in turn, members in turn inside a server), and
        return the ids of the worker's jobs that hold a slot and are still queued (to submit now)."""
        ...

    async def latest_change(self) -> int:
        """The sequence number of the latest cache change (0 when none)."""
        ...

    async def changes_since(self, seq: int) -> list[CacheChange]:
        """Cache changes after ``seq``, oldest first."""
        ...

    async def prune_changes(self, before: float) -> int:
        """Forget cache changes made before ``before``."""
        ...

    async def claim_channel_edit(self, channel_id: int, now: float, spacing: float) -> float:
        """Reserve the next edit slot of a channel, shared by every process: slots are ``spacing`` seconds apart.
        Returns how long to wait before editing (0: at once)."""
        ...


class Store(
    JobStore, TrackStore, CreditStore, SettingsStore, ModerationStore, ProviderStateStore, PersonaStore, Protocol
):
    """Everything core keeps. SQLite today (bot/storage); the contract suite in tests/storage holds any store
    to the same behaviour."""

    async def close(self) -> None: ...
