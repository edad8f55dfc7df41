"""AI Music API's Sonic (docs/providers.md, "Sonic") as a ``MusicProvider`` with studio tools.

Same platform, host and key as the Producer (``Authorization: Bearer``), paths under ``/api/v1/sonic/``. Errors
go through the shared :class:`~bot.providers.http.JsonApi` exactly as for the Producer. What is Sonic's own:

- one task makes two clips (one charge), each with its own ``state``; a task is done when no clip is busy, and a
  ``streaming`` clip's preview ``audio_url`` is never taken as the final audio;
- ``mv`` comes back in ``chirp-*`` spelling: clips report the ``sonic-*`` name;
- an extension holds only the new part (``extensions_are_partial``): ``SonicConcat`` makes the full song;
- the upload answers at once with a clip id (``upload_clip``), so a submitted upload is a finished "task" whose id
  carries the clip (no call needed to read it back, even after a restart);
- ``use_suno_cdn: false`` is sent (the live service requires it); a 400 naming an optional field the bot chose to
  send is taken as the service refusing that field: the call is made once more without it, and the field is
  never sent to that endpoint again;
- the tools: stems are tasks (``submit_tool`` / ``fetch_tool``), every other tool answers at once (``run_tool``);
  a tool that answers 202 "not ready" is asked again politely.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from bot.domain.errors import ErrorKind, InvalidRequest, OperationUnavailable, ProviderError
from bot.domain.lyrics_timeline import LyricsAlignment
from bot.domain.models import (
    Clip,
    CoverMusic,
    CreateMusic,
    DraftedLyrics,
    ExtendMusic,
    MusicRequest,
    Operation,
    ReplaceSection,
    TaskState,
    TaskStatus,
    UploadAudio,
    WebhookTarget,
)
from bot.domain.sonic import (
    DEFAULT_SONIC_MODEL,
    SONIC_MODELS,
    Bpm,
    Mashup,
    Midi,
    MidiInstrument,
    MidiNote,
    Sample,
    SavePersona,
    SonicAddInstrumental,
    SonicAddVocals,
    SonicConcat,
    SonicCover,
    SonicCreate,
    SonicExtend,
    SonicRemaster,
    SonicReplace,
    SonicRequest,
    Stem,
    Stems,
    Tool,
    ToolResult,
    ToolStatus,
    UpsampledTags,
    VoxClip,
    WavFile,
    check_tool_options,
    sonic_model_name,
)
from bot.providers.http import JsonApi, JsonResponse, Sleep, message_from_body, secret_value
from bot.providers.parsing import (
    alignment_from,
    body_error,
    error_from_text,
    failed,
    finite_number,
    records,
    text,
)
from bot.providers.producer import parse_credits, parse_lyrics

log = logging.getLogger(__name__)

# The operations Sonic adds to the Producer's (the tools included: they are priced and retired like operations).
SONIC_ONLY = frozenset(
    {
        Operation.MASHUP,
        Operation.SAMPLE,
        Operation.PERSONA,
        Operation.REMASTER,
        Operation.ADD_VOCALS,
        Operation.ADD_INSTRUMENTAL,
        Operation.CONCAT,
        *(tool.operation for tool in Tool),
    }
)
SONIC_OPERATIONS = SONIC_ONLY | {
    Operation.CREATE,
    Operation.EXTEND,
    Operation.COVER,
    Operation.REPLACE,
    Operation.UPLOAD,
    Operation.LYRICS,
}
# A submitted upload's task id: the prefix, the clip id, a space, the audio URL (neither contains a space).
UPLOAD_TASK_PREFIX = "sonic-upload:"

_CLIP_DONE = frozenset({"succeeded", "completed", "complete", "success"})
_CLIP_FAILED = frozenset({"failed", "error", "failure"})
_CLIP_QUEUED = frozenset({"pending", "queued", "submitted", "not_ready"})
_CLIP_RUNNING = frozenset({"running", "streaming", "processing", "in_progress"})
_TASK_QUEUED = frozenset({"PENDING", "QUEUED", "SUBMITTED", "NOT_READY"})
_TASK_RUNNING = frozenset({"RUNNING", "PROCESSING", "IN_PROGRESS", "STREAMING"})
_TASK_FAILED = frozenset({"FAILED", "FAILURE", "ERROR"})

# Optional fields the bot sends on its own initiative (or that only fine-tune): when the service answers 400
# naming one of them, it is dropped for that endpoint. A member's content (lyrics, style, title) never is.
ADAPTABLE_FIELDS = (
    "use_suno_cdn",
    "duration",
    "negative_tags",
    "style_weight",
    "weirdness_constraint",
    "audio_weight",
    "vocal_gender",
)
_REQUIRED_WORDS = ("required", "missing", "must be provided", "must be set")

_NO_AUDIO = "The music provider finished without any audio; try again."
NO_LYRICS = "This track has no lyrics to time (it is instrumental, or its lyrics were never sung)."
_NOT_UNDERSTOOD = "The music provider gave an answer the bot does not understand."
_DEFAULT_STEM_NAMES = {Tool.STEMS_BASIC: ("Vocals", "Instrumental")}

_TITLED_STEM = re.compile(r"\(([^()]+)\)\s*$")
_TOOL_PATHS = {
    Tool.STEMS_BASIC: "/sonic/stems/basic",
    Tool.STEMS_FULL: "/sonic/stems/full",
    Tool.WAV: "/sonic/wav",
    Tool.MIDI: "/sonic/midi",
    Tool.BPM: "/sonic/bpm",
    Tool.VOX: "/sonic/vox",
    Tool.LYRICS_TIMELINE: "/sonic/aligned-lyrics",
    Tool.UPSAMPLE_TAGS: "/sonic/upsample-tags",
}


# --- requests onto the wire -------------------------------------------------------------------------------------
def _song_fields(
    request: SonicCreate | SonicExtend | SonicCover | SonicAddVocals | SonicAddInstrumental | Mashup | Sample,
) -> dict[str, Any]:
    custom = request.custom_mode
    return {
        "mv": request.model or DEFAULT_SONIC_MODEL,
        "custom_mode": custom,
        # Custom mode: the lyrics go in "prompt" with a title and tags; description mode: a free description.
        "prompt": request.lyrics if custom else None,
        "gpt_description_prompt": None if custom else request.description,
        "title": request.title,
        "tags": request.tags,
        "negative_tags": request.negative_tags,
        "make_instrumental": request.instrumental,
        "vocal_gender": request.vocal_gender,
        "style_weight": request.style_weight,
        "weirdness_constraint": request.weirdness,
        "audio_weight": request.audio_weight,
    }


def sonic_request(request: MusicRequest | SonicRequest) -> SonicRequest:
    """The Sonic request for a generic one (the existing commands and buttons), so both paths share one mapping.

    The generic requests carry Producer model names and knobs Sonic has no field for (seed, lyrics strength,
    cover image, cover strength): the model falls back to Sonic's default and the rest is dropped on purpose.
    """
    match request:
        case CreateMusic():
            lyrics = None if request.instrumental else request.lyrics
            return SonicCreate(
                lyrics=lyrics,
                # With lyrics the style is the tags; without, the style text is the song's description.
                tags=request.sound if lyrics else None,
                description=None if lyrics else request.sound,
                title=request.title,
                instrumental=request.instrumental,
                style_weight=request.sound_strength,
                weirdness=request.weirdness,
            )
        case ExtendMusic():
            return SonicExtend(
                clip_id=request.clip_id,
                continue_at=request.starts_at,
                lyrics=request.lyrics,
                tags=request.sound,
                title=request.title,
                style_weight=request.sound_strength,
                weirdness=request.weirdness,
            )
        case CoverMusic():
            return SonicCover(
                clip_id=request.clip_id,
                lyrics=request.lyrics,
                tags=request.sound,
                title=request.title,
                style_weight=request.sound_strength,
                weirdness=request.weirdness,
            )
        case ReplaceSection():
            if request.ends_at is None:
                raise InvalidRequest("Sonic replaces a section between two times: give the end of the section too.")
            return SonicReplace(
                clip_id=request.clip_id,
                start_s=request.starts_at,
                end_s=request.ends_at,
                lyrics=request.lyrics,
                tags=request.sound,
                title=request.title,
            )
        case (
            SonicCreate()
            | SonicExtend()
            | SonicCover()
            | SonicReplace()
            | SonicConcat()
            | SonicRemaster()
            | SonicAddVocals()
            | SonicAddInstrumental()
            | Mashup()
            | Sample()
            | SavePersona()
        ):
            return request
        case _:
            raise OperationUnavailable(f"{request.operation.label} is not available with the Sonic provider.")


def build_submission(request: SonicRequest) -> tuple[str, dict[str, Any]]:
    """The path and JSON body of an asynchronous Sonic request (None fields omitted; ``use_suno_cdn`` added)."""
    body: dict[str, Any]
    path = "/sonic/create"
    match request:
        case SonicCreate():
            body = {
                "task_type": "persona_music" if request.persona_id else "create_music",
                **_song_fields(request),
                "persona_id": request.persona_id,
                # "a target": integer seconds, 10 to 360.
                "duration": round(request.duration_s) if request.duration_s is not None else None,
            }
        case SonicExtend() | SonicCover():
            extend = isinstance(request, SonicExtend)
            fields = _song_fields(request)
            continue_at = request.continue_at if isinstance(request, SonicExtend) else None
            if request.audio_url:
                # Upload and extend (or cover) in one call.
                path = "/sonic/upload-extend" if extend else "/sonic/upload-cover"
                body = {"url": request.audio_url, **fields, "continue_at": continue_at}
            else:
                # Uploaded clips need the *_upload_music task types instead of extend/cover.
                kind = "extend" if extend else "cover"
                task_type = f"{kind}_upload_music" if request.uploaded else f"{kind}_music"
                body = {
                    "task_type": task_type,
                    "continue_clip_id": request.clip_id,
                    "continue_at": continue_at,
                    **fields,
                }
        case SonicReplace():
            path = "/sonic/replace-section"
            body = {
                "clip_id": request.clip_id,
                "mv": request.model or DEFAULT_SONIC_MODEL,
                "infill_start_s": request.start_s,
                "infill_end_s": request.end_s,
                "infill_lyrics": request.lyrics,
                "tags": request.tags,
                "negative_tags": request.negative_tags,
                "title": request.title,
            }
        case SonicConcat():
            body = {"task_type": "concat_music", "continue_clip_id": request.clip_id}
        case SonicRemaster():
            body = {
                "task_type": "remaster",
                "continue_clip_id": request.clip_id,
                "mv": request.model or DEFAULT_SONIC_MODEL,
                "variation_category": request.strength,
                "title": request.title,
            }
        case SonicAddVocals():
            body = {
                "task_type": "add_vocals",
                "continue_clip_id": request.clip_id,
                **_song_fields(request),
                "overpainting_start_s": request.start_s,
                "overpainting_end_s": request.end_s,
            }
        case SonicAddInstrumental():
            body = {"task_type": "add_instrumental", "continue_clip_id": request.clip_id, **_song_fields(request)}
        case Mashup():
            path = "/sonic/mashup"
            body = {"mashup_clip_ids": list(request.clip_ids), **_song_fields(request)}
        case Sample():
            path = "/sonic/sample"
            body = {
                "sample_clip_id": request.clip_id,
                "url": request.audio_url,
                "chop_sample_start_s": request.start_s,
                "chop_sample_end_s": request.end_s,
                **_song_fields(request),
            }
        case SavePersona():
            raise InvalidRequest("A persona is saved straight away, not as a music task.")
        case _:  # pragma: no cover - the union is closed
            raise InvalidRequest("This request type is not supported.")
    body["use_suno_cdn"] = False
    return path, {k: v for k, v in body.items() if v is not None}


def _refused_field(error: ProviderError, sent: Mapping[str, Any]) -> str | None:
    """The optional field a 400 says the service refuses, when the bot sent it; None for any other refusal."""
    if error.status not in (400, 422):
        return None
    message = error.message.casefold()
    if any(word in message for word in _REQUIRED_WORDS):
        return None
    for field in ADAPTABLE_FIELDS:
        if field in sent and re.search(rf"(?<![a-z_]){re.escape(field)}(?![a-z_])", message):
            return field
    return None


# --- answers off the wire ---------------------------------------------------------------------------------------
def _state(record: Mapping[str, Any]) -> str:
    return (text(record.get("state")) or text(record.get("status")) or "").casefold()


def _audio(record: Mapping[str, Any]) -> str | None:
    return text(record.get("audio_url")) or text(record.get("url"))


def _clip_records(data: Any) -> list[Mapping[str, Any]]:
    """The clips of a task; paired ``{extended|replaced, full}`` objects (``auto_concat``) count as their full song,
    which is still being joined while ``full`` is null."""
    clips: list[Mapping[str, Any]] = []
    for item in records(data):
        if "full" in item and any(k in item for k in ("extended", "replaced", "original", "clip")):
            full = item.get("full")
            clips.append(full if isinstance(full, Mapping) else {"state": "running"})
        else:
            clips.append(item)
    return clips


def _clip(record: Mapping[str, Any], fallback_id: str) -> Clip:
    return Clip(
        clip_id=text(record.get("clip_id")) or text(record.get("id")) or fallback_id,
        title=text(record.get("title")),
        audio_url=_audio(record),
        image_url=text(record.get("image_url")) or text(record.get("image_large_url")),
        # An int, a float, a string ("104.88") or null.
        duration_s=finite_number(record.get("duration")),
        lyrics=text(record.get("lyrics")) or text(record.get("prompt")),
        tags=text(record.get("tags")),
        model=sonic_model_name(text(record.get("mv")) or text(record.get("model"))),
    )


def _clip_failure(record: Mapping[str, Any], body: Mapping[str, Any]) -> ProviderError:
    message = message_from_body(
        {
            "error": record.get("error_message") or record.get("error") or record.get("reason"),
            "message": body.get("message"),
        }
    )
    return error_from_text(message, ErrorKind.UNAVAILABLE)


def _envelope(task_id: str, http_status: int, body: Any) -> TaskStatus | Mapping[str, Any]:
    """What every task answer shares: 202 and ``not_ready`` (queued), failure bodies and events, top-level status.
    Returns the final TaskStatus when those decide, else the body to read the clips from."""
    if http_status == 202:
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED)
    if isinstance(body, list):
        body = {"data": body}
    if not isinstance(body, Mapping):
        raise ProviderError(ErrorKind.UNAVAILABLE, _NOT_UNDERSTOOD, status=http_status)
    if (text(body.get("type")) or "").casefold() == "not_ready":
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED)
    error = body_error(body)
    if error is not None:
        return failed(task_id, error)
    if (text(body.get("event")) or "").casefold().endswith(".failed"):
        return failed(task_id, error_from_text(message_from_body(body), ErrorKind.UNAVAILABLE))
    status = (text(body.get("status")) or "").upper()
    if status in _TASK_QUEUED:
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED)
    if status in _TASK_RUNNING:
        return TaskStatus(task_id=task_id, state=TaskState.RUNNING)
    if status == "TIMEOUT":
        return failed(task_id, ProviderError(ErrorKind.TIMEOUT))
    if status in _TASK_FAILED:
        return failed(task_id, error_from_text(message_from_body(body), ErrorKind.UNAVAILABLE))
    return body


def parse_task(task_id: str, http_status: int, body: Any) -> TaskStatus:
    """Normalise a ``GET /sonic/task/{id}`` answer (or a webhook event body) into a :class:`TaskStatus`.

    The clips' states decide: any clip still pending, running or streaming keeps the task running (a streaming
    clip's preview URL is not the song); once none is busy, the succeeded clips are the result (one charge, all
    posted) and the task failed only when none succeeded.
    """
    envelope = _envelope(task_id, http_status, body)
    if isinstance(envelope, TaskStatus):
        return envelope
    data = _clip_records(envelope.get("data"))
    if not data:
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED)
    busy_states: list[str] = []
    done: list[Clip] = []
    failure: ProviderError | None = None
    for record in data:
        state = _state(record)
        if state in _CLIP_FAILED:
            failure = failure or _clip_failure(record, envelope)
        elif state in _CLIP_DONE or (not state and _audio(record)):
            # Without a state (upload-like data) a URL is the only sign of completion; with one, the state decides.
            clip = _clip(record, task_id)
            if clip.audio_url:
                done.append(clip)
            else:
                failure = failure or ProviderError(ErrorKind.UNAVAILABLE, _NO_AUDIO)
        else:
            if state and state not in _CLIP_QUEUED | _CLIP_RUNNING:
                log.warning("sonic task %s has a clip in an unknown state %r; waiting", task_id, state)
            busy_states.append(state)
    if busy_states:
        queued = all(s in _CLIP_QUEUED or not s for s in busy_states) and not done and failure is None
        return TaskStatus(task_id=task_id, state=TaskState.QUEUED if queued else TaskState.RUNNING)
    if done:
        if failure is not None:
            log.info("sonic task %s: %d clip(s) succeeded, one failed (%s)", task_id, len(done), failure.kind.value)
        return TaskStatus(task_id=task_id, state=TaskState.SUCCEEDED, clips=tuple(done))
    return failed(task_id, failure or ProviderError(ErrorKind.UNAVAILABLE, _NO_AUDIO))


def parse_webhook(task_id: str, payload: dict[str, Any]) -> TaskStatus:
    """A webhook body has the task answer's shape (``{code, data, message, task_id, event}``)."""
    return parse_task(task_id, 200, payload)


