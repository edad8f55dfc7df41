"""FoxAIHub's FUZZ 2.0 (docs/providers.md, FUZZ) as a ``MusicProvider``."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from bot.domain.errors import ErrorKind, InvalidRequest, OperationUnavailable, ProviderError
from bot.domain.lyrics_timeline import LyricsAlignment
from bot.domain.models import (
    Clip,
    CreateMusic,
    DraftedLyrics,
    ExtendMusic,
    MusicRequest,
    MusicVariation,
    Operation,
    TaskFailure,
    TaskState,
    TaskStatus,
    WebhookTarget,
)
from bot.providers.http import JsonApi, Sleep, message_from_body, secret_value
from bot.providers.parsing import alignment_from, error_from_text, failed, number, records, text

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.foxaihub.com/api/v2/fuzz"
BATCH_SIZE = 25  # the docs: "not more than 25 task ids at once"
# FUZZ requires tags, and a member may give only lyrics: a neutral genre lets the lyrics lead.
DEFAULT_TAGS = "pop"
DEFAULT_EXTEND_S = 30.0  # the docs' own example extends by 30 s
INSTRUMENTAL = "[Instrumental]"
MODERATION_TEXT = "The provider's content filter flagged this request (moderation)."
_NO_AUDIO = "The music provider finished without any audio; try again."


def build_body(request: MusicRequest) -> dict[str, Any]:
    """The JSON body of ``POST /task`` for the three operations FUZZ can do (variation emulated)."""
    match request:
        case CreateMusic():
            body: dict[str, Any] = {
                "lyrics": INSTRUMENTAL if request.instrumental else (request.lyrics or ""),
                "tags": request.sound or DEFAULT_TAGS,
            }
        case ExtendMusic():
            body = {
                "lyrics": request.lyrics or "",
                "tags": request.sound or DEFAULT_TAGS,
                "extend": {
                    "song_id": request.clip_id,
                    "start_s": request.starts_at if request.starts_at is not None else 0,
                    "extend_duration_s": request.duration_s or DEFAULT_EXTEND_S,
                },
            }
        case MusicVariation():
            # FUZZ has no variation call: a fresh task from the parent's style and lyrics is the closest take.
            if not (request.sound or request.lyrics):
                raise InvalidRequest("A variation on FUZZ needs the original track's style or lyrics.")
            body = {"lyrics": request.lyrics or "", "tags": request.sound or DEFAULT_TAGS}
        case _:
            raise OperationUnavailable(f"{request.operation.label} is not available with the FUZZ 2.0 provider.")
    # Model, seed and strengths are Producer knobs FUZZ has no field for; they are dropped on purpose.
    if request.title:
        body["title"] = request.title
    return body


def _clip(record: Mapping[str, Any], fallback_id: str) -> Clip:
    return Clip(
        clip_id=text(record.get("id")) or text(record.get("clip_id")) or fallback_id,
        title=text(record.get("title")),
        audio_url=text(record.get("audio_url")),
        image_url=text(record.get("image_url")),
        duration_s=number(record.get("duration_s")),
        lyrics=text(record.get("lyrics")),
        tags=text(record.get("sound")) or text(record.get("tags")),
        model=text(record.get("model_display_name")),
        alignment=lyrics_timeline(record),
    )


def lyrics_timeline(record: Mapping[str, Any]) -> LyricsAlignment | None:
    """The free lyrics timeline of a clip: its ``lyrics_timestamped.words[{text, start, end, line_index}]``;
    None for an instrumental (only "[Instrumental]" is timed) or a clip without timings."""
    timed = record.get("lyrics_timestamped")
    words = timed.get("words") if isinstance(timed, Mapping) else None
    alignment = alignment_from(words) if isinstance(words, list) else None
    return alignment if alignment is not None and not alignment.empty else None


def _failure(task_id: str, data: Any) -> TaskStatus:
    """A failed task: the reason sits in ``data.reason`` or ``data.data.reason``."""
    reason: str | None = None
    flagged = False
    for layer in (data, data.get("data") if isinstance(data, Mapping) else None):
        if isinstance(layer, Mapping):
            reason = reason or text(layer.get("reason")) or message_from_body(layer)
            flagged = flagged or layer.get("is_flagged") is True
    if flagged or (reason or "").casefold() == "moderation":
        return failed(task_id, ProviderError(ErrorKind.MODERATION, MODERATION_TEXT))
    if reason and "timeout" in reason.casefold():
        return failed(task_id, ProviderError(ErrorKind.TIMEOUT))
    error = error_from_text(reason, ErrorKind.UNAVAILABLE)
    if error.kind is ErrorKind.UNAVAILABLE and reason:
        error = ProviderError(ErrorKind.UNAVAILABLE, f"The music provider could not make this song ({error}).")
    return failed(task_id, error)


def parse_task(item: Mapping[str, Any]) -> TaskStatus | None:
    """One element of the ``GET /task`` array; None when it names no task."""
    task_id = text(item.get("task_id")) or text(item.get("id"))
    if task_id is None:
        return None
    status = (text(item.get("status")) or "").casefold()
    data = item.get("data")
    if status == "pending":
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED)
    if status in ("processing", "queued"):
        # FUZZ's "queued" comes after "processing": the clip ids exist and the audio is rendering.
        return TaskStatus(task_id=task_id, state=TaskState.RUNNING)
    if status == "completed":
        clips = tuple(c for c in (_clip(r, task_id) for r in records(data) if isinstance(data, list)) if c.audio_url)
        if not clips:
            return failed(task_id, ProviderError(ErrorKind.UNAVAILABLE, _NO_AUDIO))
        return TaskStatus(task_id=task_id, state=TaskState.SUCCEEDED, clips=clips)
    if status == "failed":
        return _failure(task_id, data)
    log.warning("fuzz task %s has an unknown status %r; treating it as queued", task_id, status)
    return TaskStatus(task_id=task_id, state=TaskState.QUEUED)


def unreadable(item: Mapping[str, Any], exc: Exception) -> TaskStatus | None:
    """A task whose answer could not be read: failed as the bot's own error, its reference logged."""
    task_id = text(item.get("task_id")) or text(item.get("id"))
    ref = secrets.token_hex(3).upper()
    log.error("fuzz task %s: its answer could not be read (reference %s)", task_id, ref, exc_info=exc)
    if task_id is None:
        return None
    # "internal": the engine words it as an error on our side and gives the member the reference.
    return TaskStatus(task_id=task_id, state=TaskState.FAILED, failure=TaskFailure(kind="internal", message=ref))


