"""The AI Music API "Producer" wire format (docs/providers.md, Producer), under /api/v1."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.domain.models import PRODUCER_MODELS, Operation
from bot.sandbox import lyrics
from bot.sandbox.faults import FaultKind
from bot.sandbox.songs import Recipe
from bot.sandbox.store import ClipSpec, Failure, Task, new_id, now_iso
from bot.sandbox.validation import Rejected, flag, http_url, json_object, number, text

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
TASK_TYPES: dict[str, Operation] = {
    "create_music": Operation.CREATE,
    "extend_music": Operation.EXTEND,
    "cover_music": Operation.COVER,
    "replace_music": Operation.REPLACE,
    "music_variation": Operation.VARIATION,
    "swap_music_vocals": Operation.SWAP_VOCALS,
    "swap_music_sound": Operation.SWAP_SOUND,
}
CREATE_COST = 10
FILE_COST = 2  # upload and download
DEFAULT_MODEL = "FUZZ-2.0"
_MODELS = {m.casefold(): m for m in PRODUCER_MODELS}
# Limits as the service documents them: "title max 80 characters", "prompt < 3000", "tags < 200",
# "description < 120" for the old lyrics endpoint, "webhook_url at most 1024 characters".
TITLE_AT_MOST = 80
LYRICS_BELOW = 3000
SOUND_BELOW = 200
WEBHOOK_URL_AT_MOST = 1024
# Fractions of the render time at which a task moves on (providers.md: 202 first, then RUNNING, then streaming).
NOT_READY_UNTIL = 0.15
STREAMING_FROM = 0.70
_SUFFIX = {
    Operation.EXTEND: "Extended",
    Operation.COVER: "Cover",
    Operation.REPLACE: "Reworked",
    Operation.VARIATION: "Variation",
    Operation.SWAP_VOCALS: "New Vocals",
    Operation.SWAP_SOUND: "New Sound",
}
# How each Producer task type composes its clip from the parent's (bot.sandbox.music.derive).
_RECIPE_OPS = {
    Operation.EXTEND: "extend",
    Operation.COVER: "cover",
    Operation.REPLACE: "replace",
    Operation.VARIATION: "variation",
    Operation.SWAP_VOCALS: "swap_vocals",
    Operation.SWAP_SOUND: "swap_sound",
}
DEFAULT_FAILURE = "Task failed due to an internal error. Credits were refunded."
CREDITS_MESSAGE = "The remaining credits are not enough, please top up your account."


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def file_url(origin: str, clip: ClipSpec, *, extension: str | None = None) -> str:
    return f"{origin}/files/{clip.clip_id}.{extension or clip.extension}"


def clip_json(
    clip: ClipSpec, state: str, origin: str, seconds: float, failure: Failure | None = None
) -> dict[str, Any]:
    """A Producer clip; audio and art only appear once the clip streams, as the live service does."""
    audio = image = ""
    duration: float | str | None = None
    if state == "streaming":
        # A preview link that differs from the final one: clients must trust ``state``, not the URL.
        audio, image = file_url(origin, clip) + "?stream=1", file_url(origin, clip, extension="png")
    elif state == "succeeded":
        audio, image = file_url(origin, clip), file_url(origin, clip, extension="png")
        # The live service sends the duration as a number or as a string ("104.88"); alternate so clients see both.
        duration = round(seconds, 2) if clip.serial % 2 else f"{seconds:.2f}"
    data: dict[str, Any] = {
        "clip_id": clip.clip_id,
        "title": clip.title,
        "sound": clip.sound,
        "lyrics": clip.lyrics,
        "audio_url": audio,
        "wav_url": audio if state == "succeeded" and clip.extension == "wav" else "",
        "image_url": image,
        "video_url": "",
        "duration": duration,
        "state": state,
        "mv": clip.mv,
        "seed": clip.seed,
        "created_at": clip.created_at,
    }
    if failure is not None:
        data["error_message"] = failure.message
    return data


def task_data(sandbox: Sandbox, task: Task, state: str, origin: str) -> Any:
    """The ``data`` field of a poll answer or webhook for ``task`` in ``state``."""
    clip = sandbox.store.clips[task.clip_ids[0]]
    if task.operation is Operation.UPLOAD:
        if state != "succeeded":
            return {}
        return {"clip_id": clip.clip_id, "audio_url": file_url(origin, clip), "lyrics": clip.lyrics}
    if task.operation is Operation.DOWNLOAD:
        if state != "succeeded":
            return {}
        url = file_url(origin, clip)
        return {"audio_url": url, "wav_url": url} if task.download_format == "wav" else {"audio_url": url}
    seconds = sandbox.songs.duration(clip) if state == "succeeded" else 0.0
    return [clip_json(clip, state, origin, seconds, task.failure if state == "failed" else None)]


def final_event(sandbox: Sandbox, task: Task, origin: str) -> dict[str, Any]:
    """The webhook body for a finished task."""
    if task.failure is not None:
        return {
            "code": 500,
            "data": [],
            "message": task.failure.message,
            "task_id": task.task_id,
            "platform": "sandbox",
            "event": "song.failed",
        }
    return {
        "code": 200,
        "data": task_data(sandbox, task, "succeeded", origin),
        "message": "success",
        "task_id": task.task_id,
        "platform": "sandbox",
        "event": "song.completed",
    }


def _derived_seed(task_id: str) -> str:
    return str(int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16))


class ProducerApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_post(f"{PREFIX}/producer/create", self.create)
        router.add_post(f"{PREFIX}/producer/upload", self.upload)
        router.add_post(f"{PREFIX}/producer/download", self.download)
        router.add_get(f"{PREFIX}/producer/task/{{task_id}}", self.task)
        router.add_get(f"{PREFIX}/get-credits", self.credits)
        router.add_post(f"{PREFIX}/producer/lyrics-create", self.lyrics_create)

    # --- submits ------------------------------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            task_type = body.get("task_type", "create_music")
            operation = TASK_TYPES.get(task_type) if isinstance(task_type, str) else None
            if operation is None:
                raise Rejected(400, f"task_type must be one of: {', '.join(TASK_TYPES)}")
            self._check_retired(operation)
            task_id = new_id()
            values = self._clip_values(body, operation, task_id)
            webhook = self._webhook(body)
            self._charge(CREATE_COST)
            # A filter quotes what the member wrote, not lyrics the service would have drafted for them.
            self._moderate(lyrics.phrase(text(body, "lyrics", "prompt")) or lyrics.phrase(values["sound"]))
        except Rejected as exc:
            return error(exc.status, exc.message)
        clip = self.sandbox.store.new_clip(task_id=task_id, operation=operation, **values)
        self.sandbox.open_task(self._task(task_id, operation, [clip.clip_id], CREATE_COST, webhook, request))
        return self._accepted(task_id)

    async def upload(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.UPLOAD)
            source = http_url(text(body, "audio_url", required=True), "audio_url")
            title = text(body, "title", at_most=TITLE_AT_MOST)
            webhook = self._webhook(body)
            self._charge(FILE_COST)
        except Rejected as exc:
            return error(exc.status, exc.message)
        task_id = new_id()
        name = source.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        clip = self.sandbox.store.new_clip(
            task_id=task_id,
            operation=Operation.UPLOAD,
            title=title or lyrics.title_from(name, fallback="Upload"),
            sound="",
            lyrics="",
            seed=_derived_seed(task_id),
            mv=DEFAULT_MODEL,
            recipe=Recipe("upload"),
        )
        task = self._task(task_id, Operation.UPLOAD, [clip.clip_id], FILE_COST, webhook, request)
        self.sandbox.open_task(task, upload_url=source)
        return self._accepted(task_id)

    async def download(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.DOWNLOAD)
            clip = self._parent(text(body, "clip_id", required=True))
            fmt = text(body, "format") or "mp3"
            if fmt not in ("mp3", "wav"):
                raise Rejected(400, "format must be mp3 or wav")
            webhook = self._webhook(body)
            self._charge(FILE_COST)
        except Rejected as exc:
            return error(exc.status, exc.message)
        task_id = new_id()
        task = self._task(task_id, Operation.DOWNLOAD, [clip.clip_id], FILE_COST, webhook, request)
        task.download_format = fmt
        self.sandbox.open_task(task)
        return self._accepted(task_id)

    # --- reads --------------------------------------------------------------------------------------------------
    async def task(self, request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        task = self.sandbox.store.tasks.get(task_id)
        if task is None or task.api != "producer":
            return web.json_response({"code": 404, "error": "Task not found", "message": "Task not found"}, status=404)
        self.sandbox.count_poll([task_id])
        progress = task.progress(self.sandbox.now())
        if progress < NOT_READY_UNTIL:
            return web.json_response({"type": "not_ready", "message": "Task not ready"}, status=202)
        origin = str(request.url.origin())
        if progress < 1.0:
            state = "streaming" if progress >= STREAMING_FROM else "running"
            return web.json_response(
                {
                    "code": 200,
                    "status": "RUNNING",
                    "message": "success",
                    "data": task_data(self.sandbox, task, state, origin),
                }
            )
        if task.failure is not None:
            return web.json_response(
                {
                    "code": 200,
                    "status": "FAILED",
                    "message": task.failure.message,
                    "data": task_data(self.sandbox, task, "failed", origin),
                }
            )
        return web.json_response(
            {
                "code": 200,
                "status": "SUCCESS",
                "message": "success",
                "data": task_data(self.sandbox, task, "succeeded", origin),
            }
        )

    async def credits(self, request: web.Request) -> web.Response:
        return web.json_response({"credits": self.sandbox.store.credits(self.sandbox.now()), "extra_credits": 0})

    async def lyrics_create(self, request: web.Request) -> web.Response:
        return await self._lyrics(request, "prompt", LYRICS_BELOW)

    async def _lyrics(self, request: web.Request, field: str, below: int) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.LYRICS)
            idea = text(body, field, below=below, required=True)
        except Rejected as exc:
            return error(exc.status, exc.message)
        results = [dict(zip(("title", "lyrics"), lyrics.draft(idea, take), strict=True)) for take in (0, 1)]
        return web.json_response({"code": 200, "message": "success", "results": results})

    # --- helpers ------------------------------------------------------------------------------------------------
    def _check_retired(self, operation: Operation) -> None:
        if self.sandbox.faults.retired(operation):
            raise Rejected(410, self.sandbox.faults.retired_message(operation))

    def _parent(self, clip_id: str) -> ClipSpec:
        clip = self.sandbox.store.usable_clip(clip_id, self.sandbox.now())
        if clip is None:
            raise Rejected(404, f"clip_id not found: {clip_id}")
        return clip

    def _clip_values(self, body: dict[str, Any], operation: Operation, task_id: str) -> dict[str, Any]:
        """Validate a create body and return the new clip's fields (inherited from the parent for derived ops)."""
        title = text(body, "title", at_most=TITLE_AT_MOST)
        sound = text(body, "sound", "tags", below=SOUND_BELOW)
        words = text(body, "lyrics", "prompt", below=LYRICS_BELOW)
        seed = text(body, "seed", at_most=64, numbers=True) or _derived_seed(task_id)
        mv = self._model(body.get("mv"))
        instrumental = flag(body, "make_instrumental")
        number(body, "lyrics_strength", low=0, high=1)
        number(body, "sound_strength", low=0.2, high=1)
        number(body, "weirdness", low=0, high=1)
        number(body, "cover_strength", "strength", low=0.2, high=1)
        if body.get("cover_url"):
            http_url(text(body, "cover_url"), "cover_url")
        if operation is Operation.CREATE:
            if not (sound.strip() or words.strip()):
                raise Rejected(400, "sound or lyrics is required for create_music")
            if instrumental:
                words = "[Instrumental]"
            elif not words.strip():
                # The live service writes lyrics when only a style is given.
                words = lyrics.draft(sound)[1]
            return {
                "title": title or lyrics.title_from(sound, words),
                "sound": sound,
                "lyrics": words,
                "seed": seed,
                "mv": mv,
                "recipe": Recipe("create", prompt=sound, lyrics=words, seed=seed, instrumental=instrumental),
            }
        task_type = next(name for name, op in TASK_TYPES.items() if op is operation)
        clip_id = text(body, "clip_id")
        if not clip_id.strip():
            raise Rejected(400, f"clip_id is required for {task_type}")
        parent = self._parent(clip_id.strip())
        starts_at = number(body, "starts_at", low=0, required=operation is Operation.REPLACE)
        ends_at = None
        if operation is Operation.REPLACE and body.get("ends_at") is not None:
            ends_at = number(body, "ends_at", above=starts_at)
        if operation is Operation.SWAP_VOCALS and not (sound.strip() and words.strip()):
            raise Rejected(400, "sound and lyrics are required for swap_music_vocals")
        if operation is Operation.SWAP_SOUND and not sound.strip():
            raise Rejected(400, "sound is required for swap_music_sound")
        recipe = Recipe(
            _RECIPE_OPS[operation],
            prompt=sound,
            lyrics=words,
            seed=seed,
            instrumental=instrumental,
            parents=(parent.clip_id,),
            start_s=starts_at,
            end_s=ends_at,
        )
        if operation is Operation.EXTEND and words.strip():
            words = f"{parent.lyrics}\n\n{words}".strip()
        if operation is Operation.VARIATION and not body.get("seed"):
            seed = _derived_seed(task_id + parent.seed)
            recipe = Recipe("variation", seed=seed, parents=(parent.clip_id,))
        return {
            "recipe": recipe,
            "title": title or f"{parent.title} ({_SUFFIX[operation]})"[:TITLE_AT_MOST],
            "sound": sound or parent.sound,
            "lyrics": words or parent.lyrics,
            "seed": seed,
            "mv": mv,
            "parent_id": parent.clip_id,
        }

    @staticmethod
    def _model(value: object) -> str:
        if value is None or value == "":
            return DEFAULT_MODEL
        found = _MODELS.get(value.strip().casefold()) if isinstance(value, str) else None
        if found is None:
            raise Rejected(400, f"mv must be one of: {', '.join(PRODUCER_MODELS)}")
        return found

    @staticmethod
    def _webhook(body: dict[str, Any]) -> tuple[str, str | None] | None:
        url = text(body, "webhook_url")
        if not url:
            return None
        url = http_url(url, "webhook_url", https=True, at_most=WEBHOOK_URL_AT_MOST)
        return url, text(body, "webhook_secret") or None

    def _charge(self, cost: int) -> None:
        """Refuse when out of credits (injected or real); the charge itself is booked when the task opens."""
        armed = self.sandbox.faults.take(FaultKind.CREDITS)
        if armed is not None or self.sandbox.store.credits(self.sandbox.now()) < cost:
            raise Rejected(402, armed.message if armed and armed.message else CREDITS_MESSAGE)

    def _moderate(self, quoted: str) -> None:
        armed = self.sandbox.faults.take(FaultKind.MODERATION)
        if armed is not None:
            raise Rejected(403, armed.message or f"The lyrics contain copyrighted content: '{quoted or 'unknown'}'")

    def _task(
        self,
        task_id: str,
        operation: Operation,
        clip_ids: list[str],
        cost: int,
        webhook: tuple[str, str | None] | None,
        request: web.Request,
    ) -> Task:
        return Task(
            task_id=task_id,
            api="producer",
            operation=operation,
            submitted_at=self.sandbox.now(),
            render_s=self.sandbox.render_seconds,
            clip_ids=clip_ids,
            created_at=now_iso(),
            cost=cost,
            webhook_url=webhook[0] if webhook else None,
            webhook_secret=webhook[1] if webhook else None,
            origin=str(request.url.origin()),
        )

    @staticmethod
    def _accepted(task_id: str) -> web.Response:
        return web.json_response({"code": 200, "message": "success", "task_id": task_id})
