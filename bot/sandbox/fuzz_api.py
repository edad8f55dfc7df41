"""The FoxAIHub "FUZZ 2.0" wire format (docs/providers.md, FUZZ 2.0), under /api/v2/fuzz."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.domain.models import Operation
from bot.sandbox import lyrics
from bot.sandbox.faults import FaultKind
from bot.sandbox.music.score import Score
from bot.sandbox.songs import Recipe
from bot.sandbox.store import ClipSpec, Failure, Task, new_id, now_iso
from bot.sandbox.validation import Rejected, json_object, number, text

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox

log = logging.getLogger(__name__)

PREFIX = "/api/v2/fuzz"
MAX_IDS = 25
TAKES = 2  # every FUZZ task yields two songs
MODEL_NAME = "FUZZ-2.0"
# FUZZ documents no text limits; the sandbox applies the Producer's (providers.md: "FUZZ tags share the field").
TITLE_AT_MOST = 80
LYRICS_AT_MOST = 3000
TAGS_AT_MOST = 200
EXTEND_AT_MOST_S = 180.0
# Fractions of the render time at which a task moves on: pending -> processing -> queued -> completed.
PROCESSING_FROM = 0.15
QUEUED_FROM = 0.40
_INSTRUMENTAL = "[Instrumental]"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"success": False, "message": message}, status=status, headers=headers)


def _condition(**values: object) -> dict[str, object]:
    return {**values, "strength": 0.5, "condition_start": 0, "condition_end": 1}


def _timestamps(score: Score | None, words: str, seconds: float) -> dict[str, list[dict[str, Any]]]:
    """``lyrics_timestamped`` as the service shapes it: one entry per sung line, timed as the audio sings it.

    An instrumental clip has one "[Instrumental]" entry spanning the clip, as the service answers; lines that the
    clip has no time to sing (a forced short length) are left out.
    """
    sung = [] if score is None else [line for line in score.lyrics if score.seconds(line.start) < seconds]
    entries = [(line.text, score.seconds(line.start), score.seconds(line.end)) for line in sung if score]
    if not entries and (not words.strip() or words.strip() == _INSTRUMENTAL):
        entries = [(_INSTRUMENTAL, 0.0, seconds)]
    return {
        "words": [
            {
                "end": round(min(end, seconds), 2),
                "text": text,
                "start": round(start, 2),
                "line_index": i,
                "index_range": None,
                "wav2vec2_format": None,
            }
            for i, (text, start, end) in enumerate(entries)
        ]
    }


class FuzzApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_post(f"{PREFIX}/task", self.submit)
        router.add_get(f"{PREFIX}/task", self.query)

    async def submit(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            extend = body.get("extend")
            if extend is not None and not isinstance(extend, dict):
                raise Rejected(400, "extend must be an object")
            operation = Operation.EXTEND if extend else Operation.CREATE
            if self.sandbox.faults.retired(operation):
                raise Rejected(410, self.sandbox.faults.retired_message(operation))
            tags = text(body, "tags", at_most=TAGS_AT_MOST)
            words = text(body, "lyrics", at_most=LYRICS_AT_MOST)
            title = text(body, "title", at_most=TITLE_AT_MOST)
            instrumental = words.strip() in ("", _INSTRUMENTAL)
            if instrumental and not tags.strip():
                raise Rejected(400, "tags is required when lyrics are empty (instrumental)")
            parent = self._extend_parent(extend) if extend else None
            armed = self.sandbox.faults.take(FaultKind.CREDITS)
            if armed is not None:
                raise Rejected(402, armed.message or "Insufficient balance, please recharge.")
        except Rejected as exc:
            return error(exc.status, exc.message)
        failure = None
        extend_from = float(number(extend, "start_s", low=0) or 0.0) if extend else None
        extend_for = float(number(extend, "extend_duration_s", above=0) or 0.0) if extend else None
        moderation = self.sandbox.faults.take(FaultKind.MODERATION)
        if moderation is not None:
            # FUZZ accepts the task and fails it later, flagged, instead of refusing the request.
            failure = Failure(moderation.message or "moderation", reason="moderation", flagged=True)
        task_id = new_id()
        words = _INSTRUMENTAL if instrumental else words
        request_words, request_tags = words, tags
        if parent is not None:
            words = f"{parent.lyrics}\n\n{words}".strip() if not instrumental else parent.lyrics
            tags = tags or parent.sound
        base_title = title or (parent.title if parent else lyrics.title_from(tags, words))
        clip_ids = []
        for take in range(TAKES):
            seed = f"{task_id}:{take}"
            if parent is None:
                recipe = Recipe("create", prompt=tags, lyrics=words, seed=seed, instrumental=instrumental)
            else:
                # extend.start_s 0 (or absent) means "from the end", as the service treats it.
                recipe = Recipe(
                    "extend",
                    prompt=request_tags,
                    lyrics="" if instrumental else request_words,
                    seed=seed,
                    parents=(parent.clip_id,),
                    start_s=extend_from or None,
                    length_s=extend_for,
                )
            clip = self.sandbox.store.new_clip(
                task_id=task_id,
                operation=operation,
                take=take,
                sound=tags,
                lyrics=words,
                title=base_title if take == 0 or title else f"{base_title} (Take {take + 1})"[:TITLE_AT_MOST],
                seed=seed,
                mv=MODEL_NAME,
                parent_id=parent.clip_id if parent else None,
                recipe=recipe,
            )
            clip_ids.append(clip.clip_id)
        gen_params: dict[str, Any]
        if instrumental:
            gen_params = {"topic": tags, "instrumental": "true"}
        else:
            gen_params = {"title": title or None, "conditions": [_condition(lyrics=words), _condition(prompt=tags)]}
        if extend:
            gen_params["extend"] = dict(extend)
        self.sandbox.open_task(
            Task(
                task_id=task_id,
                api="fuzz",
                operation=operation,
                submitted_at=self.sandbox.now(),
                render_s=self.sandbox.render_seconds,
                clip_ids=clip_ids,
                created_at=now_iso(),
                failure=failure,
                gen_params=gen_params,
                origin=str(request.url.origin()),
            )
        )
        return web.json_response({"success": True, "task_id": task_id})

    async def query(self, request: web.Request) -> web.Response:
        ids = [i.strip() for i in request.query.get("ids", "").split(",") if i.strip()]
        if not ids:
            return error(400, "ids is required: /task?ids=<id>,<id>")
        if len(ids) > MAX_IDS:
            return error(400, f"You can query not more than {MAX_IDS} task ids at once (got {len(ids)})")
        self.sandbox.count_poll(ids)
        now = self.sandbox.now()
        origin = str(request.url.origin())
        answer = []
        for task_id in dict.fromkeys(ids):  # a repeated id is answered once
            task = self.sandbox.store.tasks.get(task_id)
            if task is not None and task.api == "fuzz":
                answer.append(self._status(task, now, origin))
        return web.json_response(answer)

    def _extend_parent(self, extend: dict[str, Any]) -> ClipSpec:
        song_id = text(extend, "song_id", required=True)
        number(extend, "start_s", low=0)
        number(extend, "extend_duration_s", above=0, high=EXTEND_AT_MOST_S, required=True)
        parent = self.sandbox.store.usable_clip(song_id, self.sandbox.now())
        if parent is None:
            raise Rejected(400, f"song_id not found: {song_id}")
        return parent

    def _status(self, task: Task, now: float, origin: str) -> dict[str, Any]:
        progress = task.progress(now)
        data: Any
        if progress < PROCESSING_FROM:
            status, data = "pending", {}
        elif progress < QUEUED_FROM:
            status, data = "processing", None
        elif progress < 1.0:
            status, data = "queued", list(task.clip_ids)
        elif task.failure is not None:
            status = "failed"
            data = {
                "data": {},
                "reason": task.failure.reason,
                "is_flagged": task.failure.flagged,
                "musician_replacement_data": None,
            }
        else:
            status = "completed"
            data = [self._clip(self.sandbox.store.clips[c], origin) for c in task.clip_ids]
        return {
            "status": status,
            "task_id": task.task_id,
            "gen_params": task.gen_params,
            "data": data,
            "created_at": task.created_at,
        }

    def _clip(self, clip: ClipSpec, origin: str) -> dict[str, Any]:
        seconds = self.sandbox.songs.duration(clip)
        conditions = [
            {
                "t_end": 0,
                "lyrics": clip.lyrics,
                "prompt": None,
                "t_start": 1,
                "strength": 0.5,
                "vibe_input": None,
                "condition_end": 1,
                "condition_start": 0,
            },
            {
                "t_end": 0,
                "lyrics": None,
                "prompt": clip.sound,
                "t_start": 1,
                "strength": 0.5,
                "vibe_input": None,
                "condition_end": 1,
                "condition_start": 0,
            },
        ]
        songs = self.sandbox.songs
        return {
            "id": clip.clip_id,
            "sound": clip.sound,
            "title": clip.title,
            "topic": clip.sound,
            "lyrics": clip.lyrics,
            "can_use": True,
            "privacy": "unlisted",
            "group_id": "",
            "image_id": clip.clip_id,
            "audio_b64": None,
            "audio_url": f"{origin}/files/{clip.clip_id}.{clip.extension}",
            "author_id": "sandbox",
            "image_b64": None,
            "image_url": f"{origin}/files/{clip.clip_id}.png",
            "transform": None,
            "conditions": conditions,
            "created_at": clip.created_at,
            "duration_s": float(seconds),
            "play_count": 0,
            "is_favorite": False,
            "favorite_count": 0,
            "image_override": None,
            "parent_riff_id": clip.parent_id,
            "audio_upload_id": None,
            "audio_variation": None,
            "remix_parent_id": None,
            "simple_waveform": None,
            "allow_public_use": True,
            "lyrics_timestamped": _timestamps(songs.score(clip) if songs.sings(clip) else None, clip.lyrics, seconds),
            "model_display_name": clip.mv,
        }
