"""The AI Music API "Sonic" wire format (docs/providers.md, "Sonic"), under /api/v1/sonic (and the /suno aliases).

Same platform as the Producer: Bearer auth, the shared credit balance, the same error bodies, failure injection
and webhooks. What is Sonic's own, and imitated here: two clips per song task with their own ``state`` (pending,
running with a streaming preview, succeeded), ``mv`` reported in ``chirp-*`` spelling, ``duration`` sometimes a
string, extensions that hold only the new part (``concat_music`` joins them), synchronous upload and persona, and
studio tools that are true to the audio: stems are the synthesiser's voices, the MIDI file holds the notes it
played, the BPM is its tempo and the lyrics timeline says when each word is sung.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.domain.models import Operation
from bot.sandbox import lyrics
from bot.sandbox.faults import FaultKind
from bot.sandbox.music import midi
from bot.sandbox.music.style import read
from bot.sandbox.songs import BASIC_STEMS, STEM_NAMES, Recipe
from bot.sandbox.store import ClipSpec, Task, new_id, now_iso
from bot.sandbox.uploads import FetchError
from bot.sandbox.validation import Rejected, flag, http_url, json_object, number, text

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
ROOTS = ("sonic", "suno")  # /suno/... are the older paths, aliases on the service
TAKES = 2  # a song task makes two clips for one charge
# Models as requested (both spellings accepted) and the legacy name every answer reports.
MODELS = {
    "sonic-v3-5": "chirp-v3-5",
    "sonic-v4": "chirp-v4",
    "sonic-v4-5": "chirp-auk",
    "sonic-v4-5-plus": "chirp-bluejay",
    "sonic-v5": "chirp-crow",
    "sonic-v5-5": "chirp-fenix",
}
_LEGACY = {legacy: name for name, legacy in MODELS.items()} | {"chirp-v4-5": "sonic-v4-5"}
DEFAULT_MODEL = "sonic-v5"
_OLD_MODELS = ("sonic-v3-5", "sonic-v4")  # shorter limits; no replace-section on v3-5
COSTS = {
    Operation.CREATE: 15, Operation.COVER: 15, Operation.MASHUP: 15, Operation.SAMPLE: 15,
    Operation.EXTEND: 10, Operation.PERSONA: 10, Operation.REMASTER: 10, Operation.REPLACE: 10,
    Operation.ADD_VOCALS: 10, Operation.ADD_INSTRUMENTAL: 10, Operation.STEMS_BASIC: 20, Operation.STEMS_FULL: 50,
    Operation.UPLOAD: 2, Operation.CONCAT: 2, Operation.WAV: 1, Operation.MIDI: 1, Operation.BPM: 1,
    Operation.VOX: 1, Operation.UPSAMPLE_TAGS: 1, Operation.LYRICS_TIMELINE: 1,
}  # fmt: skip
TITLE_AT_MOST = 80
TITLE_AT_MOST_DERIVED = 120  # extend, cover and persona songs
DESCRIPTION_AT_MOST = 400
IDEA_BELOW = 120
PERSONA_NAME_BELOW = 80
VOX_AT_MOST_S = 30.0
WEBHOOK_URL_AT_MOST = 1024
# Fractions of the render time: 202 first, then each clip pending, running, running with a preview, streaming.
NOT_READY_UNTIL = 0.1
_CLIP_STATES = ((0.25, "pending"), (0.5, "running"), (0.75, "running"), (1.0, "streaming"))
_TAKE_LAG = 0.1  # the second clip trails the first
MIDI_READY_FRACTION = 0.25  # the MIDI tool answers 202 for this share of the render time (at most 2 s)
_TASK_TYPES = {
    "create_music": Operation.CREATE,
    "persona_music": Operation.CREATE,
    "extend_music": Operation.EXTEND,
    "extend_upload_music": Operation.EXTEND,
    "cover_music": Operation.COVER,
    "cover_upload_music": Operation.COVER,
    "concat_music": Operation.CONCAT,
    "remaster": Operation.REMASTER,
    "add_instrumental": Operation.ADD_INSTRUMENTAL,
    "add_vocals": Operation.ADD_VOCALS,
}
_SUFFIX = {
    Operation.EXTEND: "Extended", Operation.COVER: "Cover", Operation.REMASTER: "Remastered",
    Operation.ADD_INSTRUMENTAL: "Instrumental Added", Operation.ADD_VOCALS: "Vocals Added",
    Operation.REPLACE: "Reworked", Operation.SAMPLE: "Sampled", Operation.MASHUP: "Mashup",
}  # fmt: skip
_REMASTER_LEVELS = ("subtle", "normal", "high")
NURO_GONE = "The Nuro API has been deprecated and is no longer available."
RIFFUSION_GONE = "The Riffusion API has been deprecated and is no longer available."
CREDITS_MESSAGE = "The remaining credits are not enough, please top up your account."
NO_LYRICS = "Aligned lyrics not found for this clip"


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _files(origin: str, clip: ClipSpec, extension: str | None = None) -> str:
    return f"{origin}/files/{clip.clip_id}.{extension or clip.extension}"


def legacy_model(name: str) -> str:
    return MODELS.get(name, name)


class SonicApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.personas: dict[str, dict[str, str]] = {}  # persona_id -> name, voice, styles, clip_id
        self._aligned: set[str] = set()  # clips whose lyrics timeline was paid for (later calls are cached)
        self._midi_asked: dict[str, float] = {}  # clip_id -> when its MIDI was first asked for

    def register(self, router: web.UrlDispatcher) -> None:
        for root in ROOTS:
            base = f"{PREFIX}/{root}"
            router.add_post(f"{base}/create", self.create)
            router.add_get(f"{base}/task/{{task_id}}", self.task)
            router.add_post(f"{base}/upload", self.upload)
            router.add_post(f"{base}/upload-extend", self.upload_extend)
            router.add_post(f"{base}/upload-cover", self.upload_cover)
            router.add_post(f"{base}/persona", self.persona)
            router.add_post(f"{base}/mashup", self.mashup)
            router.add_post(f"{base}/replace-section", self.replace_section)
            router.add_post(f"{base}/sample", self.sample)
            router.add_post(f"{base}/stems/basic", self.stems_basic)
            router.add_post(f"{base}/stems/full", self.stems_full)
            router.add_post(f"{base}/wav", self.wav)
            router.add_post(f"{base}/midi", self.midi)
            router.add_post(f"{base}/aligned-lyrics", self.aligned_lyrics)
            router.add_post(f"{base}/bpm", self.bpm)
            router.add_post(f"{base}/vox", self.vox)
            router.add_post(f"{base}/upsample-tags", self.upsample_tags)
            router.add_post(f"{base}/lyrics", self.lyrics)
        router.add_route("*", f"{PREFIX}/nuro/{{tail:.*}}", self.nuro)
        router.add_route("*", f"{PREFIX}/riffusion/{{tail:.*}}", self.riffusion)
        router.add_get("/audiopipe/", self.audiopipe)

    # --- song tasks ---------------------------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            task_type = body.get("task_type", "create_music")
            operation = _TASK_TYPES.get(task_type) if isinstance(task_type, str) else None
            if operation is None:
                raise Rejected(400, f"task_type must be one of: {', '.join(_TASK_TYPES)}")
            if task_type == "persona_music":
                self._check_retired(Operation.PERSONA)
            self._check_retired(operation)
            model = self._model(body.get("mv"))
            self._knobs(body)
            webhook = self._webhook(body)
            songs = self._song_task(task_type, operation, body, model)
            cost = COSTS[operation]
            self._charge(cost)
            self._moderate(str(songs[0]["quoted"]))
        except Rejected as exc:
            return error(exc.status, exc.message)
        task_id = self._open(operation, songs, model, cost, webhook, request)
        return self._accepted(task_id)

    def _song_task(
        self, task_type: str, operation: Operation, body: dict[str, Any], model: str
    ) -> list[dict[str, Any]]:
        """The clips a create-family task makes (one per take): their fields and recipes."""
        if operation is Operation.CREATE:
            return self._new_songs(task_type, body, model)
        parent = self._clip(text(body, "continue_clip_id", required=True).strip())
        uploaded = parent.operation is Operation.UPLOAD
        if task_type in ("extend_music", "cover_music") and uploaded:
            kind = task_type.removesuffix("_music")
            raise Rejected(400, f"This clip was uploaded: use {kind}_upload_music for uploaded clips")
        if operation is Operation.CONCAT:
            if parent.recipe is None or parent.recipe.op != "continue":
                raise Rejected(400, "concat_music needs the clip_id of an extended clip")
            head = self.sandbox.store.clips.get(parent.parent_id or "")
            title = head.title if head is not None else parent.title
            recipe = Recipe("concat", parents=(parent.clip_id,))
            return [self._fields(parent, title, parent.sound, parent.lyrics, recipe, quoted="")]
        words, tags, title = self._custom_text(body, model, derived=True)
        instrumental = flag(body, "make_instrumental")
        default_title = f"{parent.title} ({_SUFFIX[operation]})"[:TITLE_AT_MOST_DERIVED]
        clips = []
        for take in range(TAKES):
            seed = f"{new_id()}:{take}"
            if operation is Operation.EXTEND:
                at = number(body, "continue_at", low=0)
                if at is not None and at >= self.sandbox.songs.duration(parent) > 0:
                    raise Rejected(400, "continue_at must be less than the clip's duration")
                recipe = Recipe("continue", prompt=tags, lyrics=words, seed=seed, parents=(parent.clip_id,), start_s=at)
            elif operation is Operation.COVER:
                recipe = Recipe("cover", prompt=tags, lyrics=words, seed=seed, parents=(parent.clip_id,))
            elif operation is Operation.REMASTER:
                level = text(body, "variation_category") or "normal"
                if level not in _REMASTER_LEVELS:
                    raise Rejected(400, f"variation_category must be one of: {', '.join(_REMASTER_LEVELS)}")
                recipe = Recipe("remaster", seed=seed, parents=(parent.clip_id,), level=level)
            elif operation is Operation.ADD_INSTRUMENTAL:
                recipe = Recipe("add_instrumental", prompt=tags, seed=seed, parents=(parent.clip_id,))
            else:  # add_vocals
                if not words.strip():
                    raise Rejected(400, "prompt (the lyrics to sing) is required for add_vocals")
                start = number(body, "overpainting_start_s", low=0)
                end = number(body, "overpainting_end_s", above=start if start is not None else 0)
                recipe = Recipe(
                    "add_vocals",
                    prompt=tags,
                    lyrics=words,
                    seed=seed,
                    parents=(parent.clip_id,),
                    start_s=start,
                    end_s=end,
                )
            if instrumental:
                recipe = replace(recipe, instrumental=True)  # the tune is played, not sung
            shown_lyrics = words or parent.lyrics
            clips.append(
                self._fields(
                    parent,
                    self._take_title(title or default_title, take),
                    tags or parent.sound,
                    shown_lyrics,
                    recipe,
                    quoted=lyrics.phrase(words) or lyrics.phrase(tags),
                )
            )
        return clips

    def _new_songs(self, task_type: str, body: dict[str, Any], model: str) -> list[dict[str, Any]]:
        instrumental = flag(body, "make_instrumental")
        voice, persona_styles = "", ""
        if task_type == "persona_music":
            persona = self.personas.get(text(body, "persona_id", required=True).strip())
            if persona is None:
                raise Rejected(404, "persona_id not found")
            voice, persona_styles = persona["voice"], persona["styles"]
        gender = text(body, "vocal_gender")
        if gender:
            voice = voice or {"f": "female", "m": "male"}[gender]
        custom = body.get("custom_mode")
        if custom is None:
            custom = body.get("gpt_description_prompt") is None
        if not isinstance(custom, bool):
            raise Rejected(400, "custom_mode must be true or false")
        if custom:
            words, tags, title = self._custom_text(body, model, derived=task_type == "persona_music")
            tags = tags or persona_styles
            if not (words.strip() or tags.strip()):
                raise Rejected(400, "prompt or tags is required when custom_mode is true")
            quoted = lyrics.phrase(words) or lyrics.phrase(tags)
            if not instrumental and not words.strip():
                words = lyrics.draft(tags)[1]
        else:
            idea = text(body, "gpt_description_prompt", at_most=DESCRIPTION_AT_MOST, required=True)
            tags = persona_styles or idea
            title, words = lyrics.draft(idea)
            quoted = lyrics.phrase(idea)
        if instrumental:
            words = "[Instrumental]"
        title = title or lyrics.title_from(tags, words)
        clips = []
        for take in range(TAKES):
            seed = f"{new_id()}:{take}"
            op = "persona" if voice else "create"
            recipe = Recipe(op, prompt=tags, lyrics=words, seed=seed, instrumental=instrumental, voice=voice)
            clips.append(
                {
                    "title": self._take_title(title, take),
                    "sound": tags,
                    "lyrics": words,
                    "seed": seed,
                    "recipe": recipe,
                    "quoted": quoted,
                    "take": take,
                }
            )
        return clips

    def _custom_text(self, body: dict[str, Any], model: str, *, derived: bool) -> tuple[str, str, str]:
        """(lyrics, tags, title) of a custom-mode body, within the model's limits."""
        old = model in _OLD_MODELS
        words = text(body, "prompt", at_most=3000 if old else 5000)
        tags = text(body, "tags", at_most=200 if old else 1000)
        text(body, "negative_tags", at_most=200 if old else 1000)
        title = text(body, "title", at_most=TITLE_AT_MOST_DERIVED if derived else TITLE_AT_MOST)
        return words, tags, title

    @staticmethod
    def _take_title(title: str, take: int) -> str:
        return title if take == 0 else f"{title} (Take {take + 1})"[:TITLE_AT_MOST_DERIVED]

    @staticmethod
    def _fields(
        parent: ClipSpec,
        title: str,
        sound: str,
        shown_lyrics: str,
        recipe: Recipe,
        *,
        quoted: str,
    ) -> dict[str, Any]:
        return {
            "title": title,
            "sound": sound,
            "lyrics": shown_lyrics,
            "seed": recipe.seed or parent.seed,
            "recipe": recipe,
            "quoted": quoted,
            "parent_id": parent.clip_id,
        }

    async def mashup(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.MASHUP)
            ids = body.get("mashup_clip_ids")
            if not isinstance(ids, list) or len(ids) != 2 or not all(isinstance(i, str) and i.strip() for i in ids):
                raise Rejected(400, "mashup_clip_ids must list exactly two clip ids")
            first, second = (self._clip(i.strip()) for i in ids)
            model = self._model(body.get("mv"))
            self._knobs(body)
            webhook = self._webhook(body)
            words, tags, title = self._custom_text(body, model, derived=False)
            songs = []
            for take, (a, b) in enumerate(((first, second), (second, first))):
                seed = f"{new_id()}:{take}"
                # Take 1: the first song's tune over the second's band; take 2 the other way round.
                recipe = Recipe("mashup", prompt=tags, lyrics=words, seed=seed, parents=(a.clip_id, b.clip_id))
                name = title or f"{first.title} × {second.title}"[:TITLE_AT_MOST]
                songs.append(
                    {
                        "title": self._take_title(name, take),
                        "sound": tags or b.sound,
                        "lyrics": a.lyrics,
                        "seed": seed,
                        "recipe": recipe,
                        "quoted": lyrics.phrase(tags),
                        "parent_id": a.clip_id,
                    }
                )
            self._charge(COSTS[Operation.MASHUP])
            self._moderate(str(songs[0]["quoted"]))
        except Rejected as exc:
            return error(exc.status, exc.message)
        return self._accepted(self._open(Operation.MASHUP, songs, model, COSTS[Operation.MASHUP], webhook, request))

    async def replace_section(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.REPLACE)
            parent = self._clip(text(body, "clip_id", required=True).strip())
            model = self._model(body.get("mv"))
            if model == "sonic-v3-5":
                raise Rejected(400, "replace-section needs mv sonic-v4 or later")
            start = number(body, "infill_start_s", low=0, required=True)
            end = number(body, "infill_end_s", above=start, required=True)
            if end is not None and end > self.sandbox.songs.duration(parent) + 0.01:
                raise Rejected(400, "infill_end_s must be within the clip's duration")
            words = text(body, "infill_lyrics", at_most=3000 if model in _OLD_MODELS else 5000)
            tags = text(body, "tags", at_most=200 if model in _OLD_MODELS else 1000)
            title = text(body, "title", at_most=TITLE_AT_MOST)
            webhook = self._webhook(body)
            songs = []
            for take in range(TAKES):
                seed = f"{new_id()}:{take}"
                recipe = Recipe(
                    "replace", prompt=tags, lyrics=words, seed=seed, parents=(parent.clip_id,), start_s=start, end_s=end
                )
                songs.append(
                    self._fields(
                        parent,
                        self._take_title(title or f"{parent.title} (Reworked)", take),
                        tags or parent.sound,
                        parent.lyrics,
                        recipe,
                        quoted=lyrics.phrase(words),
                    )
                )
            self._charge(COSTS[Operation.REPLACE])
            self._moderate(songs[0]["quoted"])
        except Rejected as exc:
            return error(exc.status, exc.message)
        return self._accepted(self._open(Operation.REPLACE, songs, model, COSTS[Operation.REPLACE], webhook, request))

    async def sample(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.SAMPLE)
            model = self._model(body.get("mv"))
            self._knobs(body)
            webhook = self._webhook(body)
            words, tags, title = self._custom_text(body, model, derived=False)
            start = number(body, "chop_sample_start_s", low=0, required=True)
            end = number(body, "chop_sample_end_s", above=start, required=True)
            clip_id = text(body, "sample_clip_id").strip()
            url = text(body, "url").strip()
            if not clip_id and not url:
                raise Rejected(400, "sample_clip_id or url is required")
            cost = COSTS[Operation.SAMPLE] + (COSTS[Operation.UPLOAD] if not clip_id else 0)
            self._charge(cost)
        except Rejected as exc:
            return error(exc.status, exc.message)
        steps: dict[str, Any] = {}
        if clip_id:
            try:
                source = self._clip(clip_id)
            except Rejected as exc:
                return error(exc.status, exc.message)
        else:
            fetched = await self._fetch_upload(url, steps)
            if isinstance(fetched, web.Response):
                return fetched
            source = fetched
        if end is not None and end > self.sandbox.songs.duration(source) + 0.01:
            steps["sample"] = {"success": False, "error": "The sample window is longer than the track"}
            return web.json_response(
                {"message": "The sample window is longer than the track", "steps": steps, "failed_step": "sample"}
            )
        instrumental = flag(body, "make_instrumental")
        songs = []
        for take in range(TAKES):
            seed = f"{new_id()}:{take}"
            recipe = Recipe(
                "sample",
                prompt=tags,
                lyrics=words,
                seed=seed,
                instrumental=instrumental,
                parents=(source.clip_id,),
                start_s=start,
                end_s=end,
            )
            songs.append(
                self._fields(
                    source,
                    self._take_title(title or f"{source.title} (Sampled)", take),
                    tags or source.sound,
                    words or "[Instrumental]",
                    recipe,
                    quoted=lyrics.phrase(tags),
                )
            )
        task_id = self._open(Operation.SAMPLE, songs, model, COSTS[Operation.SAMPLE], webhook, request)
        steps["sample"] = {"success": True, "task_id": task_id}
        return web.json_response(
            {"code": 200, "message": "success", "task_id": task_id, "steps": steps, "failed_step": None}
        )

    # --- uploads and personas (answer at once) --------------------------------------------------------------
    async def upload(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.UPLOAD)
            url = http_url(text(body, "url", "audio_url", required=True), "url")
            self._charge(COSTS[Operation.UPLOAD])
        except Rejected as exc:
            return error(exc.status, exc.message)
        try:
            clip = await self._uploaded(url)
        except FetchError as exc:
            return error(400, f"Could not download the audio from the given url: {exc}")
        self.sandbox.store.charge(COSTS[Operation.UPLOAD])
        return web.json_response({"code": 200, "clip_id": clip.clip_id, "message": "success"})

    async def upload_extend(self, request: web.Request) -> web.Response:
        return await self._upload_then(request, "extend_upload_music")

    async def upload_cover(self, request: web.Request) -> web.Response:
        return await self._upload_then(request, "cover_upload_music")

    async def _upload_then(self, request: web.Request, task_type: str) -> web.Response:
        operation = _TASK_TYPES[task_type]
        try:
            body = await json_object(request)
            self._check_retired(operation)
            url = http_url(text(body, "url", required=True), "url")
            model = self._model(body.get("mv"))
            self._knobs(body)
            webhook = self._webhook(body)
            self._charge(COSTS[operation] + COSTS[Operation.UPLOAD])
        except Rejected as exc:
            return error(exc.status, exc.message)
        steps: dict[str, Any] = {}
        fetched = await self._fetch_upload(url, steps)
        if isinstance(fetched, web.Response):
            return fetched
        source = fetched
        try:
            songs = self._song_task(task_type, operation, {**body, "continue_clip_id": source.clip_id}, model)
            self._moderate(songs[0]["quoted"])
        except Rejected as exc:
            return error(exc.status, exc.message)
        task_id = self._open(operation, songs, model, COSTS[operation], webhook, request)
        steps[task_type.split("_")[0]] = {"success": True, "task_id": task_id}
        return web.json_response(
            {"code": 200, "message": "success", "task_id": task_id, "steps": steps, "failed_step": None}
        )

    async def _fetch_upload(self, url: str, steps: dict[str, Any]) -> ClipSpec | web.Response:
        """``url`` brought in as an uploaded clip; on failure, the answer: a 200 naming the failed step."""
        try:
            clip = await self._uploaded(url)
        except FetchError as exc:
            message = f"Could not download the audio from the given url: {exc}"
            steps["upload"] = {"success": False, "error": message}
            return web.json_response({"code": 400, "message": message, "steps": steps, "failed_step": "upload"})
        self.sandbox.store.charge(COSTS[Operation.UPLOAD])
        steps["upload"] = {"success": True, "clip_id": clip.clip_id}
        return clip

    async def _uploaded(self, url: str) -> ClipSpec:
        data, content_type, extension = await self.sandbox.fetch_upload(url)
        name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        clip = self.sandbox.store.new_clip(
            task_id="",
            operation=Operation.UPLOAD,
            title=lyrics.title_from(name, fallback="Upload"),
            sound="",
            lyrics="",
            seed=new_id(),
            mv=DEFAULT_MODEL,
            recipe=Recipe("upload"),
        )
        clip.audio, clip.content_type, clip.extension = data, content_type, extension
        return clip

    async def persona(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.PERSONA)
            name = text(body, "name", below=PERSONA_NAME_BELOW, required=True)
            clip = self._clip(text(body, "clip_id", required=True).strip())
            text(body, "describe", at_most=1000)
            styles = text(body, "styles", at_most=1000)
            start = number(body, "vocal_start_s", low=0)
            number(body, "vocal_end_s", above=start if start is not None else 0)
            self._charge(COSTS[Operation.PERSONA])
        except Rejected as exc:
            return error(exc.status, exc.message)
        plan = self.sandbox.songs.source_plan(clip)
        persona_id = new_id()
        self.personas[persona_id] = {
            "name": name,
            "voice": plan.voice or "female",
            "styles": styles or clip.sound,
            "clip_id": clip.clip_id,
        }
        self.sandbox.store.charge(COSTS[Operation.PERSONA])
        return web.json_response({"code": 200, "persona_id": persona_id, "message": "success"})

    # --- tools ----------------------------------------------------------------------------------------------
    async def stems_basic(self, request: web.Request) -> web.Response:
        return await self._stems(request, Operation.STEMS_BASIC)

    async def stems_full(self, request: web.Request) -> web.Response:
        return await self._stems(request, Operation.STEMS_FULL)

    async def _stems(self, request: web.Request, operation: Operation) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(operation)
            source = self._song_clip(text(body, "clip_id", required=True).strip())
            webhook = self._webhook(body)
            self._charge(COSTS[operation])
        except Rejected as exc:
            return error(exc.status, exc.message)
        score = self.sandbox.songs.score(source)
        if score is None:
            return error(400, "The sandbox can only split songs it made (this upload is a file it did not)")
        voices = score.voices
        if operation is Operation.STEMS_BASIC:
            splits = [(name, tuple(v for v in parts if v in voices)) for name, parts in BASIC_STEMS]
        else:
            splits = [(STEM_NAMES.get(v, v.title()), (v,)) for v in voices]
        stems = [
            {
                "title": f"{source.title} ({name})",
                "sound": "stem",
                "lyrics": source.lyrics if "vocal" in parts else "",
                "seed": source.seed,
                "recipe": Recipe("stem", parents=(source.clip_id,), voices=parts),
                "parent_id": source.clip_id,
            }
            for name, parts in splits
        ]
        task_id = self._open(operation, stems, DEFAULT_MODEL, COSTS[operation], webhook, request, mv=source.mv)
        return self._accepted(task_id)

    async def wav(self, request: web.Request) -> web.Response:
        try:
            clip = await self._tool_clip(request, Operation.WAV)
        except Rejected as exc:
            return error(exc.status, exc.message)
        self.sandbox.store.charge(COSTS[Operation.WAV])
        url = _files(str(request.url.origin()), clip, "wav")
        return web.json_response({"code": 200, "message": "success", "data": {"wav_url": url}})

    async def midi(self, request: web.Request) -> web.Response:
        try:
            clip = await self._tool_clip(request, Operation.MIDI)
        except Rejected as exc:
            return error(exc.status, exc.message)
        score = self.sandbox.songs.score(clip)
        if score is None:
            return error(400, "The sandbox can only transcribe songs it made (this upload is a file it did not)")
        now = self.sandbox.now()
        asked = self._midi_asked.setdefault(clip.clip_id, now)
        if now - asked < min(2.0, MIDI_READY_FRACTION * self.sandbox.render_seconds):
            return web.json_response(
                {"code": 202, "message": "MIDI is being generated, please retry later"}, status=202
            )
        self.sandbox.store.charge(COSTS[Operation.MIDI])
        data = {"midi_url": _files(str(request.url.origin()), clip, "mid"), "instruments": midi.instruments(score)}
        return web.json_response({"code": 200, "message": "success", "data": data})

    async def aligned_lyrics(self, request: web.Request) -> web.Response:
        try:
            clip = await self._tool_clip(request, Operation.LYRICS_TIMELINE)
        except Rejected as exc:
            return error(exc.status, exc.message)
        score = self.sandbox.songs.score(clip)
        if score is None or not score.lyrics:
            return error(404, NO_LYRICS)
        if clip.clip_id not in self._aligned:  # the first call is paid for, later ones are cached
            self._aligned.add(clip.clip_id)
            self.sandbox.store.charge(COSTS[Operation.LYRICS_TIMELINE])
        alignment: list[dict[str, Any]] = []
        tagged: set[int] = set()
        for line in score.lyrics:
            index = next((i for i, s in enumerate(score.sections) if s.start <= line.start < s.end), None)
            if index is not None and index not in tagged:
                # A section's tag comes before its first line, unsung (as the service lists it).
                tagged.add(index)
                at = round(score.seconds(line.start), 3)
                tag = f"[{score.sections[index].name}]\n"
                alignment.append({"word": tag, "start_s": at, "end_s": at, "p_align": 0.0, "success": False})
            for i, word in enumerate(line.words):
                last = i == len(line.words) - 1
                alignment.append(
                    {
                        "word": word.text + ("\n" if last else " "),
                        "start_s": round(score.seconds(word.start), 3),
                        "end_s": round(score.seconds(word.end), 3),
                        "p_align": 0.97,
                        "success": True,
                    }
                )
        return web.json_response({"code": 200, "message": "success", "data": {"alignment": alignment}})

    async def bpm(self, request: web.Request) -> web.Response:
        try:
            clip = await self._tool_clip(request, Operation.BPM)
        except Rejected as exc:
            return error(exc.status, exc.message)
        plan = self.sandbox.songs.plan(clip)
        if plan is None:
            return error(400, "The sandbox can only tell the tempo of songs it made (this upload is a file it did not)")
        self.sandbox.store.charge(COSTS[Operation.BPM])
        tempo = float(plan.bpm)  # one tempo for the whole song: average, slowest and fastest agree
        return web.json_response(
            {"code": 200, "message": "success", "data": {"avg_bpm": tempo, "max_bpm": tempo, "min_bpm": tempo}}
        )

    async def vox(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.VOX)
            clip = self._song_clip(text(body, "clip_id", required=True).strip())
            start = number(body, "vocal_start_s", low=0)
            end = number(body, "vocal_end_s", above=start if start is not None else 0)
            if (start is None) != (end is None):
                raise Rejected(400, "give both vocal_start_s and vocal_end_s, or neither")
            if start is not None and end is not None and end - start > VOX_AT_MOST_S:
                raise Rejected(400, f"The vocal range must be at most {VOX_AT_MOST_S:g} seconds")
            score = self.sandbox.songs.score(clip)
            if score is None or score.part("vocal") is None:
                raise Rejected(400, "This clip has no vocals")
            self._charge(COSTS[Operation.VOX])
        except Rejected as exc:
            return error(exc.status, exc.message)
        duration = self.sandbox.songs.duration(clip)
        if start is None or end is None:
            # Without a range: thirty seconds from where the singing starts.
            start = round(score.seconds(score.lyrics[0].start), 3) if score.lyrics else 0.0
            end = min(duration, start + VOX_AT_MOST_S)
        end = min(end, duration)
        vox = self.sandbox.store.new_clip(
            task_id="",
            operation=Operation.VOX,
            title=f"{clip.title} (Vocals)",
            sound="vox",
            lyrics=clip.lyrics,
            seed=clip.seed,
            mv=clip.mv,
            parent_id=clip.clip_id,
            recipe=Recipe("vox", parents=(clip.clip_id,), voices=("vocal",), start_s=start, end_s=end),
        )
        self.sandbox.store.charge(COSTS[Operation.VOX])
        data = {
            "vox_audio_id": vox.clip_id,
            "vocal_audio_url": _files(str(request.url.origin()), vox, "wav"),
            "vocal_start_s": start,
            "vocal_end_s": end,
        }
        return web.json_response({"code": 200, "message": "success", "data": data})

    async def upsample_tags(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.UPSAMPLE_TAGS)
            tags = text(body, "tags", at_most=1000, required=True)
            self._charge(COSTS[Operation.UPSAMPLE_TAGS])
        except Rejected as exc:
            return error(exc.status, exc.message)
        self.sandbox.store.charge(COSTS[Operation.UPSAMPLE_TAGS])
        return web.json_response({"code": 200, "message": "success", "data": {"upsampled_tags": upsampled(tags)}})

    async def lyrics(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            self._check_retired(Operation.LYRICS)
            idea = text(body, "description", below=IDEA_BELOW, required=True)
        except Rejected as exc:
            return error(exc.status, exc.message)
        results = [dict(zip(("title", "lyrics"), lyrics.draft(idea, take), strict=True)) for take in (0, 1)]
        return web.json_response({"code": 200, "message": "success", "results": results})

    async def nuro(self, request: web.Request) -> web.Response:
        return error(410, NURO_GONE)

    async def riffusion(self, request: web.Request) -> web.Response:
        return error(410, RIFFUSION_GONE)

    async def audiopipe(self, request: web.Request) -> web.StreamResponse:
        """The streaming preview address: the audio as rendered so far (here: the whole file)."""
        clip = self.sandbox.store.clips.get(request.query.get("item_id", ""))
        if clip is None:
            return error(404, "File not found")
        raise web.HTTPFound(_files(str(request.url.origin()), clip))

    # --- polling ------------------------------------------------------------------------------------------------
    async def task(self, request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        task = self.sandbox.store.tasks.get(task_id)
        if task is None or task.api != "sonic":
            return web.json_response({"error": "Task not found"}, status=404)
        self.sandbox.count_poll([task_id])
        progress = task.progress(self.sandbox.now())
        if progress < NOT_READY_UNTIL:
            return web.json_response({"type": "not_ready", "message": "Task not ready"}, status=202)
        origin = str(request.url.origin())
        data = task_data(self.sandbox, task, origin, progress)
        return web.json_response({"code": 200, "message": "success", "data": data})

    # --- helpers ------------------------------------------------------------------------------------------------
    def _open(
        self,
        operation: Operation,
        songs: list[dict[str, Any]],
        model: str,
        cost: int,
        webhook: tuple[str, str | None] | None,
        request: web.Request,
        *,
        mv: str | None = None,
    ) -> str:
        task_id = new_id()
        clip_ids = []
        for take, song in enumerate(songs):
            fields = {k: v for k, v in song.items() if k not in ("quoted", "take")}
            clip = self.sandbox.store.new_clip(
                task_id=task_id, operation=operation, take=take, mv=mv or model, **fields
            )
            clip_ids.append(clip.clip_id)
        self.sandbox.open_task(
            Task(
                task_id=task_id,
                api="sonic",
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
        )
        return task_id

    @staticmethod
    def _accepted(task_id: str) -> web.Response:
        return web.json_response({"message": "success", "task_id": task_id})

    def _check_retired(self, operation: Operation) -> None:
        if self.sandbox.faults.retired(operation):
            raise Rejected(410, self.sandbox.faults.retired_message(operation))

    def _clip(self, clip_id: str) -> ClipSpec:
        clip = self.sandbox.store.usable_clip(clip_id, self.sandbox.now())
        if clip is None or not clip_id:
            raise Rejected(404, f"clip not found: {clip_id}")
        return clip

    def _song_clip(self, clip_id: str) -> ClipSpec:
        """A finished clip with music the sandbox made (tools need its notes)."""
        clip = self._clip(clip_id)
        task = self.sandbox.store.tasks.get(clip.task_id)
        if task is not None and not task.done(self.sandbox.now()):
            raise Rejected(400, "The clip is still being generated; try again when it has finished")
        return clip

    async def _tool_clip(self, request: web.Request, operation: Operation) -> ClipSpec:
        body = await json_object(request)
        self._check_retired(operation)
        clip = self._song_clip(text(body, "clip_id", required=True).strip())
        self._charge(COSTS[operation])
        return clip

    @staticmethod
    def _model(value: object) -> str:
        if value is None or value == "":
            return DEFAULT_MODEL
        if isinstance(value, str):
            name = value.strip().casefold()
            if name in MODELS:
                return name
            if name in _LEGACY:
                return _LEGACY[name]
        raise Rejected(400, f"mv must be one of: {', '.join(MODELS)} (or their chirp-* names)")

    @staticmethod
    def _knobs(body: dict[str, Any]) -> None:
        """The optional knobs, checked like the service does (accepted, and used only where they matter)."""
        for name in ("style_weight", "weirdness_constraint", "audio_weight"):
            number(body, name, low=0, high=1)
        gender = body.get("vocal_gender")
        if gender is not None and gender not in ("f", "m"):
            raise Rejected(400, "vocal_gender must be 'f' or 'm'")
        number(body, "duration", low=10, high=360)
        if body.get("use_suno_cdn") is not None:
            flag(body, "use_suno_cdn")

    @staticmethod
    def _webhook(body: dict[str, Any]) -> tuple[str, str | None] | None:
        url = text(body, "webhook_url")
        if not url:
            return None
        url = http_url(url, "webhook_url", https=True, at_most=WEBHOOK_URL_AT_MOST)
        return url, text(body, "webhook_secret") or None

    def _charge(self, cost: int) -> None:
        armed = self.sandbox.faults.take(FaultKind.CREDITS)
        if armed is not None or self.sandbox.store.credits(self.sandbox.now()) < cost:
            raise Rejected(402, armed.message if armed and armed.message else CREDITS_MESSAGE)

    def _moderate(self, quoted: str) -> None:
        armed = self.sandbox.faults.take(FaultKind.MODERATION)
        if armed is not None:
            raise Rejected(403, armed.message or f"The lyrics contain copyrighted content: '{quoted or 'unknown'}'")


# --- answers ----------------------------------------------------------------------------------------------------
def _clip_state(progress: float, take: int) -> tuple[str, bool]:
    """(state, has a preview URL) of clip ``take`` of a task at ``progress``; both succeed together at 1.0."""
    if progress >= 1.0:
        return "succeeded", False
    at = progress - _TAKE_LAG * take
    for (limit, state), preview in zip(_CLIP_STATES, (False, False, True, True), strict=True):
        if at < limit:
            return state, preview
    return "streaming", True


def clip_json(sandbox: Sandbox, clip: ClipSpec, state: str, origin: str, *, preview: bool) -> dict[str, Any]:
    """A Sonic clip record; audio and art only once there is something to hear."""
    audio: str | None = ""
    image: str | None = ""
    duration: float | int | str | None = None
    if preview:
        audio = f"{origin}/audiopipe/?item_id={clip.clip_id}"
    if state == "succeeded":
        audio, image = _files(origin, clip, "wav"), _files(origin, clip, "png")
        seconds = sandbox.songs.duration(clip)
        # The live service sends an int, a float or a string: rotate so clients meet all three.
        duration = (round(seconds, 2), f"{seconds:.2f}", round(seconds))[clip.serial % 3]
    elif state == "failed":
        audio = None
    record: dict[str, Any] = {
        "clip_id": clip.clip_id,
        "state": state,
        "title": clip.title,
        "tags": clip.sound,
        "lyrics": clip.lyrics,
        "image_url": image,
        "audio_url": audio,
        "video_url": None,
        "created_at": clip.created_at,
        "mv": legacy_model(clip.mv),
        "duration": duration,
    }
    stem = stem_name(clip)
    if stem is not None:
        record["stem"] = stem.lower()
    return record


def stem_name(clip: ClipSpec) -> str | None:
    """The name of the stem a clip is ("Vocals", "Drums", ...), None for a song."""
    recipe = clip.recipe
    if recipe is None or recipe.op != "stem" or not recipe.voices:
        return None
    if clip.operation is Operation.STEMS_BASIC:
        return "Vocals" if recipe.voices == ("vocal",) else "Instrumental"
    return STEM_NAMES.get(recipe.voices[0], recipe.voices[0].title())


def task_data(sandbox: Sandbox, task: Task, origin: str, progress: float) -> list[dict[str, Any]]:
    clips = [sandbox.store.clips[c] for c in task.clip_ids]
    if progress >= 1.0 and task.failure is not None:
        return [
            {**clip_json(sandbox, clip, "failed", origin, preview=False), "error_message": task.failure.message}
            for clip in clips
        ]
    out = []
    for take, clip in enumerate(clips):
        state, preview = _clip_state(progress, take if task.operation not in _TOOL_TASKS else 0)
        out.append(clip_json(sandbox, clip, state, origin, preview=preview and task.operation not in _TOOL_TASKS))
    return out


_TOOL_TASKS = frozenset({Operation.STEMS_BASIC, Operation.STEMS_FULL})


def final_event(sandbox: Sandbox, task: Task, origin: str) -> dict[str, Any]:
    """The webhook body of a finished Sonic task (the poll answer's shape, with the event)."""
    failed = task.failure is not None
    return {
        "code": 500 if failed else 200,
        "message": task.failure.message if task.failure is not None else "success",
        "task_id": task.task_id,
        "platform": "sonic",
        "event": "song.failed" if failed else "song.completed",
        "data": task_data(sandbox, task, origin, 1.0),
    }


_FLAVOUR = {
    "lofi": "dusty lo-fi hip hop, mellow electric piano, swung soft drums, warm sub bass, vinyl crackle",
    "dnb": "liquid drum and bass, rolling breakbeats, deep reese bass, airy pads, bright bells",
    "ballad": "intimate piano ballad, rich grand piano, soft strings, gentle brushed drums",
    "rock": "driving rock, crunchy power chords, punchy live drums, picked bass, anthemic chorus",
    "jazz": "smooth jazz, swinging ride cymbal, walking upright bass, electric piano comping, vibraphone",
    "ambient": "spacious ambient, slow evolving pads, shimmering bells, deep drones, long reverb",
    "house": "four-on-the-floor house, offbeat bass, bright saw stabs, open hi-hats, clap build-ups",
    "hiphop": "boom bap hip hop, hard snares, sub bass, dusty keys",
    "folk": "warm acoustic folk, strummed guitar, upright bass, shaker, airy flute",
    "pop": "polished pop, bright piano, tight drums, catchy lead",
}


def upsampled(tags: str) -> str:
    """A richer style text for ``tags``: the words given, then the instruments and feel of the style they name."""
    reading = read(tags)
    extra = [_FLAVOUR.get(reading.style.name, _FLAVOUR["pop"])]
    if reading.mood:
        extra.append("melancholic minor key" if reading.mood == "dark" else "uplifting major key")
    if reading.voice:
        extra.append(f"expressive {reading.voice} vocals")
    low, high = reading.style.bpm
    extra.append(f"{reading.bpm or (low + high) // 2} bpm")
    words = [w.strip() for w in tags.split(",") if w.strip()]
    seen = {w.casefold() for w in words}
    for phrase in ", ".join(extra).split(", "):
        if phrase.casefold() not in seen:
            words.append(phrase)
            seen.add(phrase.casefold())
    return ", ".join(words)[:1000]