def _stem_list(data: Any) -> list[Mapping[str, Any]] | None:
    """The stems in a task's ``data``: a list (of clips or of ``{name/stem, audio_url}``), a list under
    ``stems``/``tracks``/``clips``, or one object mapping names to URLs."""
    if isinstance(data, list):
        return _clip_records(data)
    if isinstance(data, Mapping):
        for key in ("stems", "tracks", "clips", "data"):
            if isinstance(data.get(key), list):
                return _clip_records(data[key])
        pairs: list[Mapping[str, Any]] = [
            {"name": k, "audio_url": v} for k, v in data.items() if isinstance(v, str) and v.startswith("http")
        ]
        if pairs:
            return pairs
    return None


def _stem_name(record: Mapping[str, Any]) -> str | None:
    for key in ("name", "stem", "stem_name", "stem_type", "type"):
        found = text(record.get(key))
        if found:
            return found.removesuffix("_url").replace("_", " ").strip().capitalize()
    title = text(record.get("title"))
    if title:
        # Stems returned as clips are titled after the song: "Night Drive (Vocals)".
        named = _TITLED_STEM.search(title)
        return named.group(1).strip() if named else title
    return None


def parse_stems(tool: Tool, task_id: str, http_status: int, body: Any) -> ToolStatus:
    """A stems task's answer as a :class:`ToolStatus`; every stem gets a name, unique within the result."""
    envelope = _envelope(task_id, http_status, body)
    if isinstance(envelope, TaskStatus):
        return ToolStatus(task_id=task_id, tool=tool, state=envelope.state, failure=envelope.failure)
    items = _stem_list(envelope.get("data"))
    if not items:
        return ToolStatus(task_id=task_id, tool=tool, state=TaskState.QUEUED)
    states = [_state(r) for r in items]
    if any(s in _CLIP_FAILED for s in states):
        first = next(r for r in items if _state(r) in _CLIP_FAILED)
        error = _clip_failure(first, envelope)
        return ToolStatus(task_id=task_id, tool=tool, state=TaskState.FAILED, failure=failed(task_id, error).failure)
    busy = [s for s in states if s and s not in _CLIP_DONE]
    if busy or any(not _state(r) and not _audio(r) for r in items):
        return ToolStatus(task_id=task_id, tool=tool, state=TaskState.RUNNING)
    defaults = _DEFAULT_STEM_NAMES.get(tool, ())
    stems: list[Stem] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(items):
        url = _audio(record) or text(record.get("stem_url")) or text(record.get("wav_url"))
        if not url:
            continue
        name = _stem_name(record) or (defaults[index] if index < len(defaults) else f"Stem {index + 1}")
        seen[name.casefold()] = seen.get(name.casefold(), 0) + 1
        if seen[name.casefold()] > 1:
            name = f"{name} {seen[name.casefold()]}"
        stems.append(Stem(name=name, audio_url=url))
    if not stems:
        error = ProviderError(ErrorKind.UNAVAILABLE, "The music provider made no stems; try again.")
        return ToolStatus(task_id=task_id, tool=tool, state=TaskState.FAILED, failure=failed(task_id, error).failure)
    return ToolStatus(task_id=task_id, tool=tool, state=TaskState.SUCCEEDED, result=Stems(tracks=tuple(stems)))


