"""The vocabulary of Tunesmith: a request per operation, the normalised provider result, jobs and tracks.

Limits follow the providers' documentation (docs/providers.md). Every validation message is written for the member
who typed the value, so the error handler can show it as is.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.domain.errors import InvalidRequest
from bot.domain.lyrics_timeline import LyricsAlignment

# --- limits (docs/providers.md) ---------------------------------------------------------------------------------
TITLE_MAX = 80
SOUND_MAX = 199  # Producer: "tags < 200" (strict); FUZZ tags share the field
LYRICS_MAX = 2999  # Producer: "prompt < 3000" (strict)
LYRICS_IDEA_MAX = 119  # sonic/lyrics: description "< 120 chars"
EXTEND_DURATION_MAX = 180.0  # FUZZ: extend_duration_s max 3 minutes
SECONDS_MAX = 3600.0  # a time within a track (a start, an end): at most an hour in
WEBHOOK_URL_MAX = 1024
CLIP_ID_MAX = 100
SEED_MAX = 64
CONFIRM_ABOVE_DEFAULT = 20  # credits; a job costing more asks first
PERSONA_NAME_MAX = 79  # Sonic: persona name "< 80"

# The seed's table of Producer models, in its order; the first is the documented default.
PRODUCER_MODELS: tuple[str, ...] = (
    "FUZZ-2.0",
    "FUZZ-2.0 Pro",
    "FUZZ-2.0 Raw",
    "FUZZ-1.1 Pro",
    "FUZZ-1.0 Pro",
    "FUZZ-1.0",
    "FUZZ-1.1",
    "FUZZ-0.8",
    "Lyria 3 preview",
    "FUZZ-3-Demo",
)
DEFAULT_MODEL = "FUZZ-2.0"
_MODELS_BY_KEY = {m.casefold(): m for m in PRODUCER_MODELS}


class Operation(StrEnum):
    """Every generation operation a member can ask for; values are stable (stored, used in custom_ids)."""

    CREATE = "create"
    EXTEND = "extend"
    COVER = "cover"
    REPLACE = "replace"
    VARIATION = "variation"
    SWAP_VOCALS = "swap_vocals"
    SWAP_SOUND = "swap_sound"
    UPLOAD = "upload"
    DOWNLOAD = "download"
    LYRICS = "lyrics"
    # Sonic (docs/providers.md): more generation operations, then the studio tools (their results are files or
    # facts about a track, not new tracks).
    MASHUP = "mashup"
    SAMPLE = "sample"
    PERSONA = "persona"  # save a track's voice as a persona (a persona song is a create with persona_id)
    REMASTER = "remaster"
    ADD_VOCALS = "add_vocals"
    ADD_INSTRUMENTAL = "add_instrumental"
    CONCAT = "concat"
    STEMS_BASIC = "stems_basic"
    STEMS_FULL = "stems_full"
    WAV = "wav"
    MIDI = "midi"
    BPM = "bpm"
    VOX = "vox"
    UPSAMPLE_TAGS = "upsample_tags"
    LYRICS_TIMELINE = "lyrics_timeline"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def derived(self) -> bool:
        """True for operations that start from an existing clip and so build a remix lineage."""
        return self in _DERIVED

    @property
    def is_tool(self) -> bool:
        """A studio tool: its result is a file or a fact about a track (stems, MIDI, BPM…), not a new track."""
        return self in _TOOLS

    @property
    def needs_track(self) -> bool:
        """Starts from a track of the server (remixes, downloads, personas, and every tool but upsample tags)."""
        return self.derived or self in _ON_A_TRACK

    @property
    def makes_tracks(self) -> bool:
        """Its result is stored as new tracks (generations); downloads, lyrics, personas and tools are not."""
        return self not in _NO_TRACKS and not self.is_tool


_LABELS = {
    Operation.CREATE: "Create",
    Operation.EXTEND: "Extend",
    Operation.COVER: "Cover",
    Operation.REPLACE: "Replace section",
    Operation.VARIATION: "Variation",
    Operation.SWAP_VOCALS: "Swap vocals",
    Operation.SWAP_SOUND: "Swap sound",
    Operation.UPLOAD: "Upload",
    Operation.DOWNLOAD: "Download",
    Operation.LYRICS: "Lyrics",
    Operation.MASHUP: "Mashup",
    Operation.SAMPLE: "Sample",
    Operation.PERSONA: "Save persona",
    Operation.REMASTER: "Remaster",
    Operation.ADD_VOCALS: "Add vocals",
    Operation.ADD_INSTRUMENTAL: "Add instrumental",
    Operation.CONCAT: "Full song",
    Operation.STEMS_BASIC: "Stems (vocals + instrumental)",
    Operation.STEMS_FULL: "Stems (every instrument)",
    Operation.WAV: "WAV",
    Operation.MIDI: "MIDI",
    Operation.BPM: "BPM",
    Operation.VOX: "Vocals excerpt",
    Operation.UPSAMPLE_TAGS: "Richer style",
    Operation.LYRICS_TIMELINE: "Lyrics timeline",
}
_DERIVED = frozenset(
    {
        Operation.EXTEND,
        Operation.COVER,
        Operation.REPLACE,
        Operation.VARIATION,
        Operation.SWAP_VOCALS,
        Operation.SWAP_SOUND,
        Operation.MASHUP,
        Operation.SAMPLE,
        Operation.REMASTER,
        Operation.ADD_VOCALS,
        Operation.ADD_INSTRUMENTAL,
        Operation.CONCAT,
    }
)

_TOOLS = frozenset(
    {
        Operation.STEMS_BASIC,
        Operation.STEMS_FULL,
        Operation.WAV,
        Operation.MIDI,
        Operation.BPM,
        Operation.VOX,
        Operation.UPSAMPLE_TAGS,
        Operation.LYRICS_TIMELINE,
    }
)
_ON_A_TRACK = (_TOOLS - {Operation.UPSAMPLE_TAGS}) | {Operation.DOWNLOAD, Operation.PERSONA}
_NO_TRACKS = frozenset({Operation.DOWNLOAD, Operation.LYRICS, Operation.PERSONA})

# Default prices in the provider's own credits (the prices of docs/providers.md); admins may change them per server.
DEFAULT_COSTS: dict[Operation, int] = {
    Operation.CREATE: 10,
    Operation.EXTEND: 10,
    Operation.COVER: 10,
    Operation.REPLACE: 10,
    Operation.VARIATION: 10,
    Operation.SWAP_VOCALS: 10,
    Operation.SWAP_SOUND: 10,
    Operation.UPLOAD: 2,
    Operation.DOWNLOAD: 2,
    Operation.LYRICS: 1,
    # Sonic's price list (docs/providers.md); create and cover cost 15 there: see SONIC_DEFAULT_COSTS.
    Operation.MASHUP: 15,
    Operation.SAMPLE: 15,
    Operation.PERSONA: 10,
    Operation.REMASTER: 10,
    Operation.ADD_VOCALS: 10,
    Operation.ADD_INSTRUMENTAL: 10,
    Operation.CONCAT: 2,
    Operation.STEMS_BASIC: 20,
    Operation.STEMS_FULL: 50,
    Operation.WAV: 1,
    Operation.MIDI: 1,
    Operation.BPM: 1,
    Operation.VOX: 1,
    Operation.UPSAMPLE_TAGS: 1,
    Operation.LYRICS_TIMELINE: 1,
}
# Where Sonic's price differs from the Producer's for an operation both offer.
SONIC_DEFAULT_COSTS: dict[Operation, int] = {Operation.CREATE: 15, Operation.COVER: 15}


def normalise_model(value: str | None) -> str | None:
    """Return the canonical spelling of a model from the seed's table, or raise with the valid choices."""
    if value is None or not value.strip():
        return None
    found = _MODELS_BY_KEY.get(value.strip().casefold())
    if found is None:
        raise ValueError(f"unknown model {value.strip()!r}; choose one of: {', '.join(PRODUCER_MODELS)}")
    return found


