"""The in-flight registry: one record per job between admission and its end, and one way to forget it.

Everything core knows in memory about a running job lives in its :class:`InFlight` record (the job as last
written, where it is in its life, its submit back-off, its poll schedule), so ending a job is one call that
cannot miss a piece. The fair queue of waiting jobs lives here too: a forgotten job leaves the line at once.
The counts per state are the ``tunesmith_jobs_in_flight`` gauge (:meth:`Registry.by_state`, read when metrics are
scraped), so metrics never read the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from bot.core.fair_queue import FairQueue
from bot.domain.models import Job
from bot.domain.requests import JobRequest


class Phase(StrEnum):
    HELD = "held"  # admitted, waiting (briefly) for its status message
    QUEUED = "queued"  # in the fair queue, waiting for a provider slot (or for its submit back-off)
    SUBMITTING = "submitting"  # a submit call is on its way
    SUBMITTED = "submitted"  # the provider has a task id
    RUNNING = "running"  # the provider says it renders


# The gauge speaks in the job states members see.
_GAUGE_STATE = {
    Phase.HELD: "queued",
    Phase.QUEUED: "queued",
    Phase.SUBMITTING: "submitted",
    Phase.SUBMITTED: "submitted",
    Phase.RUNNING: "running",
}
_AT_PROVIDER = (Phase.SUBMITTING, Phase.SUBMITTED, Phase.RUNNING)


@dataclass(slots=True, eq=False)
class InFlight:
    """Everything core keeps in memory about one job in flight."""

    job: Job  # as last written
    phase: Phase
    request: JobRequest | None = None  # the validated request, when admitted here (saves parsing it again)
    release_at: float = 0.0  # HELD: run without a status message after this
    retry_at: float = 0.0  # QUEUED: not submitted again before this (back-off)
    attempts: int = 0  # failed submits so far
    submitted_at: float = 0.0
    next_poll: float = 0.0
    webhook: bool = False  # the provider reports back by webhook; polls are only a safety net
    polls: int = 0
    probe: bool = False  # polled early to learn a render time nobody knows yet (bot/core/jobs/estimate.py)
    unfinished_at: float = 0.0  # the task's age when a poll last found it unfinished (what render times learn from)
    expiring: bool = False  # a last look before the deadline is on its way
    look_again_at: float = 0.0  # past the deadline: the next last look not before this (the provider said wait)
    position: int | None = None  # the queue position last reported to the member
    advancing: bool = False  # a follow-up step is on its way (bot/core/jobs/followup.py)

    @property
    def id(self) -> int:
        return self.job.id

    @property
    def task_id(self) -> str | None:
        return self.job.task_id


class Registry:
    def __init__(self) -> None:
        self._records: dict[int, InFlight] = {}
        self._counts: Counter[Phase] = Counter()
        self._states: Counter[str] = Counter({state: 0 for state in _GAUGE_STATE.values()})
        self.queue = FairQueue()

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._records

    def __iter__(self) -> Iterator[InFlight]:
        return iter(list(self._records.values()))

    def get(self, job_id: int) -> InFlight | None:
        return self._records.get(job_id)

    def add(self, job: Job, phase: Phase, request: JobRequest | None = None) -> InFlight:
        if job.id in self._records:
            raise ValueError(f"job {job.id} is already in flight")
        record = InFlight(job=job, phase=phase, request=request)
        self._records[job.id] = record
        self._count(phase, +1)
        if phase is Phase.QUEUED:
            self.queue.push(job.id, job.guild_id, job.user_id)
        return record

    def move(self, record: InFlight, phase: Phase) -> None:
        """Into another phase; into QUEUED means into the fair queue (at the back of its member's line)."""
        if self._records.get(record.id) is not record or record.phase is phase:
            return
        if record.phase is Phase.QUEUED:
            self.queue.remove(record.id)
        self._count(record.phase, -1)
        record.phase = phase
        self._count(phase, +1)
        if phase is Phase.QUEUED:
            self.queue.push(record.id, record.job.guild_id, record.job.user_id)

    def next_queued(self) -> InFlight | None:
        """Take the next job in fair order out of the queue (it stays QUEUED until moved)."""
        while len(self.queue):
            job_id = self.queue.pop()
            record = self._records.get(job_id) if job_id is not None else None
            if record is not None and record.phase is Phase.QUEUED:
                return record
        return None

    def requeue(self, record: InFlight) -> None:
        """Back in line after :meth:`next_queued` passed it over (its back-off has not run out)."""
        if self._records.get(record.id) is record and record.phase is Phase.QUEUED:
            self.queue.push(record.id, record.job.guild_id, record.job.user_id)

    def forget(self, job_id: int) -> InFlight | None:
        """The job ended (or left this process): drop its record and its place in line."""
        record = self._records.pop(job_id, None)
        if record is not None:
            if record.phase is Phase.QUEUED:
                self.queue.remove(job_id)
            self._count(record.phase, -1)
        return record

    def count(self, *phases: Phase) -> int:
        return sum(self._counts[p] for p in phases)

    def waiting(self) -> int:
        """Jobs not yet at the provider."""
        return self._counts[Phase.HELD] + self._counts[Phase.QUEUED]

    def at_provider(self) -> int:
        """Jobs taking one of the provider's concurrency slots."""
        return sum(self._counts[p] for p in _AT_PROVIDER)

    def by_state(self) -> dict[str, int]:
        """Jobs in flight per state (queued, submitted, running), from memory: the jobs-in-flight gauge."""
        return dict(sorted(self._states.items()))

    def _count(self, phase: Phase, delta: int) -> None:
        self._counts[phase] += delta
        self._states[_GAUGE_STATE[phase]] += delta