def _payload(body: Any) -> Mapping[str, Any]:
    """The result object of a synchronous tool: ``data`` when it is an object, else the body itself."""
    if not isinstance(body, Mapping):
        raise ProviderError(ErrorKind.UNAVAILABLE, _NOT_UNDERSTOOD, retryable=False)
    error = body_error(body)
    if error is not None:
        raise error
    data = body.get("data")
    return data if isinstance(data, Mapping) else body


def _not_ready(response: JsonResponse) -> bool:
    if response.status == 202:
        return True
    body = response.body
    return isinstance(body, Mapping) and (text(body.get("type")) or "").casefold() == "not_ready"


def _midi(payload: Mapping[str, Any]) -> Midi:
    url = text(payload.get("midi_url")) or text(payload.get("url"))
    if not url:
        raise ProviderError(ErrorKind.UNAVAILABLE, "The music provider made no MIDI file; try again.", retryable=False)
    instruments: list[MidiInstrument] = []
    for item in records(payload.get("instruments")):
        notes: list[MidiNote] = []
        for note in records(item.get("notes")):
            start, end = finite_number(note.get("start")), finite_number(note.get("end"))
            pitch, velocity = finite_number(note.get("pitch")), finite_number(note.get("velocity"))
            if start is None or end is None or pitch is None or start < 0 or end < start:
                continue
            if not 0 <= pitch <= 127:
                continue
            level = 100 if velocity is None else min(127, max(0, round(velocity)))
            notes.append(MidiNote(start_s=start, end_s=end, pitch=round(pitch), velocity=level))
        instruments.append(MidiInstrument(name=text(item.get("name")) or "Instrument", notes=tuple(notes)))
    return Midi(url=url, instruments=tuple(instruments))


