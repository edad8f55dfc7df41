"""The provider as the job runtime calls it: one way to start a job's task and to read its status, whatever the
job is. Generations go through ``submit``/``fetch``; the studio tools that take a while (stems) through the
provider's ``submit_tool``/``fetch_tool``, and their result comes back as a task whose clips are the stems (each
titled with its name), so queueing, tracking, deadlines and settlement are the same for every job."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

from bot.domain.errors import OperationUnavailable
from bot.domain.models import Clip, Job, MusicRequest, TaskStatus, WebhookTarget
from bot.domain.ports import MusicProvider
from bot.domain.requests import JobRequest
from bot.domain.sonic import StudioTools, Tool, ToolCall, ToolStatus

log = logging.getLogger(__name__)


def tool_of(job: Job) -> Tool | None:
    """The studio tool a job runs, or None for a generation."""
    return Tool(job.operation.value) if job.operation.is_tool else None


def as_task(status: ToolStatus) -> TaskStatus:
    """A tool's task as any other: its stems become clips named by their title ("Vocals", "Drums"…)."""
    clips: tuple[Clip, ...] = ()
    if status.result is not None:
        clips = tuple(
            Clip(clip_id=f"{status.task_id}#{n}", title=stem.name, audio_url=stem.audio_url)
            for n, stem in enumerate(status.result.tracks, start=1)
        )
    return TaskStatus(task_id=status.task_id, state=status.state, clips=clips, failure=status.failure)


class TaskGateway:
    def __init__(self, provider: MusicProvider) -> None:
        self._provider = provider
        self._tools: StudioTools | None = provider if isinstance(provider, StudioTools) else None

    async def submit(self, job: Job, request: JobRequest, *, webhook: WebhookTarget | None) -> str:
        """Start a job's task and return its id. Raises ProviderError (or OperationUnavailable)."""
        if isinstance(request, ToolCall):
            if self._tools is None or request.clip_id is None:
                raise OperationUnavailable(f"{request.tool.label} isn't offered by the current music provider.")
            # No webhook: a tool's result is read by polling (its webhook body is not a song's).
            return await self._tools.submit_tool(request.clip_id, request.tool)
        # A provider is only ever given the requests its dialect builds (bot/domain/requests.py).
        return await self._provider.submit(cast(MusicRequest, request), webhook=webhook)

    async def fetch(self, jobs: Sequence[Job]) -> list[TaskStatus]:
        """The statuses of these jobs' tasks (a batch the provider's size allows)."""
        songs = [job.task_id or "" for job in jobs if tool_of(job) is None]
        statuses = await self._provider.fetch(songs) if songs else []
        tools: dict[Tool, list[str]] = {}
        for job in jobs:
            tool = tool_of(job)
            if tool is not None:
                tools.setdefault(tool, []).append(job.task_id or "")
        for tool, task_ids in tools.items():
            if self._tools is None:
                log.warning("a %s job is in flight but the provider has no studio tools", tool.value)
                continue
            statuses.extend(as_task(s) for s in await self._tools.fetch_tool(tool, task_ids))
        return statuses

    def uses_webhook(self, job: Job) -> bool:
        """Whether the job's task reports back by webhook (a tool's does not: it is polled)."""
        return tool_of(job) is None