def _check_http_url(value: str, what: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{what} must be an http(s) link")
    return value.strip()


# --- requests ---------------------------------------------------------------------------------------------------
class _Request(BaseModel):
    # allow_inf_nan=False: "inf", "nan" and "1e999" are refused like any other out-of-range number (no provider
    # can take them: JSON has no such numbers).
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


class _Advanced(_Request):
    """Fine-tuning knobs of the seed's 'Advanced Custom Parameters'."""

    model: str | None = Field(default=None, description="Model name from the provider's table")
    seed: str | None = Field(default=None, max_length=SEED_MAX)
    lyrics_strength: float | None = Field(default=None, ge=0.0, le=1.0)
    sound_strength: float | None = Field(default=None, ge=0.2, le=1.0)
    weirdness: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: object) -> object:
        return normalise_model(value) if isinstance(value, str) else value

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: object) -> object:
        # The seed is a string in the API; members type numbers.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class _FromClip(_Request):
    clip_id: str = Field(min_length=1, max_length=CLIP_ID_MAX, description="The track to start from")


Sound = Annotated[str, Field(max_length=SOUND_MAX)]
Lyrics = Annotated[str, Field(max_length=LYRICS_MAX)]
Title = Annotated[str, Field(max_length=TITLE_MAX)]
Strength = Annotated[float, Field(ge=0.2, le=1.0)]


