"""The built-in sandbox as a provider: every operation the bot knows, on one local server.

The sandbox (bot/sandbox/) speaks the Producer's, FUZZ's and Sonic's wire formats over one store of songs, so a
track made through one format can be remixed or examined through another. This client puts that together:

- the Producer's operations (create, extend, cover, replace, variation, swaps, upload, download, lyrics) go through
  the Producer's format, as they always did (its extensions hold the whole song: no follow-up step);
- what only Sonic has (mashup, sample, personas, remaster, add vocals or instrumental) and the studio tools
  (stems, WAV, MIDI, BPM, lyrics timeline, VOX, upsample tags) go through Sonic's.

So the playground, which runs on the sandbox, shows everything a member can do with any provider. A Sonic task's
id is kept with a prefix, so its polls (and its webhooks) go to Sonic's parser, also after a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from bot.domain.models import PRODUCER_MODELS, DraftedLyrics, MusicRequest, Operation, TaskStatus, WebhookTarget
from bot.domain.sonic import SavePersona, SonicRequest, Tool, ToolResult, ToolStatus
from bot.providers.producer import PRODUCER_OPERATIONS, ProducerClient
from bot.providers.producer import parse_webhook as parse_producer_webhook
from bot.providers.sonic import SONIC_ONLY, SonicClient
from bot.providers.sonic import parse_webhook as parse_sonic_webhook

SONIC_TASK = "sonic:"
# Joining extensions is not needed here (the Producer's extensions hold the whole song), so no concat.
SANDBOX_OPERATIONS = PRODUCER_OPERATIONS | (SONIC_ONLY - {Operation.CONCAT})


def _is_sonic(request: MusicRequest | SonicRequest) -> bool:
    return getattr(request, "api", None) == "sonic"


class SandboxClient:
    """The sandbox provider: the Producer's format for its operations, Sonic's for the rest and for the tools."""

    operations: frozenset[Operation] = SANDBOX_OPERATIONS
    models: tuple[str, ...] = PRODUCER_MODELS
    tools: frozenset[Tool] = frozenset(Tool)
    batch_size: int = 1
    supports_webhooks: bool = True
    request_dialect: str = "generic"
    extensions_are_partial: bool = False

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        max_concurrency: int = 10,
        name: str = "sandbox",
    ) -> None:
        self.name = name
        self.max_concurrency = max_concurrency
        self.base_url = base_url
        self._producer = ProducerClient(
            client, base_url=base_url, api_key=api_key, max_concurrency=max_concurrency, name=name
        )
        # The sandbox is local and makes a MIDI file within a couple of seconds: asked again often, not every five.
        self._sonic = SonicClient(
            client,
            base_url=base_url,
            api_key=api_key,
            max_concurrency=max_concurrency,
            name=name,
            not_ready_attempts=40,
            not_ready_interval=0.25,
        )

    def __repr__(self) -> str:
        return f"SandboxClient(name={self.name!r}, base_url={self.base_url!r})"

    async def submit(self, request: MusicRequest | SonicRequest, *, webhook: WebhookTarget | None = None) -> str:
        if _is_sonic(request):
            return SONIC_TASK + await self._sonic.submit(request, webhook=webhook)
        return await self._producer.submit(request, webhook=webhook)  # type: ignore[arg-type]

    async def fetch(self, task_ids: Sequence[str]) -> list[TaskStatus]:
        statuses: list[TaskStatus] = []
        for task_id in task_ids:
            if task_id.startswith(SONIC_TASK):
                [status] = await self._sonic.fetch([task_id.removeprefix(SONIC_TASK)])
                statuses.append(status.model_copy(update={"task_id": task_id}))
            else:
                statuses.extend(await self._producer.fetch([task_id]))
        return statuses

    async def credits(self) -> float | None:
        return await self._producer.credits()

    async def draft_lyrics(self, idea: str) -> list[DraftedLyrics]:
        return await self._producer.draft_lyrics(idea)

    async def save_persona(self, request: SavePersona) -> str:
        return await self._sonic.save_persona(request)

    async def run_tool(self, clip_id: str | None, tool: Tool, **options: Any) -> ToolResult:
        return await self._sonic.run_tool(clip_id, tool, **options)

    async def submit_tool(self, clip_id: str, tool: Tool, *, webhook: WebhookTarget | None = None) -> str:
        return await self._sonic.submit_tool(clip_id, tool, webhook=webhook)

    async def fetch_tool(self, tool: Tool, task_ids: Sequence[str]) -> list[ToolStatus]:
        return await self._sonic.fetch_tool(tool, task_ids)

    async def aclose(self) -> None:
        """Nothing to release: the composition root owns (and closes) the shared httpx client."""


def parse_sandbox_webhook(task_id: str, payload: dict[str, Any]) -> TaskStatus:
    """A webhook for one of the sandbox's tasks, read in the format the task was made in."""
    if task_id.startswith(SONIC_TASK):
        status = parse_sonic_webhook(task_id.removeprefix(SONIC_TASK), payload)
        return status.model_copy(update={"task_id": task_id})
    return parse_producer_webhook(task_id, payload)