def _bpm(payload: Mapping[str, Any]) -> Bpm:
    values = [finite_number(payload.get(k)) for k in ("avg_bpm", "min_bpm", "max_bpm")]
    avg, low, high = values
    if avg is None or avg <= 0:
        raise ProviderError(ErrorKind.UNAVAILABLE, "The music provider could not tell the tempo.", retryable=False)
    low = low if low is not None and low > 0 else avg
    high = high if high is not None and high > 0 else avg
    return Bpm(avg=avg, min=min(low, avg, high), max=max(low, avg, high))


def _alignment(payload: Mapping[str, Any]) -> LyricsAlignment:
    items = next(
        (payload[k] for k in ("alignment", "aligned_words", "words") if isinstance(payload.get(k), list)),
        None,
    )
    alignment = alignment_from(items) if items is not None else LyricsAlignment()
    if alignment.empty:
        raise ProviderError(ErrorKind.REJECTED, NO_LYRICS)
    return alignment


def _vox(payload: Mapping[str, Any]) -> VoxClip:
    url = next(
        (
            text(payload.get(k))
            for k in ("vocal_audio_url", "vox_audio_url", "audio_url", "url")
            if text(payload.get(k))
        ),
        None,
    )
    vox_id = text(payload.get("vox_audio_id")) or text(payload.get("id"))
    if url is None and vox_id is None:
        raise ProviderError(ErrorKind.UNAVAILABLE, "The music provider returned no vocals; try again.", retryable=False)
    return VoxClip(
        audio_url=url,
        vox_id=vox_id,
        start_s=finite_number(payload.get("vocal_start_s")),
        end_s=finite_number(payload.get("vocal_end_s")),
    )


