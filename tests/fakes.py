"""In-memory fakes of core's ports: a store, a provider, a notifier and a clock. No I/O, no real time.

``MemoryStore`` passes the same store contract suite as the SQLite store (tests/storage), so core tests on it
say something about the real thing. ``FakeClock`` moves only when a test advances it; everything in core that
waits goes through the Clock port, so a test covering ten minutes of a job's life runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.domain.audit import AuditEntry
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.lyrics_timeline import AlignedWord, LyricsAlignment
from bot.domain.models import (
    Clip,
    DraftedLyrics,
    GuildSettings,
    Job,
    JobState,
    LedgerEntry,
    LedgerKind,
    MusicRequest,
    Operation,
    Persona,
    TaskFailure,
    TaskState,
    TaskStatus,
    Track,
    WebhookTarget,
)
from bot.domain.outcomes import Delivery, DeliveryIncomplete, Failure, JobResult, Progress
from bot.domain.ports import (
    AdmissionDecision,
    AdmissionSnapshot,
    Balances,
    Ban,
    BlockedTerm,
    Completion,
    Finished,
    JobTicket,
    NewPersona,
    TrackPage,
    WebhookReceipt,
)
from bot.domain.sonic import (
    Bpm,
    Midi,
    MidiInstrument,
    MidiNote,
    SavePersona,
    Stem,
    Stems,
    Tool,
    ToolResult,
    ToolStatus,
    UpsampledTags,
    VoxClip,
    WavFile,
)

_ACTIVE = (JobState.QUEUED, JobState.SUBMITTED, JobState.RUNNING)


def _when(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


# --- the clock ----------------------------------------------------------------------------------------------------
@dataclass(order=True)
class _Timer:
    when: float
    seq: int
    fire: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class FakeClock:
    """The Clock port on a hand-moved time. ``advance`` fires due timers in order, letting the woken tasks run."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._timers: list[_Timer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def _add(self, delay: float, fire: Callable[[], None]) -> _Timer:
        timer = _Timer(self._now + max(delay, 0.0), next(self._seq), fire)
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self._add(seconds, lambda: future.done() or future.set_result(None))
        try:
            await future
        finally:
            timer.cancelled = True

    def timeout(self, seconds: float) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._timeout(seconds)

    @contextlib.asynccontextmanager
    async def _timeout(self, seconds: float) -> AsyncIterator[asyncio.Timeout]:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(None) as scope:
            timer = self._add(seconds, lambda: scope.expired() or scope.reschedule(loop.time()))
            try:
                yield scope
            finally:
                timer.cancelled = True

    def next_timer(self) -> float | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].when if self._timers else None

    async def settle(self, rounds: int = 60) -> None:
        """Let every task that can run, run (nothing here waits on real I/O)."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float = 0.0) -> None:
        """Move time forward, firing every timer due on the way, in order."""
        target = self._now + seconds
        await self.settle()
        while (due := self.next_timer()) is not None and due <= target:
            timer = heapq.heappop(self._timers)
            self._now = max(self._now, timer.when)
            timer.fire()
            await self.settle()
        self._now = target
        await self.settle()

    async def run_until(self, predicate: Callable[[], bool], *, limit: float = 3600.0) -> None:
        """Advance timer by timer until ``predicate()`` holds; fail after ``limit`` seconds of fake time."""
        deadline = self._now + limit
        await self.settle()
        while not predicate():
            due = self.next_timer()
            if due is None or due > deadline:
                raise AssertionError(f"condition not met within {limit:g} s of fake time")
            await self.advance(max(due - self._now, 0.0))


# --- the provider -------------------------------------------------------------------------------------------------
@dataclass
class FakeTask:
    task_id: str
    request: MusicRequest
    submitted_at: float
    webhook: WebhookTarget | None
    render_s: float
    failure: TaskFailure | None = None
    clips: int = 1


class FakeProvider:
    """The MusicProvider port: tasks render in ``render_s`` of clock time; failures are scripted."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        name: str = "fake",
        render_s: float = 3.0,
        batch_size: int = 1,
        clips_per_task: int = 1,
        max_concurrency: int = 10,
        supports_webhooks: bool = True,
        operations: frozenset[Operation] = frozenset(Operation),
        models: tuple[str, ...] = ("FUZZ-2.0", "FUZZ-2.0 Pro"),
        request_dialect: str = "generic",
        extensions_are_partial: bool = False,
        tools: frozenset[Tool] = frozenset(Tool),
    ) -> None:
        self.clock = clock
        self.name = name
        self.render_s = render_s
        self.batch_size = batch_size
        self.clips_per_task = clips_per_task
        self.max_concurrency = max_concurrency
        self.supports_webhooks = supports_webhooks
        self.operations = operations
        self.models = models
        self.request_dialect = request_dialect
        self.extensions_are_partial = extensions_are_partial
        self.tools = tools
        self.tool_tasks: dict[str, tuple[Tool, str, float]] = {}  # task id -> (tool, clip id, submitted at)
        self.tool_calls: list[tuple[Tool, str | None, dict[str, Any]]] = []
        self.tool_errors: list[ProviderError] = []  # raised by the next tool calls (and persona saves), in order
        self.personas: list[SavePersona] = []
        self.tasks: dict[str, FakeTask] = {}
        self.fetches: list[list[str]] = []
        self.submit_errors: list[ProviderError] = []  # raised by the next submits, in order
        self.fetch_errors: list[ProviderError] = []
        self.task_failures: list[TaskFailure] = []  # given to the next tasks, in order
        self.submit_gate: asyncio.Event | None = None  # when set: submits wait for it
        self.balance: float | None = 500.0
        self._ids = itertools.count(1)

    @property
    def submits(self) -> int:
        return len(self.tasks)

    async def submit(self, request: MusicRequest, *, webhook: WebhookTarget | None = None) -> str:
        if self.submit_gate is not None:
            await self.submit_gate.wait()
        if self.submit_errors:
            raise self.submit_errors.pop(0)
        task_id = f"task-{next(self._ids)}"
        failure = self.task_failures.pop(0) if self.task_failures else None
        self.tasks[task_id] = FakeTask(
            task_id, request, self.clock.now(), webhook, self.render_s, failure, self.clips_per_task
        )
        return task_id

    def status(self, task_id: str) -> TaskStatus:
        task = self.tasks[task_id]
        age = self.clock.now() - task.submitted_at
        if age < task.render_s:
            return TaskStatus(task_id=task_id, state=TaskState.RUNNING if age > 0 else TaskState.QUEUED)
        if task.failure is not None:
            return TaskStatus(task_id=task_id, state=TaskState.FAILED, failure=task.failure)
        return self.finished(task_id)

    def finished(self, task_id: str) -> TaskStatus:
        """The task's final success, whatever the time (what a webhook would carry)."""
        task = self.tasks[task_id]
        request = task.request
        clips = tuple(
            Clip(
                clip_id=f"{task_id}-clip-{n}",
                title=getattr(request, "title", None),
                audio_url=f"https://files.test/{task_id}-{n}.wav",
                image_url=f"https://files.test/{task_id}-{n}.png",
                duration_s=4.0,
                lyrics=getattr(request, "lyrics", None) or "[Verse]\nla la",
                tags=getattr(request, "sound", None),
                model=getattr(request, "model", None),
            )
            for n in range(task.clips)
        )
        return TaskStatus(task_id=task_id, state=TaskState.SUCCEEDED, clips=clips)

    async def fetch(self, task_ids: Sequence[str]) -> list[TaskStatus]:
        assert len(task_ids) <= self.batch_size, (len(task_ids), self.batch_size)
        self.fetches.append(list(task_ids))
        if self.fetch_errors:
            raise self.fetch_errors.pop(0)
        return [self.status(t) for t in task_ids if t in self.tasks]

    async def credits(self) -> float | None:
        if self.balance is None:
            raise ProviderError(ErrorKind.UNAVAILABLE)
        return self.balance

    async def draft_lyrics(self, idea: str) -> list[DraftedLyrics]:
        if self.submit_errors:
            raise self.submit_errors.pop(0)
        return [DraftedLyrics(title=f"{idea} {n}", lyrics=f"[Verse]\n{idea} {n}") for n in (1, 2)]

    async def aclose(self) -> None:
        return None

    @property
    def polls(self) -> int:
        return len(self.fetches)

    # studio tools and personas (StudioTools, PersonaMaker)
    async def run_tool(self, clip_id: str | None, tool: Tool, **options: Any) -> ToolResult:
        self.tool_calls.append((tool, clip_id, dict(options)))
        if self.tool_errors:
            raise self.tool_errors.pop(0)
        files = f"https://files.test/{clip_id}"
        match tool:
            case Tool.BPM:
                return Bpm(avg=120.0, min=118.0, max=122.0)
            case Tool.MIDI:
                note = MidiNote(start_s=0.0, end_s=0.5, pitch=60, velocity=90)
                return Midi(url=f"{files}.mid", instruments=(MidiInstrument(name="Keys", notes=(note,)),))
            case Tool.WAV:
                return WavFile(url=f"{files}.wav")
            case Tool.VOX:
                return VoxClip(audio_url=f"{files}-vocals.wav", start_s=1.0, end_s=5.0)
            case Tool.LYRICS_TIMELINE:
                words = (AlignedWord(word="la", start_s=1.0, end_s=1.5), AlignedWord(word="la", start_s=1.5, end_s=2.0))
                return LyricsAlignment(words=words)
            case Tool.UPSAMPLE_TAGS:
                return UpsampledTags(tags=f"{options.get('tags')}, warm pads, 90 bpm")
        raise AssertionError(f"{tool} is not answered at once")

    async def submit_tool(self, clip_id: str, tool: Tool, *, webhook: WebhookTarget | None = None) -> str:
        if self.tool_errors:
            raise self.tool_errors.pop(0)
        task_id = f"tool-{next(self._ids)}"
        self.tool_tasks[task_id] = (tool, clip_id, self.clock.now())
        return task_id

    async def fetch_tool(self, tool: Tool, task_ids: Sequence[str]) -> list[ToolStatus]:
        self.fetches.append(list(task_ids))
        statuses = []
        for task_id in task_ids:
            _, clip_id, at = self.tool_tasks[task_id]
            if self.clock.now() - at < self.render_s:
                statuses.append(ToolStatus(task_id=task_id, tool=tool, state=TaskState.RUNNING))
                continue
            names = ("Vocals", "Instrumental") if tool is Tool.STEMS_BASIC else ("Vocals", "Drums", "Bass", "Keys")
            stems = Stems(tracks=tuple(Stem(name=n, audio_url=f"https://files.test/{clip_id}-{n}.wav") for n in names))
            statuses.append(ToolStatus(task_id=task_id, tool=tool, state=TaskState.SUCCEEDED, result=stems))
        return statuses

    async def save_persona(self, request: SavePersona) -> str:
        if self.tool_errors:
            raise self.tool_errors.pop(0)
        self.personas.append(request)
        return f"persona-{len(self.personas)}"


