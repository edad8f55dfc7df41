"""The ports the core depends on. Adapters (providers, storage, Discord UI) implement them structurally."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.domain.models import (
    DraftedLyrics,
    Job,
    JobState,
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