class CreateMusic(_Advanced):
    """A new song from a style description, from lyrics, or both; instrumental when asked."""

    operation: Literal[Operation.CREATE] = Operation.CREATE
    sound: Sound | None = None
    lyrics: Lyrics | None = None
    title: Title | None = None
    instrumental: bool = False
    cover_url: str | None = None

    @field_validator("cover_url")
    @classmethod
    def _cover(cls, value: str | None) -> str | None:
        return _check_http_url(value, "the cover image URL") if value else None

    @model_validator(mode="after")
    def _needs_content(self) -> CreateMusic:
        if not (self.sound or self.lyrics):
            raise ValueError("describe a style or give some lyrics")
        if self.instrumental and self.lyrics and self.lyrics.strip().lower() != "[instrumental]":
            raise ValueError("an instrumental song has no lyrics: leave lyrics empty or turn instrumental off")
        return self


class ExtendMusic(_Advanced, _FromClip):
    """Continue a track from a time (Producer ``starts_at``, FUZZ ``start_s`` and ``extend_duration_s``)."""

    operation: Literal[Operation.EXTEND] = Operation.EXTEND
    starts_at: float | None = Field(default=None, ge=0.0, le=SECONDS_MAX, description="seconds")
    duration_s: float | None = Field(default=None, gt=0.0, le=EXTEND_DURATION_MAX)
    sound: Sound | None = None
    lyrics: Lyrics | None = None
    title: Title | None = None


class CoverMusic(_Advanced, _FromClip):
    """The same song in another style."""

    operation: Literal[Operation.COVER] = Operation.COVER
    sound: Sound | None = None
    lyrics: Lyrics | None = None
    title: Title | None = None
    cover_strength: Strength | None = None
    cover_url: str | None = None

    @field_validator("cover_url")
    @classmethod
    def _cover(cls, value: str | None) -> str | None:
        return _check_http_url(value, "the cover image URL") if value else None


class ReplaceSection(_Advanced, _FromClip):
    """Regenerate one section, from ``starts_at`` to ``ends_at`` (or the end)."""

    operation: Literal[Operation.REPLACE] = Operation.REPLACE
    starts_at: float = Field(ge=0.0, le=SECONDS_MAX)
    ends_at: float | None = Field(default=None, ge=0.0, le=SECONDS_MAX)
    sound: Sound | None = None
    lyrics: Lyrics | None = None
    title: Title | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ReplaceSection:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("the section must end after it starts (end > start)")
        return self


