"""The ports the core depends on. Adapters (providers, storage, Discord UI) implement them structurally."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.models import (
    DraftedLyrics,
    GuildSettings,
    Job,
    JobState,
    LedgerEntry,
    LedgerKind,
    MusicRequest,
    Operation,
    TaskStatus,
    Track,
    WebhookTarget,
)


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

    async def submit(self, request: MusicRequest, *, webhook: WebhookTarget | None = None) -> str:
        """Start a task and return its id. Raises ProviderError."""
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


@dataclass(frozen=True, slots=True)
class Progress:
    """What a status message shows while a job waits or renders."""

    state: JobState
    position: int | None = None  # place in the queue, 1-based, while queued
    elapsed_s: float = 0.0
    eta_s: float | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a track ended up on Discord."""

    track_id: int
    channel_id: int
    message_id: int
    thread_id: int | None = None


class DeliveryIncomplete(Exception):
    """Raised by a Notifier that posted some of a job's tracks before failing: the engine records those."""

    def __init__(self, deliveries: Sequence[Delivery], cause: BaseException) -> None:
        super().__init__(f"{len(deliveries)} track(s) posted before: {cause!r}")
        self.deliveries = list(deliveries)


class Notifier(Protocol):
    """Tells members about their jobs. The Discord implementation edits status messages by channel and id."""

    async def job_progress(self, job: Job, progress: Progress) -> None: ...

    async def job_succeeded(self, job: Job, tracks: Sequence[Track]) -> list[Delivery]:
        """Post every track not yet posted (``message_id is None``) and say where each went."""
        ...

    async def job_failed(self, job: Job, reason: str, refunded: int) -> None: ...


class Clock(Protocol):
    """Wall time in seconds since the epoch; injected so tests and the benchmark can control it."""

    def __call__(self) -> float: ...


# --- storage ports: the repositories a unit of work offers (implemented in bot/storage) -------------------------
class JobRepo(Protocol):
    async def add(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        operation: Operation,
        request: Mapping[str, Any],
        provider: str,
        cost: int,
        period_key: str,
        parent_track_id: int | None,
        now: float,
        state: JobState = JobState.QUEUED,
    ) -> Job: ...
    async def get(self, job_id: int) -> Job | None: ...
    async def update(self, job_id: int, **fields: Any) -> None: ...
    async def mark_submitted(self, job_id: int, task_id: str, now: float) -> bool: ...

    async def mark_running(self, job_id: int, poll_count: int) -> bool: ...

    async def mark_delivered(self, job_ids: list[int], now: float) -> None: ...

    async def finish_many(self, job_ids: list[int], state: JobState, now: float) -> list[int]: ...

    async def active(self) -> list[Job]: ...
    async def undelivered(self) -> list[Job]: ...
    async def last_created_at(self, guild_id: int, user_id: int) -> float | None: ...
    async def task_ids(self) -> dict[int, str | None]: ...

    async def counts_by_state(self) -> dict[str, int]: ...
    async def recent(self, guild_id: int, user_id: int | None = None, *, limit: int = 25) -> list[Job]: ...


class TrackRepo(Protocol):
    async def add_many(self, rows: list[dict[str, Any]], *, now: float) -> dict[int, list[Track]]: ...

    async def get(self, track_id: int) -> Track | None: ...
    async def for_job(self, job_id: int) -> list[Track]: ...
    async def children(self, track_id: int) -> list[Track]: ...
    async def set_messages(self, deliveries: Iterable[Any]) -> None: ...

    async def set_thread(self, track_id: int, thread_id: int) -> None: ...
    async def mark_deleted(self, track_id: int) -> None: ...
    async def recent(
        self, guild_id: int, *, author_id: int | None = None, limit: int = 10, offset: int = 0
    ) -> list[Track]: ...
    async def count(self, guild_id: int, *, author_id: int | None = None) -> int: ...
    async def search(self, guild_id: int, text: str, *, limit: int = 25) -> list[Track]: ...


class LedgerRepo(Protocol):
    async def append_many(self, entries: list[dict[str, Any]], *, now: float) -> None: ...

    async def append(
        self,
        *,
        guild_id: int,
        kind: LedgerKind,
        amount: int,
        period_key: str,
        now: float,
        user_id: int | None = None,
        job_id: int | None = None,
        note: str | None = None,
        actor_id: int | None = None,
    ) -> int: ...
    async def balances(self, guild_id: int, user_id: int, period_key: str) -> dict[str, int | None]: ...

    async def for_job(self, job_id: int) -> list[LedgerEntry]: ...
    async def settled(self, job_id: int) -> bool: ...


class SettingsRepo(Protocol):
    async def get(self, guild_id: int) -> GuildSettings | None: ...
    async def save(self, settings: GuildSettings) -> None: ...
    async def set_member_cap(self, guild_id: int, user_id: int, cap: int | None) -> None: ...


class ModerationRepo(Protocol):
    async def blocked_terms(self, guild_id: int) -> list[dict[str, Any]]: ...
    async def add_blocked_term(
        self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int, now: float
    ) -> int: ...
    async def remove_blocked_term(self, guild_id: int, pattern: str) -> int: ...
    async def ban(self, guild_id: int, user_id: int, *, reason: str | None, banned_by: int, now: float) -> None: ...
    async def unban(self, guild_id: int, user_id: int) -> bool: ...
    async def ban_of(self, guild_id: int, user_id: int) -> dict[str, Any] | None: ...
    async def bans(self, guild_id: int) -> list[dict[str, Any]]: ...


class ProviderRepo(Protocol):
    """Provider-wide state: operations a provider retired, and webhook deliveries already processed."""

    async def retired(self, provider: str) -> dict[Operation, str | None]: ...
    async def retire(self, provider: str, operation: Operation, *, message: str | None, now: float) -> None: ...
    async def reinstate(self, provider: str, operation: Operation) -> bool: ...
    async def record_webhooks(self, events: list[tuple[str, str]], now: float) -> None: ...

    async def record_webhook(self, event_key: str, task_id: str, now: float) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction over every repository; leaving without ``commit()`` rolls back."""

    jobs: JobRepo
    tracks: TrackRepo
    ledger: LedgerRepo
    settings: SettingsRepo
    moderation: ModerationRepo
    providers: ProviderRepo

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = True) -> UnitOfWork: ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of a server's audit log: who did what, with what outcome and credits moved."""

    actor_id: int
    action: str  # e.g. "create", "refused", "settings", "grant", "ban", "block"
    summary: str
    outcome: str | None = None
    credits: int | None = None  # negative: spent, positive: returned or granted
    link: str | None = None
    admin_note: str | None = None  # e.g. the block rule hit: admins only


class AuditLog(Protocol):
    """Where audit entries go (the server's audit-log channel, when one is set)."""

    async def record(self, guild_id: int, entry: AuditEntry) -> None: ...