# --- the notifier -------------------------------------------------------------------------------------------------
@dataclass
class RecordingNotifier:
    """The Notifier port: records every call, posts nothing. Can be told to fail like Discord does."""

    progress: list[tuple[int, Progress]] = field(default_factory=list)
    succeeded: list[JobResult] = field(default_factory=list)
    failed: list[tuple[Job, Failure, int]] = field(default_factory=list)
    audits: list[tuple[int, int, AuditEntry]] = field(default_factory=list)
    fail_deliveries: int = 0  # the next N deliveries fail before anything is posted
    fail_after_first: int = 0  # the next N multi-song deliveries fail after the first song
    posts: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9000))
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def job_progress(self, job: Job, progress: Progress) -> None:
        self.progress.append((job.id, progress))

    async def job_succeeded(self, result: JobResult) -> list[Delivery]:
        if self.fail_deliveries:
            self.fail_deliveries -= 1
            raise ConnectionError("Discord is unreachable")
        deliveries: list[Delivery] = []
        for card in result.cards:
            if deliveries and self.fail_after_first:
                self.fail_after_first -= 1
                raise DeliveryIncomplete(deliveries, ConnectionError("Discord went away"))
            self.posts += 1
            deliveries.append(Delivery(card.track.id, card.track.channel_id, next(self._ids)))
        self.succeeded.append(result)
        self._event.set()
        return deliveries

    async def job_failed(self, job: Job, failure: Failure, refunded: int) -> None:
        self.failed.append((job, failure, refunded))
        self._event.set()

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """In real time (integration tests): until ``count`` jobs were delivered, succeeded or failed."""
        async with asyncio.timeout(timeout):
            while len(self.finished_ids) < count:
                self._event.clear()
                await self._event.wait()

    async def audit(self, guild_id: int, channel_id: int, entry: AuditEntry) -> None:
        self.audits.append((guild_id, channel_id, entry))

    @property
    def finished_ids(self) -> list[int]:
        return [r.job.id for r in self.succeeded] + [j.id for j, _, _ in self.failed]

    def tracks(self, job_id: int) -> list[Track]:
        return [c.track for r in self.succeeded if r.job.id == job_id for c in r.cards]


