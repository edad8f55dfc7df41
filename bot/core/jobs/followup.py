"""Follow-up steps: work a job does after its provider task succeeded and before it finishes.

One today: a provider whose extensions hold only the new part (Sonic) gives back, for an extension, clips that
start where the parent was cut. The member asked for the song, longer; so each take is joined to its parent with
the provider's concat, one take after the other, and the job finishes with the joined songs (posted) and the
takes themselves (kept in the lineage as each full song's parent, never posted).

The step's progress lives on the job (``Job.followup``: the takes, and the joined songs so far) and its current
task is the job's ``task_id``, both written by one store call before anything else happens, so after a restart the
tracker polls the current task and this carries on where it was. The join is part of the extension's price
(admission adds one concat); if it fails for good the whole job fails and is refunded, like any failure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from bot.core.catalog import Catalog
from bot.core.jobs.finisher import Finisher
from bot.core.jobs.registry import InFlight
from bot.domain.errors import ErrorKind, InvalidRequest, OperationUnavailable, ProviderError
from bot.domain.models import Clip, Job, MusicRequest, Operation, TaskState, TaskStatus, WebhookTarget
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.ports import Clock, JobStore, MusicProvider, ProviderStateStore, WebhookReceipt
from bot.domain.sonic import SonicConcat

log = logging.getLogger(__name__)

JOIN = "concat"


def _clips(items: Any) -> list[Clip]:
    return [Clip.model_validate(item) for item in items or ()]


def _dump(clips: list[Clip]) -> list[dict[str, Any]]:
    return [clip.model_dump(mode="json", exclude_none=True) for clip in clips]


class FollowUps:
    """Joins an extension's takes into full songs before the job finishes (see the module's docstring)."""

    def __init__(
        self,
        *,
        provider: MusicProvider,
        store: JobStore,
        webhooks: ProviderStateStore,
        finisher: Finisher,
        catalog: Catalog,
        clock: Clock,
        webhook_for: Callable[[Job], WebhookTarget | None],
        resume: Callable[[InFlight, float], None],
    ) -> None:
        self._provider = provider
        self._store = store
        self._webhooks = webhooks
        self._finisher = finisher
        self._catalog = catalog
        self._clock = clock
        self._webhook_for = webhook_for
        self._resume = resume

    def wanted(self, record: InFlight) -> bool:
        """Whether this job's successful task is a step before its end rather than its end."""
        job = record.job
        return job.followup is not None or (job.operation is Operation.EXTEND and self._catalog.extensions_are_partial)

    async def advance(
        self, record: InFlight, status: TaskStatus, webhook: WebhookReceipt | None, done: Callable[[], Awaitable[None]]
    ) -> None:
        """The job's current task succeeded: start the next join, or finish the job with what the joins made.
        ``done`` is awaited at the end whatever happened (the tracker lets the next success in)."""
        try:
            await self._advance(record, status, webhook)
        finally:
            await done()

    async def _advance(self, record: InFlight, status: TaskStatus, webhook: WebhookReceipt | None) -> None:
        job = record.job
        if job.followup is None:
            takes = [clip for clip in status.clips if clip.audio_url]
            joined: list[Clip] = []
        else:
            takes = _clips(job.followup.get("takes"))
            joined = _clips(job.followup.get("joined"))
            song = next((clip for clip in status.clips if clip.audio_url), None)
            if song is None:
                await self._finisher.fail(job.id, Failure(FailureKind.UNAVAILABLE, "The full song came back empty."))
                return
            joined.append(song)
        if not takes:
            await self._finisher.fail(job.id, Failure(FailureKind.UNAVAILABLE, "The provider made no audio."))
            return
        if len(joined) >= len(takes):
            # Every take is joined: the job ends with the full songs, the takes kept as their parents.
            final = TaskStatus(task_id=status.task_id, state=TaskState.SUCCEEDED, clips=tuple(joined))
            self._finisher.succeeded(record, final, webhook, partials=tuple(takes))
            return
        take = takes[len(joined)]
        try:
            # The provider that asked for the join (its extensions are partial) speaks Sonic's requests.
            request = cast(MusicRequest, SonicConcat(clip_id=take.clip_id))
            task_id = await self._provider.submit(request, webhook=self._webhook_for(job))
        except ProviderError as exc:
            if exc.kind is ErrorKind.RETIRED:
                await self._catalog.retire(Operation.CONCAT, exc.message)
            if exc.retryable:
                # The finished task is polled again later, which brings the job back here to try once more.
                log.warning("job %d: joining take %d failed (%s); will retry", job.id, len(joined) + 1, exc.kind.value)
                return
            await self._finisher.fail(job.id, Failure.of(exc.kind.value, exc.message))
            return
        except (OperationUnavailable, InvalidRequest) as exc:
            await self._finisher.fail(job.id, Failure(FailureKind.REJECTED, str(exc)))
            return
        state = {"step": JOIN, "takes": _dump(takes), "joined": _dump(joined)}
        now = self._clock.now()
        if not await self._store.record_followup(job.id, task_id, state, now):
            return  # cancelled meanwhile: the join is simply ignored
        if webhook is not None:
            await self._webhooks.record_webhook(webhook, now)
        record.job = job.model_copy(update={"task_id": task_id, "followup": state})
        log.info("job %d: joining take %d of %d as task %s", job.id, len(joined) + 1, len(takes), task_id)
        self._resume(record, now)
