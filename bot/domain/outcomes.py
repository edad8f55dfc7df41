"""What a job comes to, as structured values: progress, results to post, failures, and the outcome once posted.

These cross the Notifier port (core -> ui) and reach the outcome listeners (audit, metrics). No words a member
reads are built here: the ui renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.models import Job, JobState, Operation, Track


class FailureKind(StrEnum):
    """Why a job ended without a result. The provider kinds match :class:`bot.domain.errors.ErrorKind`."""

    REJECTED = "rejected"
    MODERATION = "moderation"
    CREDITS = "credits"
    AUTH = "auth"
    RETIRED = "retired"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the bot stopped while answering at once (a lyrics draft)
    NOT_STARTED = "not_started"  # the status message could not be posted, so the job never ran
    INTERNAL = "internal"  # an unexpected error in the bot itself; ``detail`` is the reference logged with it


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a job failed: a kind the ui words, and the provider's own reason where it has one."""

    kind: FailureKind
    detail: str | None = None
    deadline_s: float | None = None  # timeouts: how long the job was given

    @classmethod
    def of(cls, kind: str, detail: str | None = None) -> Failure:
        """From a stored or provider-given kind; anything unknown is the provider's refusal."""
        try:
            return cls(FailureKind(kind), detail)
        except ValueError:
            return cls(FailureKind.REJECTED, detail)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a waiting or rendering job stands. Times are unix seconds, so any later edit can say 'elapsed'."""

    state: JobState
    position: int | None = None  # place in the queue, 1-based, while queued
    started_at: float | None = None  # when the provider took it
    expected_s: float | None = None  # how long a render is expected to take
    joining: bool = False  # rendered; now joined into the full song (a Sonic extension's follow-up)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a track ended up on Discord."""

    track_id: int
    channel_id: int
    message_id: int
    thread_id: int | None = None


class DeliveryIncomplete(Exception):
    """Raised by a Notifier that posted some of a job's tracks before failing: core records those."""

    def __init__(self, deliveries: Sequence[Delivery], cause: BaseException) -> None:
        super().__init__(f"{len(deliveries)} track(s) posted before: {cause!r}")
        self.deliveries = list(deliveries)


@dataclass(frozen=True, slots=True)
class TrackCard:
    """One track to post: the track, the track it came from (for the lineage line), and a nonce that
    identifies this post (stable across retries and restarts, so a post can be recognised)."""

    track: Track
    parent: Track | None = None
    nonce: str = ""
    second_parent: Track | None = None  # a mashup's other track (both authors are credited)
    hidden: frozenset[int] = frozenset()  # parents not to name: in a channel the member who asked can't view


@dataclass(frozen=True, slots=True)
class JobResult:
    """A succeeded job, ready to post: new tracks not posted yet, or (downloads) the file and its source."""

    job: Job
    cards: tuple[TrackCard, ...] = ()
    source: Track | None = None  # the track a download or a tool was made from (None when it was deleted since)
    actions: frozenset[Operation] = frozenset()  # the operations a post's buttons may offer now
    first_replaces_status: bool = True  # False when an earlier try already turned the status message into a post


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """A finished job once its members were told: what the audit log and the metrics hear about."""

    job: Job
    tracks: tuple[Track, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    failure: Failure | None = None
    refunded: int = 0

    @property
    def succeeded(self) -> bool:
        return self.failure is None
