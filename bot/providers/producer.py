"""AI Music API's Producer (docs/providers.md, Producer) as a ``MusicProvider``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from bot.domain.errors import ErrorKind, InvalidRequest, ProviderError
from bot.domain.models import (
    DEFAULT_MODEL,
    PRODUCER_MODELS,
    Clip,
    CoverMusic,
    CreateMusic,
    DownloadTrack,
    DraftedLyrics,
    DraftLyrics,
    ExtendMusic,
    MusicRequest,
    MusicVariation,
    Operation,
    ReplaceSection,
    SwapSound,
    SwapVocals,
    TaskState,
    TaskStatus,
    UploadAudio,
    WebhookTarget,
)
from bot.providers.http import JsonApi, Sleep, message_from_body, secret_value
from bot.providers.parsing import body_error as _body_error
from bot.providers.parsing import error_from_text, failed, number, records, text

log = logging.getLogger(__name__)

_QUEUED = frozenset({"PENDING", "QUEUED", "SUBMITTED", "NOT_READY"})
_RUNNING = frozenset({"RUNNING", "PROCESSING", "IN_PROGRESS", "STREAMING"})
_FAILED = frozenset({"FAILED", "FAILURE", "ERROR", "TIMEOUT"})
_SUCCEEDED = frozenset({"SUCCESS", "SUCCEEDED", "COMPLETED", "COMPLETE"})
_CLIP_DONE = frozenset({"succeeded", "completed", "complete", "success"})
_CLIP_FAILED = frozenset({"failed", "error", "failure"})
_CLIP_BUSY = frozenset({"pending", "running", "queued", "streaming", "submitted", "processing"})
_NO_AUDIO = "The music provider finished without any audio; try again."
_NO_LYRICS = "The music provider drafted no lyrics; try again."
# Every operation of the Producer docs; the Sonic operations and tools live on the same platform but in SonicClient.
# (download with format "wav" is the Producer's WAV tool.)
PRODUCER_OPERATIONS = frozenset(
    {
        Operation.CREATE,
        Operation.EXTEND,
        Operation.COVER,
        Operation.REPLACE,
        Operation.VARIATION,
        Operation.SWAP_VOCALS,
        Operation.SWAP_SOUND,
        Operation.UPLOAD,
        Operation.DOWNLOAD,
        Operation.LYRICS,
    }
)


def _clip(record: Mapping[str, Any], fallback_id: str) -> Clip:
    return Clip(
        # Download tasks answer only {audio_url}: the task id then stands in for the clip id.
        clip_id=text(record.get("clip_id")) or text(record.get("id")) or fallback_id,
        title=text(record.get("title")),
        audio_url=text(record.get("audio_url")) or text(record.get("wav_url")),
        image_url=text(record.get("image_url")) or text(record.get("image_large_url")),
        duration_s=number(record.get("duration")) if "duration" in record else number(record.get("duration_s")),
        lyrics=text(record.get("lyrics")),
        tags=text(record.get("sound")) or text(record.get("tags")),
        model=text(record.get("mv")) or text(record.get("model")),
    )


def _clip_done(record: Mapping[str, Any]) -> bool:
    has_audio = bool(text(record.get("audio_url")) or text(record.get("wav_url")))
    state = (text(record.get("state")) or text(record.get("status")) or "").casefold()
    # Upload and download data carry no state at all: a URL is then the only sign of completion. With a state,
    # the state decides (a streaming clip already has a preview URL).
    return has_audio and (not state or state in _CLIP_DONE)


def parse_task(task_id: str, http_status: int, body: Any) -> TaskStatus:
    """Normalise every poll answer (and webhook body) of docs/providers.md (Producer) into a :class:`TaskStatus`."""
    if http_status == 202:
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED)
    if isinstance(body, list):
        body = {"data": body}
    if not isinstance(body, Mapping):
        raise ProviderError(
            ErrorKind.UNAVAILABLE, "The music provider gave an answer the bot does not understand.", status=http_status
        )
    if (text(body.get("type")) or "").casefold() == "not_ready":
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED)
    error = _body_error(body)
    if error is not None:
        return failed(task_id, error)
    # Webhook events share this shape and name their outcome: "song.failed" is final whatever the data says.
    if (text(body.get("event")) or "").casefold().endswith(".failed"):
        return failed(task_id, error_from_text(message_from_body(body), ErrorKind.UNAVAILABLE))

    status = (text(body.get("status")) or "").upper()
    data = records(body.get("data"))
    if status in _QUEUED:
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED)
    if status in _RUNNING:
        return TaskStatus(task_id=task_id, state=TaskState.RUNNING)
    if status in _FAILED:
        if status == "TIMEOUT":
            return failed(task_id, ProviderError(ErrorKind.TIMEOUT))
        # Upstream refunds the provider credits of a FAILED task; the engine refunds the member's.
        return failed(task_id, error_from_text(message_from_body(body), ErrorKind.UNAVAILABLE))
    if status in _SUCCEEDED:
        clips = tuple(c for c in (_clip(r, task_id) for r in data) if c.audio_url)
        if not clips:
            return failed(task_id, ProviderError(ErrorKind.UNAVAILABLE, _NO_AUDIO))
        return TaskStatus(task_id=task_id, state=TaskState.SUCCEEDED, clips=clips)

    # No top-level status (the documented example's shape): the clips' states decide.
    if not data:
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED)
    for record in data:
        if (text(record.get("state")) or "").casefold() in _CLIP_FAILED:
            message = message_from_body(
                {"error": record.get("error_message") or record.get("error"), "message": body.get("message")}
            )
            return failed(task_id, error_from_text(message, ErrorKind.UNAVAILABLE))
    if all(_clip_done(r) for r in data):
        return TaskStatus(task_id=task_id, state=TaskState.SUCCEEDED, clips=tuple(_clip(r, task_id) for r in data))
    return TaskStatus(task_id=task_id, state=TaskState.RUNNING)


def parse_webhook(task_id: str, payload: dict[str, Any]) -> TaskStatus:
    """A webhook body has the task answer's shape (docs/providers.md, webhooks), so the poll parser reads it."""
    return parse_task(task_id, 200, payload)