# --- the store ----------------------------------------------------------------------------------------------------
class MemoryStore:
    """The Store port in memory. Each method is atomic (it never awaits), like a transaction on one thread."""

    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.tracks: dict[int, Track] = {}
        self.ledger: list[LedgerEntry] = []
        self.settings: dict[int, GuildSettings] = {}
        self.caps: dict[tuple[int, int], int] = {}
        self.terms: dict[int, list[BlockedTerm]] = {}
        self.bans_: dict[tuple[int, int], Ban] = {}
        self.retired: dict[tuple[str, Operation], str | None] = {}
        self.webhooks: dict[str, float] = {}
        self.personas_: dict[int, Persona] = {}
        self._persona_ids = itertools.count(1)
        self.calls: Counter[str] = Counter()
        self.batches: list[int] = []  # sizes of finish_jobs batches
        self._job_ids = itertools.count(1)
        self._track_ids = itertools.count(1)
        self._ledger_ids = itertools.count(1)
        self._term_ids = itertools.count(1)
        self.closed = False

    async def close(self) -> None:
        self.closed = True

    def _ledger(self, **values: Any) -> None:
        values.setdefault("user_id", None)
        values.setdefault("job_id", None)
        self.ledger.append(LedgerEntry(id=next(self._ledger_ids), **values))

    def _settled(self, job_id: int) -> bool:
        return any(e.job_id == job_id and e.kind in (LedgerKind.COMMIT, LedgerKind.REFUND) for e in self.ledger)

    # jobs
    async def admit(self, ticket: JobTicket, decide: AdmissionDecision) -> Job:
        self.calls["admit"] += 1
        balances = self._balances(ticket.guild_id, ticket.user_id, ticket.period_key)
        last = None
        if ticket.with_last_job:
            times = [
                j.created_at.timestamp()
                for j in self.jobs.values()
                if j.guild_id == ticket.guild_id and j.user_id == ticket.user_id and j.operation is not Operation.LYRICS
            ]
            last = max(times) if times else None
        cost = decide(AdmissionSnapshot(balances, self.bans_.get((ticket.guild_id, ticket.user_id)), last))
        job = Job(
            id=next(self._job_ids),
            guild_id=ticket.guild_id,
            channel_id=ticket.channel_id,
            user_id=ticket.user_id,
            operation=ticket.operation,
            request=dict(ticket.request),
            provider=ticket.provider,
            state=JobState.QUEUED,
            cost=cost,
            period_key=ticket.period_key,
            parent_track_id=ticket.parent_track_id,
            second_parent_track_id=ticket.second_parent_track_id,
            created_at=_when(ticket.now),
        )
        self.jobs[job.id] = job
        if cost > 0:
            self._ledger(
                guild_id=job.guild_id,
                user_id=job.user_id,
                job_id=job.id,
                kind=LedgerKind.RESERVE,
                amount=-cost,
                period_key=job.period_key,
                created_at=_when(ticket.now),
            )
        return job

    async def job(self, job_id: int) -> Job | None:
        return self.jobs.get(job_id)

    async def unfinished_jobs(self) -> list[Job]:
        return [j for _, j in sorted(self.jobs.items()) if j.state in _ACTIVE]

    async def undelivered_jobs(self) -> list[Job]:
        return [j for _, j in sorted(self.jobs.items()) if j.state not in _ACTIVE and j.delivered_at is None]

    async def active_jobs_of(self, guild_id: int, user_id: int, *, limit: int = 25) -> list[Job]:
        mine = [j for j in self.jobs.values() if j.guild_id == guild_id and j.user_id == user_id and j.state in _ACTIVE]
        return sorted(mine, key=lambda j: -j.id)[:limit]

    def _update(self, job_id: int, **changes: Any) -> Job:
        job = self.jobs[job_id].model_copy(update=changes)
        self.jobs[job_id] = job
        return job

    async def attach_status_message(self, job_id: int, message_id: int, channel_id: int | None = None) -> None:
        if job_id in self.jobs:
            changes: dict[str, Any] = {"status_message_id": message_id}
            if channel_id is not None:
                changes["channel_id"] = channel_id
            self._update(job_id, **changes)

    async def mark_submitted(self, job_id: int, task_id: str, now: float) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.state is not JobState.QUEUED:
            return False
        self._update(job_id, state=JobState.SUBMITTED, task_id=task_id, submitted_at=_when(now))
        return True

    async def mark_running(self, job_id: int, polls: int) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.state not in (JobState.QUEUED, JobState.SUBMITTED):
            return False
        self._update(job_id, state=JobState.RUNNING, poll_count=polls)
        return True

    async def finish_jobs(
        self, completions: Sequence[Completion], webhooks: Sequence[WebhookReceipt], now: float
    ) -> dict[int, Finished]:
        self.calls["finish_jobs"] += 1
        for receipt in webhooks:
            self.webhooks.setdefault(receipt.event_key, now)
        finished: dict[int, Finished] = {}
        for completion in {c.job.id: c for c in completions}.values():
            stored = self.jobs.get(completion.job.id)
            if stored is None or stored.state not in _ACTIVE:
                continue
            job = completion.job
            result_url = stored.result_url
            result_text = stored.result_text
            tracks: list[Track] = []
            if not job.operation.makes_tracks:
                result_url = next((c.audio_url for c in completion.clips if c.audio_url), None)
                result_text = completion.result_text or result_text
            elif completion.partials:
                # The partials first (each kept as its full song's parent), then the full songs.
                parents = [
                    self._add_track(job, clip, job.operation, job.parent_track_id, job.second_parent_track_id, now)
                    for clip in completion.partials
                ]
                tracks.extend(parents)
                for index, clip in enumerate(completion.clips):
                    parent = parents[index].id if index < len(parents) else job.parent_track_id
                    tracks.append(self._add_track(job, clip, Operation.CONCAT, parent, None, now))
            else:
                for clip in completion.clips:
                    tracks.append(
                        self._add_track(job, clip, job.operation, job.parent_track_id, job.second_parent_track_id, now)
                    )
            self._update(
                job.id,
                state=JobState.SUCCEEDED,
                finished_at=_when(now),
                result_url=result_url,
                result_text=result_text,
            )
            self._ledger(
                guild_id=job.guild_id,
                user_id=job.user_id,
                job_id=job.id,
                kind=LedgerKind.COMMIT,
                amount=0,
                period_key=job.period_key,
                created_at=_when(now),
            )
            done = job.model_copy(
                update={
                    "state": JobState.SUCCEEDED,
                    "finished_at": _when(now),
                    "result_url": result_url,
                    "result_text": result_text,
                }
            )
            finished[job.id] = Finished(done, tuple(tracks))
        self.batches.append(len(finished))
        return finished

    def _add_track(
        self, job: Job, clip: Clip, operation: Operation, parent: int | None, second: int | None, now: float
    ) -> Track:
        track = Track(
            id=next(self._track_ids),
            job_id=job.id,
            guild_id=job.guild_id,
            channel_id=job.channel_id,
            author_id=job.user_id,
            provider=job.provider,
            clip_id=clip.clip_id,
            title=clip.title or job.request.get("title"),
            audio_url=clip.audio_url,
            image_url=clip.image_url,
            duration_s=clip.duration_s,
            lyrics=clip.lyrics,
            tags=clip.tags,
            model=clip.model,
            operation=operation,
            parent_track_id=parent,
            second_parent_track_id=second,
            alignment=clip.alignment if clip.alignment is not None and not clip.alignment.empty else None,
            created_at=_when(now),
        )
        self.tracks[track.id] = track
        return track

    async def end_job(
        self, job_id: int, state: JobState, failure: Failure, now: float, *, delivered: bool = False
    ) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.state not in _ACTIVE:
            return None
        ended = self._update(
            job_id,
            state=state,
            finished_at=_when(now),
            failure_kind=failure.kind.value,
            failure_message=failure.detail,
            delivered_at=_when(now) if delivered else None,
        )
        if job.cost and not self._settled(job_id):
            self._ledger(
                guild_id=job.guild_id,
                user_id=job.user_id,
                job_id=job_id,
                kind=LedgerKind.REFUND,
                amount=job.cost,
                period_key=job.period_key,
                note=failure.kind.value,
                created_at=_when(now),
            )
        return ended

    async def complete_lyrics(self, job_id: int, drafts: Sequence[DraftedLyrics], now: float) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.state not in _ACTIVE:
            return
        text = json.dumps([d.model_dump() for d in drafts])
        self._update(
            job_id, state=JobState.SUCCEEDED, finished_at=_when(now), delivered_at=_when(now), result_text=text
        )
        self._ledger(
            guild_id=job.guild_id,
            user_id=job.user_id,
            job_id=job_id,
            kind=LedgerKind.COMMIT,
            amount=0,
            period_key=job.period_key,
            created_at=_when(now),
        )

    def _settle_now(self, job: Job, result_text: str, now: float) -> None:
        self._update(
            job.id, state=JobState.SUCCEEDED, finished_at=_when(now), delivered_at=_when(now), result_text=result_text
        )
        self._ledger(
            guild_id=job.guild_id,
            user_id=job.user_id,
            job_id=job.id,
            kind=LedgerKind.COMMIT,
            amount=0,
            period_key=job.period_key,
            created_at=_when(now),
        )

    async def complete_at_once(self, job_id: int, result_text: str, now: float) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.state not in _ACTIVE:
            return False
        self._settle_now(job, result_text, now)
        return True

    async def record_followup(self, job_id: int, task_id: str, followup: Any, now: float) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.state not in _ACTIVE:
            return False
        self._update(job_id, task_id=task_id, followup=json.loads(json.dumps(dict(followup))))
        return True

    async def record_deliveries(self, deliveries: Sequence[Delivery], delivered: Sequence[int], now: float) -> None:
        self.calls["record_deliveries"] += 1
        for d in deliveries:
            track = self.tracks[d.track_id]
            thread = d.thread_id if d.thread_id is not None else track.thread_id
            self.tracks[d.track_id] = track.model_copy(update={"message_id": d.message_id, "thread_id": thread})
        for job_id in delivered:
            if job_id in self.jobs:
                self._update(job_id, delivered_at=_when(now))

    # tracks
    async def track(self, track_id: int) -> Track | None:
        return self.tracks.get(track_id)

    async def tracks_of_job(self, job_id: int) -> list[Track]:
        return [t for _, t in sorted(self.tracks.items()) if t.job_id == job_id]

    async def ancestors(self, track_id: int, *, limit: int = 25) -> list[Track]:
        chain: list[Track] = []
        seen = {track_id}
        current = self.tracks.get(track_id)
        while current is not None and current.parent_track_id is not None and len(chain) < limit:
            parent = self.tracks.get(current.parent_track_id)
            if parent is None or parent.id in seen:
                break
            chain.append(parent)
            seen.add(parent.id)
            current = parent
        return chain

    async def children(self, track_id: int) -> list[Track]:
        return [
            t
            for _, t in sorted(self.tracks.items())
            if track_id in (t.parent_track_id, t.second_parent_track_id) and not t.deleted
        ]

    def _visible(self, guild_id: int, author_id: int | None = None) -> list[Track]:
        found = [
            t
            for t in self.tracks.values()
            if t.guild_id == guild_id and not t.deleted and (author_id is None or t.author_id == author_id)
        ]
        return sorted(found, key=lambda t: -t.id)

    async def find_tracks(self, guild_id: int, text: str, *, limit: int = 25) -> list[Track]:
        text = text.strip()
        found = self._visible(guild_id)
        if text:
            needle = text.casefold()
            found = [
                t
                for t in found
                if needle in (t.title or "").casefold() or needle in (t.tags or "").casefold() or str(t.id) == text
            ]
        return found[:limit]

    async def track_page(self, guild_id: int, author_id: int | None, page: int, size: int) -> TrackPage:
        found = self._visible(guild_id, author_id)
        pages = max(1, -(-len(found) // size))
        shown = min(max(page, 0), pages - 1)
        return TrackPage(found[shown * size : (shown + 1) * size], shown, pages)

    async def set_thread(self, track_id: int, thread_id: int) -> None:
        if track_id in self.tracks:
            self.tracks[track_id] = self.tracks[track_id].model_copy(update={"thread_id": thread_id})

    async def set_alignment(self, track_id: int, alignment: LyricsAlignment) -> None:
        if track_id in self.tracks:
            kept = alignment if not alignment.empty else None
            self.tracks[track_id] = self.tracks[track_id].model_copy(update={"alignment": kept})

    async def delete_track(self, track_id: int) -> bool:
        track = self.tracks.get(track_id)
        if track is None or track.deleted:
            return False
        self.tracks[track_id] = track.model_copy(update={"deleted": True})
        return True

    # credits
    def _balances(self, guild_id: int, user_id: int, period_key: str) -> Balances:
        period = [e for e in self.ledger if e.guild_id == guild_id and e.period_key == period_key]
        server = sum(e.amount for e in period if not (e.kind is LedgerKind.GRANT and e.user_id is not None))
        member = sum(e.amount for e in period if e.user_id == user_id)
        active = [j for j in self.jobs.values() if j.guild_id == guild_id and j.state in _ACTIVE]
        return Balances(
            server_sum=server,
            member_sum=member,
            member_cap=self.caps.get((guild_id, user_id)),
            member_active=sum(1 for j in active if j.user_id == user_id),
            server_active=len(active),
        )

    async def balances(self, guild_id: int, user_id: int, period_key: str) -> Balances:
        return self._balances(guild_id, user_id, period_key)

    async def ledger_of_job(self, job_id: int) -> list[LedgerEntry]:
        return [e for e in self.ledger if e.job_id == job_id]

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
    ) -> None:
        self._ledger(
            guild_id=guild_id,
            user_id=member_id,
            kind=LedgerKind.GRANT,
            amount=amount,
            period_key=period_key,
            note=note,
            actor_id=actor_id,
            created_at=_when(now),
        )

    async def set_member_cap(self, guild_id: int, user_id: int, cap: int | None) -> None:
        if cap is None:
            self.caps.pop((guild_id, user_id), None)
        else:
            self.caps[(guild_id, user_id)] = cap

    async def reset_period(self, settings: GuildSettings, period_key: str, *, actor_id: int, now: float) -> None:
        self.settings[settings.guild_id] = settings
        self._ledger(
            guild_id=settings.guild_id,
            kind=LedgerKind.RESET,
            amount=0,
            period_key=period_key,
            actor_id=actor_id,
            created_at=_when(now),
        )

    # settings
    async def guild_settings(self, guild_id: int) -> GuildSettings | None:
        return self.settings.get(guild_id)

    async def save_settings(self, settings: GuildSettings) -> None:
        self.settings[settings.guild_id] = settings

    # moderation
    async def blocked_terms(self, guild_id: int) -> list[BlockedTerm]:
        self.calls["blocked_terms"] += 1
        return list(self.terms.get(guild_id, []))

    async def add_blocked_term(self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int, now: float) -> bool:
        terms = self.terms.setdefault(guild_id, [])
        if any(t.pattern == pattern and t.is_regex == is_regex for t in terms):
            return False
        terms.append(BlockedTerm(next(self._term_ids), pattern, is_regex))
        return True

    async def remove_blocked_term(self, guild_id: int, pattern: str) -> bool:
        terms = self.terms.get(guild_id, [])
        kept = [t for t in terms if t.pattern != pattern]
        self.terms[guild_id] = kept
        return len(kept) < len(terms)

    async def ban(self, guild_id: int, user_id: int, *, reason: str | None, banned_by: int, now: float) -> None:
        created = self.bans_[(guild_id, user_id)].created_at if (guild_id, user_id) in self.bans_ else now
        self.bans_[(guild_id, user_id)] = Ban(guild_id, user_id, reason, banned_by, created)

    async def unban(self, guild_id: int, user_id: int) -> bool:
        return self.bans_.pop((guild_id, user_id), None) is not None

    async def bans(self, guild_id: int) -> list[Ban]:
        return sorted((b for b in self.bans_.values() if b.guild_id == guild_id), key=lambda b: b.created_at)

    # provider state
    async def retired_operations(self, provider: str) -> dict[Operation, str | None]:
        return {op: message for (name, op), message in self.retired.items() if name == provider}

    async def retire_operation(self, provider: str, operation: Operation, *, message: str | None, now: float) -> None:
        self.retired.setdefault((provider, operation), message)

    async def reinstate_operation(self, provider: str, operation: Operation) -> bool:
        if (provider, operation) not in self.retired:
            return False
        del self.retired[(provider, operation)]
        return True

    async def record_webhook(self, receipt: WebhookReceipt, now: float) -> bool:
        if receipt.event_key in self.webhooks:
            return False
        self.webhooks[receipt.event_key] = now
        return True

    async def prune_webhooks(self, before: float) -> int:
        old = [key for key, at in self.webhooks.items() if at < before]
        for key in old:
            del self.webhooks[key]
        return len(old)

    # personas
    async def save_persona(self, job_id: int, persona: NewPersona, now: float) -> Persona | None:
        taken = any(
            p.guild_id == persona.guild_id
            and p.provider == persona.provider
            and p.name.casefold() == persona.name.casefold()
            for p in self.personas_.values()
        )
        if taken:
            return None
        kept = Persona(
            id=next(self._persona_ids),
            guild_id=persona.guild_id,
            provider=persona.provider,
            name=persona.name,
            persona_id=persona.persona_id,
            track_id=persona.track_id,
            created_by=persona.created_by,
            created_at=_when(now),
        )
        self.personas_[kept.id] = kept
        job = self.jobs.get(job_id)
        if job is not None and job.state in _ACTIVE:
            self._settle_now(job, json.dumps({"persona": kept.id}), now)
        return kept

    async def personas(self, guild_id: int, provider: str) -> list[Persona]:
        mine = [p for p in self.personas_.values() if p.guild_id == guild_id and p.provider == provider]
        return sorted(mine, key=lambda p: (p.name.casefold(), p.id))

    async def persona(self, persona_id: int) -> Persona | None:
        return self.personas_.get(persona_id)

    async def delete_persona(self, persona_id: int) -> bool:
        return self.personas_.pop(persona_id, None) is not None


# --- helpers ------------------------------------------------------------------------------------------------------
async def gather_outcomes(*calls: Awaitable[Any]) -> list[Any]:
    """Run calls together, returning results and exceptions alike."""
    return list(await asyncio.gather(*calls, return_exceptions=True))


class FakeFiles:
    """The FileFetcher port: serves bytes by URL, None for anything else (or anything over the limit)."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.asked: list[tuple[str, int]] = []

    async def fetch(self, url: str, *, limit: int) -> bytes | None:
        self.asked.append((url, limit))
        data = self.files.get(url)
        return data if data is not None and len(data) <= limit else None
