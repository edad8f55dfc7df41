"""Drafting lyrics: a job like any other (admitted by the same rules, charged, audited, refunded on failure),
but answered at once, inside the command, instead of going through the provider's task queue."""

from __future__ import annotations

import json

from bot.core.admission import Admission
from bot.core.audit import AuditRecorder
from bot.core.jobs.finisher import Finisher
from bot.core.metrics import Metrics
from bot.domain.audit import LyricsDrafted, Refused
from bot.domain.errors import ErrorKind, NotFound, OperationUnavailable, ProviderError
from bot.domain.models import DraftedLyrics, Job, Operation, build_request
from bot.domain.outcomes import Failure
from bot.domain.ports import JobStore, MusicProvider
from bot.domain.requester import Requester


class Lyrics:
    def __init__(
        self,
        *,
        admission: Admission,
        provider: MusicProvider,
        finisher: Finisher,
        store: JobStore,
        audit: AuditRecorder,
        metrics: Metrics,
    ) -> None:
        self._admission = admission
        self._provider = provider
        self._finisher = finisher
        self._store = store
        self._audit = audit
        self._metrics = metrics

    async def draft(
        self, who: Requester, idea: str, *, confirmed_cost: int | None = None
    ) -> tuple[Job, list[DraftedLyrics]]:
        """Check the server's rules, charge the draft, and ask the provider for lyrics."""
        admitted = await self._admission.admit(who, Operation.LYRICS, {"idea": idea}, confirmed_cost=confirmed_cost)
        job = admitted.job
        self._metrics.inc("tunesmith_provider_requests_total", call="lyrics")
        try:
            drafts = await self._provider.draft_lyrics(idea)
        except ProviderError as exc:
            # The member's command fails with the provider's reason; the job is refunded, and it has no status
            # message, so its audit entry is written here.
            await self._finisher.fail(job.id, Failure.of(exc.kind.value, str(exc)), deliver=False)
            await self._audit.record(who.guild_id, LyricsDrafted(who.user_id, idea, error=str(exc)))
            raise
        except OperationUnavailable as exc:
            await self._finisher.fail(job.id, Failure.of(ErrorKind.RETIRED.value, str(exc)), deliver=False)
            request = build_request(Operation.LYRICS, idea=idea)
            await self._audit.record(who.guild_id, Refused(who.user_id, Operation.LYRICS, request, exc))
            raise
        await self._finisher.complete_lyrics(job, drafts)
        await self._audit.record(
            who.guild_id, LyricsDrafted(who.user_id, idea, job_id=job.id, drafts=len(drafts), cost=job.cost)
        )
        return job, drafts

    async def drafts(self, guild_id: int, job_id: int) -> list[DraftedLyrics]:
        """The drafts a lyrics job made (for its Compose buttons)."""
        job = await self._store.job(job_id)
        if job is None or job.guild_id != guild_id or not job.result_text:
            raise NotFound("Those lyrics are no longer available; draft new ones with /music lyrics.")
        return [DraftedLyrics.model_validate(d) for d in json.loads(job.result_text)]