def _busy(http_status: int, body: Any) -> bool:
    """Whether a poll answer explicitly says the task is still queued or rendering."""
    if http_status == 202:
        return True
    if not isinstance(body, Mapping):
        return False
    if (text(body.get("type")) or "").casefold() == "not_ready":
        return True
    if (text(body.get("status")) or "").upper() in _QUEUED | _RUNNING:
        return True
    return any((text(r.get("state")) or "").casefold() in _CLIP_BUSY for r in records(body.get("data")))


def parse_lyrics(body: Any) -> list[DraftedLyrics]:
    """Drafts from ``{"results"|"data": [{"title", "lyrics"|"text"}]}`` (or one bare draft object)."""
    if not isinstance(body, Mapping):
        return []
    items = body.get("results")
    if items is None:
        items = body.get("data")
    if items is None and ("lyrics" in body or "text" in body):
        items = body
    drafts: list[DraftedLyrics] = []
    for item in records(items):
        lyrics = text(item.get("lyrics")) or text(item.get("text"))
        if lyrics:
            drafts.append(DraftedLyrics(title=text(item.get("title")), lyrics=lyrics))
    return drafts


def parse_credits(body: Any) -> float | None:
    """``credits + extra_credits`` of a ``/get-credits`` answer (flat or under ``data``); None without a balance."""
    if isinstance(body, Mapping) and isinstance(body.get("data"), Mapping) and "credits" not in body:
        body = body["data"]
    if not isinstance(body, Mapping):
        return None
    error = _body_error(body)
    if error is not None:
        raise error
    credits, extra = number(body.get("credits")), number(body.get("extra_credits"))
    if credits is None and extra is None:
        return None
    return (credits or 0.0) + (extra or 0.0)