class FuzzClient:
    """FoxAIHub's FUZZ 2.0: create, extend and an emulated variation; 2 songs per task, 25 task ids per poll."""

    name: str = "fuzz"
    operations: frozenset[Operation] = frozenset({Operation.CREATE, Operation.EXTEND, Operation.VARIATION})
    models: tuple[str, ...] = ()
    batch_size: int = BATCH_SIZE
    supports_webhooks: bool = False
    request_dialect: str = "generic"
    extensions_are_partial: bool = False

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: SecretStr | str,
        max_concurrency: int = 10,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        key = secret_value(api_key)
        self.max_concurrency = max_concurrency
        self.base_url = base_url.rstrip("/")
        self._api = JsonApi(
            client,
            provider=self.name,
            base_url=self.base_url,
            auth_headers={"api-key": key},
            secrets=(key,),
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"FuzzClient(base_url={self.base_url!r})"

    async def submit(self, request: MusicRequest, *, webhook: WebhookTarget | None = None) -> str:
        """Start a task and return its id; ``webhook`` is ignored (FUZZ only polls)."""
        body = build_body(request)
        response = await self._api.request_json("POST", "/task", json_body=body)
        answer = response.body if isinstance(response.body, Mapping) else {}
        task_id = text(answer.get("task_id"))
        if answer.get("success") is False:
            # The docs: "if your params is no problem, it always response" success:true, so false is a refusal.
            raise error_from_text(message_from_body(answer), ErrorKind.REJECTED)
        if task_id is None:
            raise ProviderError(
                ErrorKind.UNAVAILABLE,
                "The music provider did not start the task; try again.",
                retryable=False,
                status=response.status,
            )
        log.debug("fuzz started %s task %s", request.operation.value, task_id)
        return task_id

    async def fetch(self, task_ids: Sequence[str]) -> list[TaskStatus]:
        """Statuses of up to 25 tasks in one call; tasks the answer leaves out are not returned."""
        if len(task_ids) > BATCH_SIZE:
            raise ValueError(f"FUZZ takes at most {BATCH_SIZE} task ids per status call, got {len(task_ids)}")
        if not task_ids:
            return []
        # The docs show literal commas between ids; httpx's params would encode them as %2C.
        query = "ids=" + ",".join(quote(t, safe="") for t in task_ids)
        response = await self._api.request_json("GET", "/task", query=query)
        body = response.body
        if isinstance(body, Mapping):
            # Always an array per the docs; tolerate a wrapped array or a single bare task.
            body = body.get("data") if isinstance(body.get("data"), list) else [body]
        if not isinstance(body, list):
            raise ProviderError(
                ErrorKind.UNAVAILABLE,
                "The music provider gave an answer the bot does not understand.",
                status=response.status,
            )
        wanted = set(task_ids)
        statuses: list[TaskStatus] = []
        for item in records(body):
            try:
                status = parse_task(item)
            except Exception as exc:
                # One task's answer the bot can't read ends that task's job (with a reference in the log), not
                # the batch's other 24.
                status = unreadable(item, exc)
            if status is not None and status.task_id in wanted:
                statuses.append(status)
        return statuses

    async def credits(self) -> float | None:
        """FUZZ has no balance call."""
        return None

    async def draft_lyrics(self, idea: str) -> list[DraftedLyrics]:
        raise OperationUnavailable("Drafting lyrics is not available with the FUZZ 2.0 provider.")

    async def aclose(self) -> None:
        """Nothing to release: the composition root owns (and closes) the shared httpx client."""