class MusicVariation(_Advanced, _FromClip):
    """Another take of the same idea."""

    operation: Literal[Operation.VARIATION] = Operation.VARIATION
    # Providers that emulate a variation (FUZZ) resubmit the parent's style and lyrics.
    sound: Sound | None = None
    lyrics: Lyrics | None = None
    title: Title | None = None


class SwapVocals(_Advanced, _FromClip):
    """New vocals over the same backing."""

    operation: Literal[Operation.SWAP_VOCALS] = Operation.SWAP_VOCALS
    sound: Sound = Field(min_length=1)
    lyrics: Lyrics = Field(min_length=1)
    title: Title | None = None
    cover_strength: Strength | None = None


class SwapSound(_Advanced, _FromClip):
    """A new backing under the same vocals."""

    operation: Literal[Operation.SWAP_SOUND] = Operation.SWAP_SOUND
    sound: Sound = Field(min_length=1)
    lyrics: Lyrics | None = None
    title: Title | None = None
    cover_strength: Strength | None = None


class UploadAudio(_Request):
    """Bring an audio file in as a track, by a public URL."""

    operation: Literal[Operation.UPLOAD] = Operation.UPLOAD
    audio_url: str
    title: Title | None = None

    @field_validator("audio_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_http_url(value, "the audio URL")


class DownloadTrack(_FromClip):
    """Export a track as MP3 or WAV."""

    operation: Literal[Operation.DOWNLOAD] = Operation.DOWNLOAD
    format: Literal["mp3", "wav"] = "mp3"


class DraftLyrics(_Request):
    """Lyrics drafted by the provider from a short idea."""

    operation: Literal[Operation.LYRICS] = Operation.LYRICS
    idea: str = Field(min_length=1, max_length=LYRICS_IDEA_MAX)


MusicRequest = Annotated[
    CreateMusic
    | ExtendMusic
    | CoverMusic
    | ReplaceSection
    | MusicVariation
    | SwapVocals
    | SwapSound
    | UploadAudio
    | DownloadTrack
    | DraftLyrics,
    Field(discriminator="operation"),
]
REQUEST_ADAPTER: TypeAdapter[MusicRequest] = TypeAdapter(MusicRequest)
REQUEST_TYPES: dict[Operation, type[BaseModel]] = {
    Operation.CREATE: CreateMusic,
    Operation.EXTEND: ExtendMusic,
    Operation.COVER: CoverMusic,
    Operation.REPLACE: ReplaceSection,
    Operation.VARIATION: MusicVariation,
    Operation.SWAP_VOCALS: SwapVocals,
    Operation.SWAP_SOUND: SwapSound,
    Operation.UPLOAD: UploadAudio,
    Operation.DOWNLOAD: DownloadTrack,
    Operation.LYRICS: DraftLyrics,
}

_FIELD_NAMES = {
    "sound": "style",
    "clip_id": "track",
    "starts_at": "start",
    "ends_at": "end",
    "duration_s": "duration",
    "audio_url": "audio URL",
    "cover_url": "cover image URL",
    # Sonic's requests (bot.domain.sonic)
    "start_s": "start",
    "end_s": "end",
    "continue_at": "start",
    "negative_tags": "styles to avoid",
    "clip_ids": "tracks",
    "vocal_start_s": "vocal start",
    "vocal_end_s": "vocal end",
    "persona_id": "persona",
}


def explain(exc: ValidationError) -> str:
    """Turn a pydantic error into one sentence a member can act on."""
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        loc = [str(p) for p in error.get("loc", ()) if not str(p).startswith(("function-", "operation"))]
        name = _FIELD_NAMES.get(loc[-1], loc[-1].replace("_", " ")) if loc else ""
        ctx = error.get("ctx") or {}
        kind = error.get("type", "")
        if kind == "string_too_long":
            text = f"{name} is too long (at most {ctx.get('max_length')} characters)"
        elif kind == "string_too_short":
            text = f"{name} cannot be empty"
        elif kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
            bound = next(iter(ctx.values()), "")
            if isinstance(bound, float):
                bound = f"{bound:g}"  # 3600, not 3600.0
            word = {
                "greater_than_equal": "at least",
                "greater_than": "more than",
                "less_than_equal": "at most",
                "less_than": "less than",
            }[kind]
            text = f"{name} must be {word} {bound}"
        elif kind == "finite_number":
            text = f"{name} must be a finite number"
        elif kind in {"float_parsing", "int_parsing", "float_type", "int_type"}:
            text = f"{name} must be a number"
        elif kind == "missing":
            text = f"{name} is required"
        elif kind == "extra_forbidden":
            text = f"{name} is not an option of this command"
        else:
            msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            text = f"{name}: {msg}" if name else msg
        parts.append(text)
    sentence = "; ".join(dict.fromkeys(parts)) or "invalid value"
    return sentence[0].upper() + sentence[1:] + "."


def build_request(operation: Operation, **values: Any) -> MusicRequest:
    """Validate a member's values into a request, or raise :class:`InvalidRequest` naming what to fix."""
    clean = {k: v for k, v in values.items() if v is not None and v != ""}
    if operation not in REQUEST_TYPES:
        # Sonic's own operations and the studio tools are validated by bot.domain.sonic.
        raise InvalidRequest(f"{operation.label} is not requested this way.")
    try:
        return REQUEST_TYPES[operation].model_validate(clean)  # type: ignore[return-value]
    except ValidationError as exc:
        raise InvalidRequest(explain(exc)) from exc


def load_request(data: str | bytes | dict[str, Any]) -> MusicRequest:
    """Rebuild a stored request (JSON or dict)."""
    if isinstance(data, dict):
        return REQUEST_ADAPTER.validate_python(data)
    return REQUEST_ADAPTER.validate_json(data)


class WebhookTarget(BaseModel):
    """Where the provider should POST a task's result, and the secret it signs with."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(max_length=WEBHOOK_URL_MAX)
    secret: str = Field(min_length=16, repr=False)

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc:
            raise ValueError("webhook URL must be HTTPS")
        return value


# --- normalised provider results --------------------------------------------------------------------------------
class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED)


class Clip(BaseModel):
    """One song (or file) a provider produced."""

    model_config = ConfigDict(frozen=True)

    clip_id: str
    title: str | None = None
    audio_url: str | None = None
    image_url: str | None = None
    duration_s: float | None = None
    lyrics: str | None = None
    tags: str | None = None
    model: str | None = None
    # Word timings that came with the clip at no extra cost (FUZZ's lyrics_timestamped): the lyrics timeline.
    alignment: LyricsAlignment | None = None

    @field_validator("duration_s", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        # Producer sends a number, a string ("104.88") or null; "NaN" or "inf" mean no usable duration.
        if value is None or value == "":
            return None
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) and number >= 0 else None


class TaskFailure(BaseModel):
    """Why a task failed, without the exception object so it can be stored and compared."""

    model_config = ConfigDict(frozen=True)

    kind: str  # an ErrorKind value
    message: str


class TaskStatus(BaseModel):
    """A provider task as the engine sees it, whatever shape the provider answered in."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    state: TaskState
    clips: tuple[Clip, ...] = ()
    failure: TaskFailure | None = None


class DraftedLyrics(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str | None = None
    lyrics: str


# --- jobs, tracks, credits --------------------------------------------------------------------------------------
class JobState(StrEnum):
    QUEUED = "queued"  # admitted, credits reserved, waiting for a provider slot
    SUBMITTED = "submitted"  # the provider has a task id
    RUNNING = "running"  # the provider says it is rendering
    SUCCEEDED = "succeeded"  # tracks stored; delivery pending until delivered_at is set
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class Job(BaseModel):
    """One generation a member asked for, from admission to delivery."""

    id: int
    guild_id: int
    channel_id: int
    user_id: int
    operation: Operation
    request: dict[str, Any]
    provider: str
    state: JobState
    cost: int
    period_key: str
    parent_track_id: int | None = None
    task_id: str | None = None
    status_message_id: int | None = None
    failure_kind: str | None = None
    failure_message: str | None = None
    created_at: datetime
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    delivered_at: datetime | None = None
    poll_count: int = 0
    result_url: str | None = None  # downloads: the link the provider made
    result_text: str | None = None  # lyrics drafts, tool results, as JSON
    second_parent_track_id: int | None = None  # a mashup's other track
    # A step after the provider's task (a Sonic extension joined into the full song): what it has so far, so a
    # restart carries on where it was (bot/core/jobs/followup.py).
    followup: dict[str, Any] | None = None

    @property
    def active(self) -> bool:
        return not self.state.finished

    def music_request(self) -> MusicRequest:
        return load_request(self.request)


class Track(BaseModel):
    """A finished clip as stored: what a track post shows and what buttons point at."""

    id: int
    job_id: int | None
    guild_id: int
    channel_id: int
    author_id: int
    provider: str
    clip_id: str
    title: str | None = None
    audio_url: str | None = None
    image_url: str | None = None
    duration_s: float | None = None
    lyrics: str | None = None
    tags: str | None = None
    model: str | None = None
    operation: Operation = Operation.CREATE
    parent_track_id: int | None = None
    second_parent_track_id: int | None = None  # a mashup is made of two tracks, often by two members
    message_id: int | None = None
    thread_id: int | None = None
    created_at: datetime
    deleted: bool = False
    # When each word is sung (FUZZ gives it with every clip; Sonic's lyrics timeline tool once asked): kept, so the
    # lyrics timeline of a track is answered again without a call.
    alignment: LyricsAlignment | None = None

    @property
    def display_title(self) -> str:
        return self.title or "Untitled"


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class GuildSettings(BaseModel):
    """Everything an admin sets for one server; missing rows mean the operator's defaults."""

    guild_id: int
    budget: int
    period: Period
    member_cap: int | None = None
    reset_epoch: int = 0
    costs: dict[Operation, int] = Field(default_factory=dict)  # overrides of the defaults
    max_jobs_member: int = 2
    max_jobs_server: int = 10
    allowed_channel_ids: list[int] = Field(default_factory=list)
    required_role_id: int | None = None
    remix_threads: bool = True
    audit_channel_id: int | None = None
    default_model: str | None = None
    cooldown_s: float = 0.0
    use_default_blocklist: bool = True
    # A job costing more than this asks "Confirm / Cancel" first (nothing is reserved until Confirm).
    confirm_above: int = CONFIRM_ABOVE_DEFAULT


class Persona(BaseModel):
    """A voice saved from a track, that the server's members may pick when they make a song."""

    id: int
    guild_id: int
    provider: str
    name: str
    persona_id: str  # the provider's id
    track_id: int | None = None  # the track the voice was taken from
    created_by: int
    created_at: datetime


class LedgerKind(StrEnum):
    RESERVE = "reserve"  # a job was admitted: -cost
    COMMIT = "commit"  # the job succeeded: 0, marks the reservation final
    REFUND = "refund"  # the job failed, was cancelled or timed out: +cost
    GRANT = "grant"  # an admin added credits (to the server, or to one member's cap)
    RESET = "reset"  # an admin started a new period early: 0, a marker


class LedgerEntry(BaseModel):
    id: int
    guild_id: int
    user_id: int | None
    job_id: int | None
    kind: LedgerKind
    amount: int
    period_key: str
    note: str | None = None
    actor_id: int | None = None
    created_at: datetime