def _task_id(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    found = text(body.get("task_id"))
    if found is None and isinstance(body.get("data"), Mapping):
        found = text(body["data"].get("task_id"))
    return found


def _advanced(
    request: CreateMusic | ExtendMusic | CoverMusic | ReplaceSection | SwapVocals | SwapSound,
) -> dict[str, Any]:
    return {
        "mv": request.model or DEFAULT_MODEL,
        "seed": request.seed,
        "lyrics_strength": request.lyrics_strength,
        "sound_strength": request.sound_strength,
        "weirdness": request.weirdness,
    }


def build_submission(request: MusicRequest) -> tuple[str, dict[str, Any]]:
    """The path and JSON body the docs give for each request type (None fields omitted)."""
    body: dict[str, Any]
    match request:
        case CreateMusic():
            body = {
                "task_type": "create_music",
                "sound": request.sound,
                # make_instrumental already says "no vocals"; a literal "[Instrumental]" adds nothing.
                "lyrics": None if request.instrumental else request.lyrics,
                "title": request.title,
                "make_instrumental": request.instrumental,
                **_advanced(request),
                "cover_url": request.cover_url,
            }
        case ExtendMusic():
            # duration_s is FUZZ's knob; the Producer extends from starts_at for as long as the model decides.
            body = {
                "task_type": "extend_music",
                "clip_id": request.clip_id,
                "starts_at": request.starts_at,
                "sound": request.sound,
                "lyrics": request.lyrics,
                "title": request.title,
                **_advanced(request),
            }
        case CoverMusic():
            body = {
                "task_type": "cover_music",
                "clip_id": request.clip_id,
                "sound": request.sound,
                "lyrics": request.lyrics,
                "title": request.title,
                "cover_url": request.cover_url,
                # The 2026 service renamed cover_strength to strength and keeps the old name as an alias:
                # sending both works on old and new deployments.
                "cover_strength": request.cover_strength,
                "strength": request.cover_strength,
                **_advanced(request),
            }
        case ReplaceSection():
            body = {
                "task_type": "replace_music",
                "clip_id": request.clip_id,
                "starts_at": request.starts_at,
                "ends_at": request.ends_at,
                "sound": request.sound,
                "lyrics": request.lyrics,
                "title": request.title,
                **_advanced(request),
            }
        case MusicVariation():
            # The docs give only clip_id, mv and seed for a variation.
            body = {
                "task_type": "music_variation",
                "clip_id": request.clip_id,
                "mv": request.model or DEFAULT_MODEL,
                "seed": request.seed,
            }
        case SwapVocals() | SwapSound():
            body = {
                "task_type": "swap_music_vocals" if isinstance(request, SwapVocals) else "swap_music_sound",
                "clip_id": request.clip_id,
                "sound": request.sound,
                "lyrics": request.lyrics,
                "title": request.title,
                "cover_strength": request.cover_strength,
                **_advanced(request),
            }
        case UploadAudio():
            # The upload call takes only the URL; a title the member gave is the bot's to store.
            return "/producer/upload", {"audio_url": request.audio_url}
        case DownloadTrack():
            return "/producer/download", {"clip_id": request.clip_id, "format": request.format}
        case DraftLyrics():
            raise InvalidRequest("Lyrics are drafted straight away, not as a music task.")
        case _:  # pragma: no cover - the union is closed
            raise InvalidRequest("This request type is not supported.")
    return "/producer/create", {k: v for k, v in body.items() if v is not None}


class ProducerClient:
    """AI Music API's Producer: every operation, one song per task, webhooks supported, 1 task id per poll."""

    operations: frozenset[Operation] = PRODUCER_OPERATIONS
    models: tuple[str, ...] = PRODUCER_MODELS
    batch_size: int = 1
    supports_webhooks: bool = True
    request_dialect: str = "generic"
    extensions_are_partial: bool = False

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: SecretStr | str,
        max_concurrency: int = 10,
        sleep: Sleep = asyncio.sleep,
        name: str = "producer",
        lyrics_poll_attempts: int = 6,
        lyrics_poll_interval: float = 2.0,
    ) -> None:
        key = secret_value(api_key)
        root = base_url.rstrip("/")
        # Operators paste either the host or the documented ".../api/v1"; both mean the same API root.
        api_root = root if root.endswith("/api/v1") else f"{root}/api/v1"
        self.name = name
        self.max_concurrency = max_concurrency
        self.base_url = root
        self._sleep = sleep
        self._lyrics_poll_attempts = lyrics_poll_attempts
        self._lyrics_poll_interval = lyrics_poll_interval
        self._api = JsonApi(
            client,
            provider=name,
            base_url=api_root,
            auth_headers={"Authorization": f"Bearer {key}"},
            secrets=(key,),
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"ProducerClient(name={self.name!r}, base_url={self.base_url!r})"

    async def submit(self, request: MusicRequest, *, webhook: WebhookTarget | None = None) -> str:
        """Start a task and return its id. A retired operation raises ProviderError(RETIRED)."""
        path, body = build_submission(request)
        if webhook is not None:
            body["webhook_url"] = webhook.url
            body["webhook_secret"] = webhook.secret
        response = await self._api.request_json(
            "POST", path, json_body=body, secrets=(webhook.secret,) if webhook else ()
        )
        task_id = _task_id(response.body)
        if task_id is not None:
            log.debug("%s started %s task %s", self.name, request.operation.value, task_id)
            return task_id
        error = _body_error(response.body) if isinstance(response.body, Mapping) else None
        if error is not None:
            raise error
        raise ProviderError(
            ErrorKind.UNAVAILABLE,
            "The music provider did not start the task; try again.",
            retryable=False,
            status=response.status,
        )

    async def fetch(self, task_ids: Sequence[str]) -> list[TaskStatus]:
        """One status call per task (the Producer has no batch call)."""
        return [await self._fetch_one(task_id) for task_id in task_ids]

    async def _fetch_one(self, task_id: str) -> TaskStatus:
        try:
            response = await self._api.request_json("GET", f"/producer/task/{quote(task_id, safe='')}")
        except ProviderError as error:
            # These statuses describe the task, not the call: "504 Task failed due to timeout", or a poll that
            # answers 403 with the filter's verdict.
            if error.kind in (ErrorKind.TIMEOUT, ErrorKind.MODERATION):
                return failed(task_id, error)
            raise
        return parse_task(task_id, response.status, response.body)

    async def credits(self) -> float | None:
        """``credits + extra_credits`` from ``GET /get-credits``; None when the answer carries neither."""
        response = await self._api.request_json("GET", "/get-credits")
        balance = parse_credits(response.body)
        if balance is None:
            log.warning("%s: credits answer without a balance", self.name)
        return balance

    async def draft_lyrics(self, idea: str) -> list[DraftedLyrics]:
        """Lyrics from ``/producer/lyrics-create``, falling back to the older ``/sonic/lyrics`` when it is gone."""
        try:
            response = await self._api.request_json("POST", "/producer/lyrics-create", json_body={"prompt": idea})
        except ProviderError as error:
            if error.status not in (404, 410):
                raise
            log.info("%s: lyrics-create answered %s; trying /sonic/lyrics", self.name, error.status)
            try:
                response = await self._api.request_json("POST", "/sonic/lyrics", json_body={"description": idea})
            except ProviderError as fallback_error:
                if fallback_error.status in (404, 410):
                    raise ProviderError(ErrorKind.RETIRED, status=fallback_error.status) from fallback_error
                raise
        return await self._lyrics_from(response.body)

    async def _lyrics_from(self, body: Any) -> list[DraftedLyrics]:
        if isinstance(body, Mapping) and (error := _body_error(body)) is not None:
            raise error
        drafts = parse_lyrics(body)
        if drafts:
            return drafts
        task_id = _task_id(body)
        if task_id is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, _NO_LYRICS, retryable=False)
        # Some deployments answer with a task id: lyrics take a few seconds, so a short poll beats a job.
        for _ in range(self._lyrics_poll_attempts):
            await self._sleep(self._lyrics_poll_interval)
            response = await self._api.request_json("GET", f"/producer/task/{quote(task_id, safe='')}")
            # A lyrics task has no audio, so parse_task alone would call a finished one a failure: only an answer
            # that says the task is busy is polled again, anything else is read for lyrics first.
            if _busy(response.status, response.body):
                continue
            drafts = parse_lyrics(response.body)
            if drafts:
                return drafts
            status = parse_task(task_id, response.status, response.body)
            if status.state is TaskState.FAILED and status.failure is not None:
                if status.failure.message == _NO_AUDIO:
                    raise ProviderError(ErrorKind.UNAVAILABLE, _NO_LYRICS, retryable=False)
                raise ProviderError(ErrorKind(status.failure.kind), status.failure.message, retryable=False)
        raise ProviderError(ErrorKind.TIMEOUT, "The lyrics were not ready in time; try again.", retryable=True)

    async def aclose(self) -> None:
        """Nothing to release: the composition root owns (and closes) the shared httpx client."""
