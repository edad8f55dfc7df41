"""The finisher: settles every job that ends. Success stores the tracks and settles the reservation (finished jobs
arriving together share one transaction); failure and cancel refund. Then the job leaves the registry and its
outcome goes to delivery."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from bot.core.group_commit import GroupCommit
from bot.core.jobs.config import JobsConfig
from bot.core.jobs.delivery import Delivery
from bot.core.jobs.registry import InFlight, Registry
from bot.core.jobs.safety import reference
from bot.core.jobs.tasks import Tasks
from bot.core.metrics import Metrics
from bot.domain.errors import InvalidRequest
from bot.domain.models import Clip, DraftedLyrics, Job, JobState, TaskStatus
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.ports import Clock, Completion, JobStore, WebhookReceipt

log = logging.getLogger(__name__)

_Success = tuple[InFlight, TaskStatus, WebhookReceipt | None, tuple[Clip, ...]]


def titled(job: Job, clips: Sequence[Clip]) -> tuple[Clip, ...]:
    """Sonic names the songs it makes itself where it ignores the title (description mode, the takes of a remix,
    the joined full song): the title the member typed names them all the same."""
    title = job.request.get("title")
    if not isinstance(title, str) or not title.strip() or job.request.get("api") != "sonic":
        return tuple(clips)
    return tuple(c if c.title == title else c.model_copy(update={"title": title}) for c in clips)


def tool_result(clips: Sequence[Clip]) -> str:
    """What a tool job (stems) made, as stored on the job: each file's name and link."""
    return json.dumps([{"name": c.title or "Stem", "url": c.audio_url} for c in clips if c.audio_url])


class Finisher:
    def __init__(
        self,
        *,
        store: JobStore,
        registry: Registry,
        delivery: Delivery,
        clock: Clock,
        metrics: Metrics,
        config: JobsConfig,
        tasks: Tasks,
    ) -> None:
        self._store = store
        self._registry = registry
        self._delivery = delivery
        self._clock = clock
        self._metrics = metrics
        self._settling: set[int] = set()  # jobs whose results wait in the group commit
        self._successes: GroupCommit[_Success] = GroupCommit(
            self._store_successes,
            spawn=lambda flush: tasks.spawn(flush, "store-completions"),
            linger=config.write_linger,
            timeout=clock.timeout,
        )

    def succeeded(
        self,
        record: InFlight,
        status: TaskStatus,
        webhook: WebhookReceipt | None = None,
        *,
        partials: tuple[Clip, ...] = (),
    ) -> None:
        """A task finished with its songs: stored with the others finishing now. Not awaited: the write logs its
        own failure, and the job stays tracked so a later poll (or the safety net) tries again. ``partials``: the
        takes a follow-up joined into these songs (kept as their parents)."""
        self._settling.add(record.id)
        self._successes.add((record, status, webhook, partials))

    def settling(self, job_id: int) -> bool:
        """Whether the job's results are on their way to the store (they end it, one way or the other)."""
        return job_id in self._settling

    async def drain(self) -> None:
        await self._successes.drain()

    async def _store_successes(self, items: list[_Success]) -> None:
        try:
            await self._settle(items)
        finally:
            self._settling.difference_update(record.id for record, _, _, _ in items)

    async def _settle(self, items: list[_Success]) -> None:
        # One completion per job: a webhook and a poll may both report the same task. A job whose songs can't be
        # made into one ends alone (the others of the group are stored all the same).
        completions: dict[int, Completion] = {}
        ended: set[int] = set()
        for record, status, _, partials in items:
            if record.id in ended:
                continue
            try:
                completions[record.id] = Completion(
                    record.job,
                    titled(record.job, status.clips),
                    partials=titled(record.job, partials),
                    result_text=tool_result(status.clips) if record.job.operation.is_tool else None,
                )
            except Exception as exc:
                completions.pop(record.id, None)
                ended.add(record.id)
                await self._unstorable(record.job, exc)
        if not completions:
            return
        webhooks = [webhook for _, _, webhook, _ in items if webhook is not None]
        try:
            finished = await self._store.finish_jobs(list(completions.values()), webhooks, self._clock.now())
            written = set(completions)  # jobs whose write went through (moved, or found ended already)
        except Exception as exc:
            if len(completions) == 1:
                await self._unstorable(next(iter(completions.values())).job, exc)
                return
            # One job's results must not hold back the others': each is written on its own.
            log.warning("storing %d finished jobs together failed; storing them one by one", len(completions))
            finished = {}
            written = set()
            for completion in completions.values():
                receipts = [w for w in webhooks if w.task_id == completion.job.task_id]
                try:
                    finished.update(await self._store.finish_jobs([completion], receipts, self._clock.now()))
                    written.add(completion.job.id)
                except Exception as one:
                    await self._unstorable(completion.job, one)
        for job_id in written - finished.keys():
            # Not moved: it had ended already (another process finished or cancelled it); nothing left here.
            self._registry.forget(job_id)
        for job_id, done in finished.items():
            self._registry.forget(job_id)
            self._metrics.inc("tunesmith_jobs_finished_total", state="succeeded")
            log.info("job %d succeeded with %d clip(s)", job_id, len(completions[job_id].clips))
            self._delivery.succeeded(done.job, done.tracks)

    async def _unstorable(self, job: Job, exc: Exception) -> None:
        """A finished job whose results cannot be written ends as failed (refunded, its member told, the error
        logged with a reference), instead of succeeding again at every poll without ever being stored. When even
        that write fails (the database is down) the job stays tracked, and a later poll tries again."""
        ref = reference()
        log.error("storing the results of job %d failed (reference %s)", job.id, ref, exc_info=exc)
        try:
            await self.fail(job.id, Failure(FailureKind.INTERNAL, ref))
        except Exception:
            log.exception("could not end job %d either; a later poll tries again", job.id)

    def abandon(self, job_id: int) -> None:
        """Stop holding a job that could not be ended (the store is failing): the next start recovers it."""
        self._registry.forget(job_id)

    async def fail(
        self, job_id: int, failure: Failure, *, deliver: bool = True, state: JobState = JobState.FAILED
    ) -> Job | None:
        """End a job without a result and refund it. ``deliver=False`` when the member was told another way.
        Returns the ended job, or None when it had already ended."""
        ended = await self._store.end_job(job_id, state, failure, self._clock.now(), delivered=not deliver)
        if ended is None:
            self._registry.forget(job_id)  # it had ended already (elsewhere, with many processes)
            return None
        self._registry.forget(job_id)
        self._metrics.inc("tunesmith_jobs_finished_total", state=ended.state.value)
        log.info("job %d %s (%s)", job_id, ended.state.value, failure.kind.value)
        if deliver:
            self._delivery.failed(ended)
        return ended

    async def cancel(self, job: Job, *, notify: bool = True) -> Job:
        """Cancel a job still in the works; its credits come back. The provider may still finish it upstream."""
        ended = await self.fail(job.id, Failure(FailureKind.CANCELLED), deliver=notify, state=JobState.CANCELLED)
        if ended is None:
            raise InvalidRequest(f"Job #{job.id} already ended.")
        return ended

    async def complete_lyrics(self, job: Job, drafts: Sequence[DraftedLyrics]) -> None:
        await self._store.complete_lyrics(job.id, drafts, self._clock.now())
        self._metrics.inc("tunesmith_jobs_finished_total", state="succeeded")