def parse_tool(tool: Tool, body: Any) -> ToolResult:
    """The normalised result of a synchronous tool's (2xx, ready) answer."""
    payload = _payload(body)
    match tool:
        case Tool.WAV:
            url = text(payload.get("wav_url")) or text(payload.get("audio_url")) or text(payload.get("url"))
            if not url:
                raise ProviderError(ErrorKind.UNAVAILABLE, "The music provider made no WAV file; try again.")
            return WavFile(url=url)
        case Tool.MIDI:
            return _midi(payload)
        case Tool.BPM:
            return _bpm(payload)
        case Tool.LYRICS_TIMELINE:
            return _alignment(payload)
        case Tool.VOX:
            return _vox(payload)
        case Tool.UPSAMPLE_TAGS:
            tags = text(payload.get("upsampled_tags")) or text(payload.get("tags"))
            if not tags:
                raise ProviderError(ErrorKind.UNAVAILABLE, "The music provider suggested no style; try again.")
            return UpsampledTags(tags=tags)
        case _:
            raise InvalidRequest(f"{tool.label} takes a while: it runs as a job.")


def _task_id(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    found = text(body.get("task_id"))
    if found is None and isinstance(body.get("data"), Mapping):
        found = text(body["data"].get("task_id"))
    return found


def _upload_task(clip_id: str, audio_url: str) -> str:
    return f"{UPLOAD_TASK_PREFIX}{clip_id} {audio_url}"


# --- the client -------------------------------------------------------------------------------------------------
class SonicClient:
    """AI Music API's Sonic: every generation operation (two clips per task), webhooks, and the studio tools."""

    operations: frozenset[Operation] = SONIC_OPERATIONS
    models: tuple[str, ...] = SONIC_MODELS
    tools: frozenset[Tool] = frozenset(Tool)
    batch_size: int = 1
    supports_webhooks: bool = True
    # An extension's clip holds only the new part; SonicConcat of it is the full song.
    extensions_are_partial: bool = True

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: SecretStr | str,
        max_concurrency: int = 10,
        sleep: Sleep = asyncio.sleep,
        name: str = "sonic",
        not_ready_attempts: int = 6,
        not_ready_interval: float = 5.0,
    ) -> None:
        key = secret_value(api_key)
        root = base_url.rstrip("/")
        api_root = root if root.endswith("/api/v1") else f"{root}/api/v1"
        self.name = name
        self.max_concurrency = max_concurrency
        self.base_url = root
        self._sleep = sleep
        self._not_ready_attempts = max(1, not_ready_attempts)
        self._not_ready_interval = not_ready_interval
        # Per endpoint path: optional fields the service refused with a 400 (see ADAPTABLE_FIELDS).
        self._refused: dict[str, set[str]] = {}
        self._api = JsonApi(
            client,
            provider=name,
            base_url=api_root,
            auth_headers={"Authorization": f"Bearer {key}"},
            secrets=(key,),
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"SonicClient(name={self.name!r}, base_url={self.base_url!r})"

    def refused_fields(self, path: str) -> frozenset[str]:
        """Optional fields this client stopped sending to ``path`` after the service refused them."""
        return frozenset(self._refused.get(path, ()))

    async def _post(self, path: str, body: dict[str, Any], *, secrets: Sequence[str] = ()) -> JsonResponse:
        """POST, adapting once to a 400 that names an optional field (dropped from now on for this path)."""
        body = {k: v for k, v in body.items() if k not in self._refused.get(path, ())}
        try:
            return await self._api.request_json("POST", path, json_body=body, secrets=secrets)
        except ProviderError as error:
            field = _refused_field(error, body)
            if field is None:
                raise
            log.warning("%s: %s refused the optional field %r; sending without it from now on", self.name, path, field)
            self._refused.setdefault(path, set()).add(field)
            body = {k: v for k, v in body.items() if k != field}
            return await self._api.request_json("POST", path, json_body=body, secrets=secrets)

    # --- generation -----------------------------------------------------------------------------------------
    async def submit(self, request: MusicRequest | SonicRequest, *, webhook: WebhookTarget | None = None) -> str:
        """Start a task and return its id. Raises ProviderError (RETIRED on 410) or InvalidRequest."""
        if isinstance(request, UploadAudio):
            clip_id = await self.upload_clip(request.audio_url)
            return _upload_task(clip_id, request.audio_url)
        path, body = build_submission(sonic_request(request))
        if webhook is not None:
            body["webhook_url"] = webhook.url
            body["webhook_secret"] = webhook.secret
        response = await self._post(path, body, secrets=(webhook.secret,) if webhook else ())
        return self._started(response, request.operation.value)

    def _started(self, response: JsonResponse, what: str) -> str:
        task_id = _task_id(response.body)
        if task_id is not None:
            log.debug("%s started %s task %s", self.name, what, task_id)
            return task_id
        body = response.body
        if isinstance(body, Mapping):
            error = body_error(body)
            if error is not None:
                raise error
            if text(body.get("failed_step")):
                # upload-extend / upload-cover / sample: {code, message, steps, failed_step} without a task.
                raise error_from_text(message_from_body(body), ErrorKind.REJECTED)
        raise ProviderError(
            ErrorKind.UNAVAILABLE,
            "The music provider did not start the task; try again.",
            retryable=False,
            status=response.status,
        )

    async def fetch(self, task_ids: Sequence[str]) -> list[TaskStatus]:
        """One status call per task (a submitted upload needs none)."""
        return [await self._fetch_one(task_id) for task_id in task_ids]

    async def _fetch_one(self, task_id: str) -> TaskStatus:
        if task_id.startswith(UPLOAD_TASK_PREFIX):
            clip_id, _, audio_url = task_id.removeprefix(UPLOAD_TASK_PREFIX).partition(" ")
            clip = Clip(clip_id=clip_id, audio_url=audio_url or None)
            return TaskStatus(task_id=task_id, state=TaskState.SUCCEEDED, clips=(clip,))
        response = await self._get_task(task_id)
        if isinstance(response, TaskStatus):
            return response
        return parse_task(task_id, response.status, response.body)

    async def _get_task(self, task_id: str) -> JsonResponse | TaskStatus:
        try:
            return await self._api.request_json("GET", f"/sonic/task/{quote(task_id, safe='')}")
        except ProviderError as error:
            # These statuses describe the task, not the call ("504 Task failed due to timeout", a 403 verdict).
            if error.kind in (ErrorKind.TIMEOUT, ErrorKind.MODERATION):
                return failed(task_id, error)
            raise

    async def upload_clip(self, audio_url: str) -> str:
        """Bring a public audio file in (synchronous, about 20 s): the new clip's id."""
        response = await self._post("/sonic/upload", {"url": audio_url})
        body = response.body if isinstance(response.body, Mapping) else {}
        error = body_error(body)
        if error is not None:
            raise error
        data = body.get("data")
        clip_id = text(body.get("clip_id")) or (text(data.get("clip_id")) if isinstance(data, Mapping) else None)
        if clip_id is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, "The music provider did not take the upload; try again.")
        return clip_id

    async def save_persona(self, request: SavePersona) -> str:
        """Save a track's voice as a persona: its id. Newer docs retire this call (410 → ProviderError RETIRED)."""
        body = {
            "name": request.name,
            "clip_id": request.clip_id,
            "describe": request.description,
            "styles": request.styles,
            "vocal_start_s": request.vocal_start_s,
            "vocal_end_s": request.vocal_end_s,
        }
        response = await self._post("/sonic/persona", {k: v for k, v in body.items() if v is not None})
        payload = _payload(response.body)
        persona_id = text(payload.get("persona_id")) or text(payload.get("id"))
        if persona_id is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, "The music provider did not save the persona; try again.")
        return persona_id

    async def credits(self) -> float | None:
        """The platform balance (shared with the Producer) from ``GET /get-credits``."""
        response = await self._api.request_json("GET", "/get-credits")
        return parse_credits(response.body)

    async def draft_lyrics(self, idea: str) -> list[DraftedLyrics]:
        """Two drafts (title and lyrics) from ``POST /sonic/lyrics`` (description < 120 characters)."""
        response = await self._post("/sonic/lyrics", {"description": idea})
        body = response.body
        if isinstance(body, Mapping) and (error := body_error(body)) is not None:
            raise error
        drafts = parse_lyrics(body)
        if not drafts:
            raise ProviderError(ErrorKind.UNAVAILABLE, "The music provider drafted no lyrics; try again.")
        return drafts

    # --- studio tools ---------------------------------------------------------------------------------------
    async def run_tool(self, clip_id: str | None, tool: Tool, **options: Any) -> ToolResult:
        """A synchronous tool's result. Options: VOX ``vocal_start_s``/``vocal_end_s``; upsample tags ``tags``."""
        checked = check_tool_options(tool, clip_id, options)
        if tool.asynchronous:
            raise InvalidRequest(f"{tool.label} takes a while: it runs as a job.")
        body: dict[str, Any] = {"clip_id": clip_id} if tool.needs_clip else {}
        body.update(checked)
        path = _TOOL_PATHS[tool]
        for attempt in range(1, self._not_ready_attempts + 1):
            try:
                response = await self._post(path, body)
            except ProviderError as error:
                if tool is Tool.LYRICS_TIMELINE and error.status == 404:
                    # "not found": the clip has no lyrics to align.
                    raise ProviderError(ErrorKind.REJECTED, NO_LYRICS, status=404) from error
                raise
            if not _not_ready(response):
                return parse_tool(tool, response.body)
            if attempt < self._not_ready_attempts:
                log.info("%s %s is not ready (attempt %d); asking again", self.name, path, attempt)
                await self._sleep(self._not_ready_interval)
        raise ProviderError(
            ErrorKind.UNAVAILABLE,
            f"The {tool.label} is still being made; try again in a minute.",
            retryable=True,
        )

    async def submit_tool(self, clip_id: str, tool: Tool, *, webhook: WebhookTarget | None = None) -> str:
        """Start an asynchronous tool (stems) and return its task id."""
        check_tool_options(tool, clip_id, {})
        if not tool.asynchronous:
            raise InvalidRequest(f"{tool.label} answers at once: it is not started as a job.")
        body: dict[str, Any] = {"clip_id": clip_id}
        if webhook is not None:
            body["webhook_url"] = webhook.url
            body["webhook_secret"] = webhook.secret
        response = await self._post(_TOOL_PATHS[tool], body, secrets=(webhook.secret,) if webhook else ())
        return self._started(response, tool.value)

    async def fetch_tool(self, tool: Tool, task_ids: Sequence[str]) -> list[ToolStatus]:
        """Statuses of stems tasks (polled like any Sonic task)."""
        statuses: list[ToolStatus] = []
        for task_id in task_ids:
            response = await self._get_task(task_id)
            if isinstance(response, TaskStatus):
                statuses.append(ToolStatus(task_id=task_id, tool=tool, state=response.state, failure=response.failure))
            else:
                statuses.append(parse_stems(tool, task_id, response.status, response.body))
        return statuses

    async def aclose(self) -> None:
        """Nothing to release: the composition root owns (and closes) the shared httpx client."""


def parse_tool_webhook(tool: Tool, task_id: str, payload: dict[str, Any]) -> ToolStatus:
    """A stems task's webhook body (the task answer's shape)."""
    return parse_stems(tool, task_id, 200, payload)


__all__ = [
    "NO_LYRICS",
    "SONIC_ONLY",
    "SONIC_OPERATIONS",
    "SonicClient",
    "build_submission",
    "parse_stems",
    "parse_task",
    "parse_tool",
    "parse_tool_webhook",
    "parse_webhook",
    "sonic_request",
]
