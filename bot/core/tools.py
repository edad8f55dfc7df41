"""Studio tools: what a member may learn or take from a track (stems, WAV, MIDI, BPM, lyrics timeline, VOX) and
a richer style for a short one (upsample tags).

Each tool is a job like any other (admitted by the same rules, charged, refunded on failure, audited). Stems take
a while, so they run through the job queue (started like a remix, tracked, their files posted when ready: see
bot/core/jobs/gateway.py); every other tool answers within a few seconds, so it is answered here, inside the
member's command, like a lyrics draft. A lyrics timeline already known (FUZZ gives it with every song; Sonic's is
kept once asked) is answered from the library for free, without a job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.admission import Admission
from bot.core.audit import AuditRecorder
from bot.core.catalog import Catalog
from bot.core.jobs.finisher import Finisher
from bot.core.library import Library
from bot.core.metrics import Metrics
from bot.domain.audit import ToolUsed
from bot.domain.errors import ErrorKind, InvalidRequest, OperationUnavailable, ProviderError
from bot.domain.lyrics_timeline import LyricsAlignment
from bot.domain.models import Job, Track
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.ports import Clock, JobStore, TrackStore
from bot.domain.requester import Requester
from bot.domain.sonic import Tool, ToolCall, ToolResult, UpsampledTags

log = logging.getLogger(__name__)

# The order the Tools menu lists them in.
TOOL_ORDER = (
    Tool.STEMS_BASIC,
    Tool.STEMS_FULL,
    Tool.WAV,
    Tool.MIDI,
    Tool.BPM,
    Tool.LYRICS_TIMELINE,
    Tool.VOX,
    Tool.UPSAMPLE_TAGS,
)


class ToolStore(JobStore, TrackStore, Protocol):
    """Jobs (a tool's job is settled at once) and tracks (a lyrics timeline is kept with its track)."""


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    """What a tool answered, for the ui to post: the result, the track it was about, and what it cost."""

    tool: Tool
    result: ToolResult
    track: Track | None
    cost: int  # 0 when answered from what the library keeps
    job: Job | None = None


class Toolbox:
    def __init__(
        self,
        *,
        admission: Admission,
        catalog: Catalog,
        finisher: Finisher,
        store: ToolStore,
        library: Library,
        audit: AuditRecorder,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._admission = admission
        self._catalog = catalog
        self._finisher = finisher
        self._store = store
        self._library = library
        self._audit = audit
        self._metrics = metrics
        self._clock = clock

    def offered(self, track: Track | None = None) -> tuple[Tool, ...]:
        """The tools a member may use now (on ``track``: its menu), in menu order. A provider without tools offers
        none, except a lyrics timeline the track already carries."""
        tools = set(self._catalog.tools())
        if track is not None:
            tools.discard(Tool.UPSAMPLE_TAGS)  # about a style, not a track
            if track.alignment is not None and not track.alignment.empty:
                tools.add(Tool.LYRICS_TIMELINE)
        return tuple(t for t in TOOL_ORDER if t in tools)

    def ensure(self, tool: Tool, track: Track | None = None) -> None:
        """Refuse, before anything is spent, a tool the provider does not offer (or retired)."""
        if tool not in self.offered(track):
            if self._catalog.is_retired(tool.operation):
                self._catalog.ensure_available(tool.operation)  # says it was retired
            raise OperationUnavailable(
                f"{tool.label} isn't offered by the current music provider ({self._catalog.provider_name}). "
                "Nothing was charged."
            )

    async def run(
        self,
        who: Requester,
        tool: Tool,
        *,
        track_id: int | None = None,
        options: Mapping[str, Any] | None = None,
        confirmed_cost: int | None = None,
    ) -> ToolAnswer:
        """Answer a tool that answers at once; stems are started as a job instead (see the module docstring)."""
        if tool.asynchronous:
            raise InvalidRequest(f"{tool.label} takes a while: it is started as a job.")
        options = {k: v for k, v in (options or {}).items() if v is not None and v != ""}
        track = await self._library.track(who, track_id) if tool.needs_clip and track_id is not None else None
        if tool.needs_clip and track is None:
            raise InvalidRequest("Pick a track first.")
        known = track.alignment if tool is Tool.LYRICS_TIMELINE and track is not None else None
        if known is not None and not known.empty:
            return ToolAnswer(tool=tool, result=known, track=track, cost=0)
        self.ensure(tool, track)
        tools = self._catalog.tool_provider
        if tools is None:  # offered() says there are tools, so there is a provider of them
            raise OperationUnavailable(f"{tool.label} isn't offered by the current music provider.")
        admitted = await self._admission.admit(
            who, tool.operation, options, track_id=track.id if track else None, confirmed_cost=confirmed_cost
        )
        job = admitted.job
        call = admitted.request
        assert isinstance(call, ToolCall)
        self._metrics.inc("tunesmith_provider_requests_total", call=tool.value)
        try:
            result = await tools.run_tool(call.clip_id, tool, **call.options)
        except ProviderError as exc:
            self._metrics.inc("tunesmith_provider_errors_total", kind=exc.kind.value)
            if exc.kind is ErrorKind.RETIRED:
                await self._catalog.retire(tool.operation, exc.message)
            await self._failed(who, tool, track, job, Failure.of(exc.kind.value, str(exc)), str(exc))
            raise
        except (InvalidRequest, OperationUnavailable) as exc:
            await self._failed(who, tool, track, job, Failure(FailureKind.REJECTED, str(exc)), str(exc))
            raise
        if not await self._store.complete_at_once(job.id, result.model_dump_json(), self._clock.now()):
            log.warning("tool job %d ended before its answer was stored", job.id)
        if isinstance(result, LyricsAlignment) and track is not None:
            # Kept: asked again, the timeline is answered from the library, for free (the provider caches it too).
            await self._store.set_alignment(track.id, result)
        await self._audit.record(
            who.guild_id, ToolUsed(who.user_id, tool.operation, track.id if track else None, job.id, job.cost)
        )
        return ToolAnswer(tool=tool, result=result, track=track, cost=job.cost, job=job)

    async def _failed(
        self, who: Requester, tool: Tool, track: Track | None, job: Job, failure: Failure, error: str
    ) -> None:
        # The member's command fails with the reason; the job is refunded and, with no status message, its audit
        # entry is written here.
        await self._finisher.fail(job.id, failure, deliver=False)
        await self._audit.record(
            who.guild_id, ToolUsed(who.user_id, tool.operation, track.id if track else None, job.id, error=error)
        )

    async def suggestion(self, guild_id: int, job_id: int) -> str:
        """The richer style an upsample-tags job suggested (for its "Create with this style" button)."""
        job = await self._store.job(job_id)
        if job is None or job.guild_id != guild_id or not job.result_text:
            raise InvalidRequest("That suggestion is no longer available; ask for a new one.")
        try:
            return UpsampledTags.model_validate_json(job.result_text).tags
        except ValueError:
            raise InvalidRequest("That suggestion is no longer available; ask for a new one.") from None
