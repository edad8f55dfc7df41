"""Sonic's vocabulary (docs/providers.md, "Sonic"): its models and limits, a request per operation it adds, the
studio tools and their normalised results, and the ports a provider with tools implements.

Kept apart from :mod:`bot.domain.models` so the generic vocabulary stays small; every request here is validated
before anything is spent, and each validation message is written for the member who typed the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from bot.domain.errors import InvalidRequest
from bot.domain.lyrics_timeline import AlignedWord, LyricLine, LyricsAlignment, parse_lrc, sung_text, to_lrc
from bot.domain.models import CLIP_ID_MAX, SECONDS_MAX, Operation, TaskFailure, TaskState, WebhookTarget, explain

__all__ = [
    "DEFAULT_SONIC_MODEL",
    "SONIC_MODELS",
    "AlignedWord",
    "Bpm",
    "ClipUploader",
    "LyricLine",
    "LyricsAlignment",
    "Mashup",
    "Midi",
    "MidiInstrument",
    "MidiNote",
    "PersonaMaker",
    "Sample",
    "SavePersona",
    "SonicAddInstrumental",
    "SonicAddVocals",
    "SonicConcat",
    "SonicCover",
    "SonicCreate",
    "SonicExtend",
    "SonicRemaster",
    "SonicReplace",
    "SonicRequest",
    "Stem",
    "Stems",
    "StudioTools",
    "Tool",
    "ToolCall",
    "ToolResult",
    "ToolStatus",
    "UpsampledTags",
    "VoxClip",
    "WavFile",
    "build_sonic_request",
    "build_tool_call",
    "check_tool_options",
    "limits_for",
    "load_sonic_request",
    "normalise_sonic_model",
    "parse_lrc",
    "sonic_model_name",
    "to_lrc",
]

# --- models -----------------------------------------------------------------------------------------------------
SONIC_MODELS: tuple[str, ...] = (
    "sonic-v5-5",
    "sonic-v5",
    "sonic-v4-5-plus",
    "sonic-v4-5",
    "sonic-v4",
    "sonic-v3-5",
)
DEFAULT_SONIC_MODEL = "sonic-v5"
# The legacy names the service also accepts, and the spelling polls and webhooks report back in: the version
# spelled out, or the upstream code name of that version.
CHIRP_NAMES: dict[str, str] = {
    "chirp-v3-5": "sonic-v3-5",
    "chirp-v4": "sonic-v4",
    "chirp-v4-5": "sonic-v4-5",
    "chirp-auk": "sonic-v4-5",
    "chirp-v4-5-plus": "sonic-v4-5-plus",
    "chirp-bluejay": "sonic-v4-5-plus",
    "chirp-v5": "sonic-v5",
    "chirp-crow": "sonic-v5",
    "chirp-v5-5": "sonic-v5-5",
    "chirp-fenix": "sonic-v5-5",
}
_BY_KEY = {m: m for m in SONIC_MODELS} | CHIRP_NAMES


def sonic_model_name(value: str | None) -> str | None:
    """The ``sonic-*`` name of a model as any answer spells it; an unknown name is kept as reported."""
    if value is None or not value.strip():
        return None
    return _BY_KEY.get(value.strip().casefold(), value.strip())


def normalise_sonic_model(value: str | None) -> str | None:
    """The ``sonic-*`` name of a model a member typed (legacy ``chirp-*`` accepted), or raise naming the choices."""
    if value is None or not value.strip():
        return None
    found = _BY_KEY.get(value.strip().casefold())
    if found is None:
        raise ValueError(f"unknown model {value.strip()!r}; choose one of: {', '.join(SONIC_MODELS)}")
    return found


@dataclass(frozen=True, slots=True)
class SonicLimits:
    """Lengths the service accepts for one model (characters)."""

    lyrics: int
    tags: int
    description: int = 400


_OLD_MODELS = frozenset({"sonic-v3-5", "sonic-v4"})
TITLE_MAX = 80
REMIX_TITLE_MAX = 120  # extend, cover and persona songs take longer titles
PERSONA_NAME_MAX = 79  # "< 80"
PERSONA_STYLES_MAX = 2000
VOX_RANGE_MAX_S = 30.0
DURATION_MIN_S, DURATION_MAX_S = 10.0, 360.0


def limits_for(model: str | None) -> SonicLimits:
    """v3-5 and v4 take 3000 characters of lyrics and 200 of tags; v4-5 and later 5000 and 1000."""
    if (model or DEFAULT_SONIC_MODEL) in _OLD_MODELS:
        return SonicLimits(lyrics=3000, tags=200)
    return SonicLimits(lyrics=5000, tags=1000)


def _http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an http(s) link")
    return value


# --- requests ---------------------------------------------------------------------------------------------------
ClipId = Annotated[str, Field(min_length=1, max_length=CLIP_ID_MAX)]
Weight = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0, le=SECONDS_MAX)]


class _SonicRequest(BaseModel):
    # allow_inf_nan=False: "nan" and "inf" are refused like any other out-of-range number.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)

    # Tells a stored Sonic request from the generic one of the same operation (both say e.g. "create").
    api: Literal["sonic"] = "sonic"


class _Modelled(_SonicRequest):
    model: str | None = Field(default=None, description="A sonic-* model (legacy chirp-* accepted)")

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: object) -> object:
        return normalise_sonic_model(value) if isinstance(value, str) else value

    @property
    def limits(self) -> SonicLimits:
        return limits_for(self.model)

    def _check_length(self, name: str, value: str | None, limit: int, what: str) -> None:
        if value is not None and len(value) > limit:
            model = self.model or DEFAULT_SONIC_MODEL
            hint = " (sonic-v4-5 and later take more)" if model in _OLD_MODELS and name in ("lyrics", "tags") else ""
            raise ValueError(f"{what} must be at most {limit} characters with {model}{hint}")


class _Song(_Modelled):
    """What shapes a new song: lyrics (custom mode) or a description, a style, and the fine-tuning knobs."""

    _title_max: ClassVar[int] = TITLE_MAX

    lyrics: str | None = None
    description: str | None = None
    title: str | None = None
    tags: str | None = None
    negative_tags: str | None = None
    instrumental: bool = False
    vocal_gender: Literal["f", "m"] | None = None
    style_weight: Weight | None = None
    weirdness: Weight | None = None
    audio_weight: Weight | None = None

    @field_validator("vocal_gender", mode="before")
    @classmethod
    def _gender(cls, value: object) -> object:
        if isinstance(value, str):
            folded = value.strip().casefold()
            return {"female": "f", "male": "m"}.get(folded, folded)
        return value

    def title_max(self) -> int:
        return self._title_max

    @model_validator(mode="after")
    def _lengths(self) -> _Song:
        limits = self.limits
        self._check_length("lyrics", self.lyrics, limits.lyrics, "the lyrics")
        self._check_length("tags", self.tags, limits.tags, "the style")
        self._check_length("tags", self.negative_tags, limits.tags, "the styles to avoid")
        self._check_length("description", self.description, limits.description, "the description")
        if self.title is not None and len(self.title) > self.title_max():
            raise ValueError(f"the title is too long: at most {self.title_max()} characters")
        if self.lyrics and self.description:
            raise ValueError("give either lyrics or a description of the song, not both")
        if self.instrumental and self.lyrics and sung_text(self.lyrics):
            raise ValueError("an instrumental song has no lyrics: leave lyrics empty or turn instrumental off")
        return self

    @property
    def custom_mode(self) -> bool:
        """Lyrics (or a style alone) mean custom mode; a description means description mode."""
        return not self.description


class _Sourced(BaseModel):
    """A track of the server (``clip_id``) or a public audio link (``audio_url``) to start from."""

    clip_id: ClipId | None = None
    audio_url: str | None = None

    @field_validator("audio_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _http_url(value) if value else None

    @model_validator(mode="after")
    def _one_source(self) -> _Sourced:
        if bool(self.clip_id) == bool(self.audio_url):
            raise ValueError("start from either a track or an audio link (one of the two)")
        return self


class SonicCreate(_Song):
    """A new song; with ``persona_id`` it sings in a saved persona's voice (``persona_music``)."""

    operation: Literal[Operation.CREATE] = Operation.CREATE
    persona_id: Annotated[str, Field(min_length=1, max_length=CLIP_ID_MAX)] | None = None
    duration_s: float | None = Field(default=None, ge=DURATION_MIN_S, le=DURATION_MAX_S, description="a target")

    def title_max(self) -> int:
        return REMIX_TITLE_MAX if self.persona_id else TITLE_MAX

    @model_validator(mode="after")
    def _needs_content(self) -> SonicCreate:
        if not (self.lyrics or self.description or self.tags):
            raise ValueError("describe the song, give a style or give some lyrics")
        return self


class SonicExtend(_Song, _Sourced):
    """Continue a track (or an uploaded one, or a link) from a time; the result holds only the new part."""

    _title_max: ClassVar[int] = REMIX_TITLE_MAX
    operation: Literal[Operation.EXTEND] = Operation.EXTEND
    continue_at: Seconds | None = None
    uploaded: bool = Field(default=False, description="the track came from an upload (extend_upload_music)")


class SonicCover(_Song, _Sourced):
    """The same song in another style (an uploaded track or a link too)."""

    _title_max: ClassVar[int] = REMIX_TITLE_MAX
    operation: Literal[Operation.COVER] = Operation.COVER
    uploaded: bool = False


class SonicReplace(_Modelled):
    """Regenerate the section from ``start_s`` to ``end_s`` (replace-section, an infill)."""

    operation: Literal[Operation.REPLACE] = Operation.REPLACE
    clip_id: ClipId
    start_s: Seconds
    end_s: Seconds
    lyrics: str | None = None
    tags: str | None = None
    negative_tags: str | None = None
    title: str | None = Field(default=None, max_length=TITLE_MAX)

    @model_validator(mode="after")
    def _section(self) -> SonicReplace:
        if self.end_s <= self.start_s:
            raise ValueError("the section must end after it starts (end > start)")
        if self.model == "sonic-v3-5":
            raise ValueError("replacing a section needs sonic-v4 or later")
        self._check_length("lyrics", self.lyrics, self.limits.lyrics, "the lyrics")
        self._check_length("tags", self.tags, self.limits.tags, "the style")
        self._check_length("tags", self.negative_tags, self.limits.tags, "the styles to avoid")
        return self


class SonicConcat(_SonicRequest):
    """The full song from an extension (an extension holds only its new part)."""

    operation: Literal[Operation.CONCAT] = Operation.CONCAT
    clip_id: ClipId


class SonicRemaster(_Modelled):
    """The same track, remastered: subtly, normally or a lot."""

    operation: Literal[Operation.REMASTER] = Operation.REMASTER
    clip_id: ClipId
    strength: Literal["subtle", "normal", "high"] = "normal"
    title: str | None = Field(default=None, max_length=TITLE_MAX)


class SonicAddVocals(_Song):
    """Vocals sung over an instrumental track, optionally only between two times."""

    operation: Literal[Operation.ADD_VOCALS] = Operation.ADD_VOCALS
    clip_id: ClipId
    start_s: Seconds | None = None
    end_s: Seconds | None = None

    @model_validator(mode="after")
    def _section(self) -> SonicAddVocals:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError("the vocals must end after they start (end > start)")
        if self.instrumental:
            raise ValueError("adding vocals makes a song with vocals: turn instrumental off")
        return self


class SonicAddInstrumental(_Song):
    """A backing played under a vocal track."""

    operation: Literal[Operation.ADD_INSTRUMENTAL] = Operation.ADD_INSTRUMENTAL
    clip_id: ClipId


class Mashup(_Song):
    """Two tracks (possibly by two members) blended into one song."""

    operation: Literal[Operation.MASHUP] = Operation.MASHUP
    clip_ids: tuple[ClipId, ClipId]

    @field_validator("clip_ids", mode="before")
    @classmethod
    def _pair(cls, value: object) -> object:
        if isinstance(value, list | tuple) and len(value) != 2:
            raise ValueError("a mashup takes exactly two tracks")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Mashup:
        if self.clip_ids[0] == self.clip_ids[1]:
            raise ValueError("a mashup needs two different tracks")
        return self


class Sample(_Song, _Sourced):
    """A section of a track (or a link) as the seed of a new song."""

    operation: Literal[Operation.SAMPLE] = Operation.SAMPLE
    start_s: Seconds
    end_s: Seconds

    @model_validator(mode="after")
    def _section(self) -> Sample:
        if self.end_s <= self.start_s:
            raise ValueError("the sample must end after it starts (end > start)")
        return self


class SavePersona(_SonicRequest):
    """Save the voice of a track as a named persona (``vocal_start_s``/``_end_s`` pick the part with the voice)."""

    operation: Literal[Operation.PERSONA] = Operation.PERSONA
    clip_id: ClipId
    name: str = Field(min_length=1, max_length=PERSONA_NAME_MAX)
    description: str | None = Field(default=None, max_length=PERSONA_STYLES_MAX)
    styles: str | None = Field(default=None, max_length=PERSONA_STYLES_MAX)
    vocal_start_s: Seconds | None = None
    vocal_end_s: Seconds | None = None

    @model_validator(mode="after")
    def _section(self) -> SavePersona:
        if self.vocal_start_s is not None and self.vocal_end_s is not None and self.vocal_end_s <= self.vocal_start_s:
            raise ValueError("the voice section must end after it starts (end > start)")
        return self


SonicRequest = Annotated[
    SonicCreate
    | SonicExtend
    | SonicCover
    | SonicReplace
    | SonicConcat
    | SonicRemaster
    | SonicAddVocals
    | SonicAddInstrumental
    | Mashup
    | Sample
    | SavePersona,
    Field(discriminator="operation"),
]
SONIC_REQUEST_ADAPTER: TypeAdapter[SonicRequest] = TypeAdapter(SonicRequest)
SONIC_REQUEST_TYPES: dict[Operation, type[BaseModel]] = {
    Operation.CREATE: SonicCreate,
    Operation.EXTEND: SonicExtend,
    Operation.COVER: SonicCover,
    Operation.REPLACE: SonicReplace,
    Operation.CONCAT: SonicConcat,
    Operation.REMASTER: SonicRemaster,
    Operation.ADD_VOCALS: SonicAddVocals,
    Operation.ADD_INSTRUMENTAL: SonicAddInstrumental,
    Operation.MASHUP: Mashup,
    Operation.SAMPLE: Sample,
    Operation.PERSONA: SavePersona,
}


def build_sonic_request(operation: Operation, **values: Any) -> SonicRequest:
    """Validate a member's values into a Sonic request, or raise :class:`InvalidRequest` naming what to fix."""
    kind = SONIC_REQUEST_TYPES.get(operation)
    if kind is None:
        raise InvalidRequest(f"{operation.label} is not a Sonic request.")
    clean = {k: v for k, v in values.items() if v is not None and v != ""}
    try:
        return kind.model_validate(clean)  # type: ignore[return-value]
    except ValidationError as exc:
        raise InvalidRequest(explain(exc)) from exc


def is_sonic_request(data: Mapping[str, Any]) -> bool:
    """Whether a stored request dict is one of this module's (they carry ``api: "sonic"``)."""
    return data.get("api") == "sonic"


def load_sonic_request(data: str | bytes | Mapping[str, Any]) -> SonicRequest:
    """Rebuild a stored Sonic request (JSON or dict)."""
    if isinstance(data, Mapping):
        return SONIC_REQUEST_ADAPTER.validate_python(dict(data))
    return SONIC_REQUEST_ADAPTER.validate_json(data)


# --- studio tools -----------------------------------------------------------------------------------------------
class Tool(StrEnum):
    """What a provider can tell or make from an existing track, beside generating new ones."""

    STEMS_BASIC = "stems_basic"
    STEMS_FULL = "stems_full"
    WAV = "wav"
    MIDI = "midi"
    BPM = "bpm"
    VOX = "vox"
    LYRICS_TIMELINE = "lyrics_timeline"
    UPSAMPLE_TAGS = "upsample_tags"

    @property
    def operation(self) -> Operation:
        """The operation a tool is priced, retired and audited as."""
        return Operation(self.value)

    @property
    def label(self) -> str:
        return self.operation.label

    @property
    def asynchronous(self) -> bool:
        """Stems are tasks (``submit_tool`` then ``fetch_tool``); every other tool answers at once (``run_tool``)."""
        return self in (Tool.STEMS_BASIC, Tool.STEMS_FULL)

    @property
    def needs_clip(self) -> bool:
        """Every tool but upsample tags (which reads a style text) works on a track."""
        return self is not Tool.UPSAMPLE_TAGS


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


class _NoOptions(_Options):
    pass


class VoxOptions(_Options):
    """The part of the track to take the vocals from: at most 30 seconds."""

    vocal_start_s: Seconds | None = None
    vocal_end_s: Seconds | None = None

    @model_validator(mode="after")
    def _range(self) -> VoxOptions:
        if (self.vocal_start_s is None) != (self.vocal_end_s is None):
            raise ValueError("give both the start and the end of the vocals, or neither")
        if self.vocal_start_s is not None and self.vocal_end_s is not None:
            if self.vocal_end_s <= self.vocal_start_s:
                raise ValueError("the vocals must end after they start (end > start)")
            if self.vocal_end_s - self.vocal_start_s > VOX_RANGE_MAX_S:
                raise ValueError(f"take at most {VOX_RANGE_MAX_S:.0f} seconds of vocals")
        return self


class UpsampleOptions(_Options):
    """The style text to enrich."""

    tags: str = Field(min_length=1, max_length=1000)


_TOOL_OPTIONS: dict[Tool, type[_Options]] = {Tool.VOX: VoxOptions, Tool.UPSAMPLE_TAGS: UpsampleOptions}


def check_tool_options(tool: Tool, clip_id: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a tool call before anything is spent; returns the options as the provider takes them."""
    if tool.needs_clip and not (clip_id and clip_id.strip()):
        raise InvalidRequest(f"{tool.label} needs a track.")
    if clip_id is not None and len(clip_id) > CLIP_ID_MAX:
        raise InvalidRequest("Track is too long (at most 100 characters).")
    clean = {k: v for k, v in options.items() if v is not None and v != ""}
    try:
        checked = _TOOL_OPTIONS.get(tool, _NoOptions).model_validate(clean)
    except ValidationError as exc:
        raise InvalidRequest(explain(exc)) from exc
    return checked.model_dump(exclude_none=True)


class ToolCall(BaseModel):
    """A studio tool asked of a track (or, for upsample tags, of a style text): how a tool job stores its request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: Tool
    clip_id: ClipId | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def operation(self) -> Operation:
        return self.tool.operation


def build_tool_call(operation: Operation, **values: Any) -> ToolCall:
    """Validate a tool's values (the track's ``clip_id`` and the tool's options) before anything is spent."""
    try:
        tool = Tool(operation.value)
    except ValueError:
        raise InvalidRequest(f"{operation.label} is not a studio tool.") from None
    clip_id = values.pop("clip_id", None)
    options = check_tool_options(tool, clip_id, values)
    return ToolCall(tool=tool, clip_id=clip_id, options=options)


def is_tool_call(data: Mapping[str, Any]) -> bool:
    """Whether a stored request dict is a tool's (it names the tool)."""
    return "tool" in data and "operation" not in data


# --- tool results -----------------------------------------------------------------------------------------------
class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, allow_inf_nan=False)


class Stem(_Result):
    """One separated track: its name ("Vocals", "Drums", …) and where its audio is."""

    name: str
    audio_url: str


class Stems(_Result):
    """Every stem of a track, each named."""

    kind: Literal["stems"] = "stems"
    tracks: tuple[Stem, ...]


class WavFile(_Result):
    """A lossless copy of a track."""

    kind: Literal["wav"] = "wav"
    url: str


class MidiNote(_Result):
    start_s: float = Field(ge=0.0)
    end_s: float = Field(ge=0.0)
    pitch: int = Field(ge=0, le=127)
    velocity: int = Field(ge=0, le=127)


class MidiInstrument(_Result):
    name: str
    notes: tuple[MidiNote, ...] = ()


class Midi(_Result):
    """A ``.mid`` transcription of a track, and the notes it holds per instrument."""

    kind: Literal["midi"] = "midi"
    url: str
    instruments: tuple[MidiInstrument, ...] = ()


class Bpm(_Result):
    """The tempo of a track in beats per minute: average, slowest and fastest."""

    kind: Literal["bpm"] = "bpm"
    avg: float = Field(gt=0.0)
    min: float = Field(gt=0.0)
    max: float = Field(gt=0.0)


class VoxClip(_Result):
    """The vocals of a stretch of a track (what a persona is made from)."""

    kind: Literal["vox"] = "vox"
    audio_url: str | None = None
    vox_id: str | None = None
    start_s: float | None = None
    end_s: float | None = None


class UpsampledTags(_Result):
    """A richer style text suggested for a short one."""

    kind: Literal["upsampled_tags"] = "upsampled_tags"
    tags: str


ToolResult = Stems | WavFile | Midi | Bpm | VoxClip | LyricsAlignment | UpsampledTags


class ToolStatus(BaseModel):
    """An asynchronous tool's task (stems) as the engine sees it."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    tool: Tool
    state: TaskState
    result: Stems | None = None
    failure: TaskFailure | None = None


# --- ports ------------------------------------------------------------------------------------------------------
@runtime_checkable
class StudioTools(Protocol):
    """What a provider offers beyond generation. Every method raises ProviderError (or InvalidRequest for bad
    options, before any call); a tool the provider lacks raises OperationUnavailable."""

    tools: frozenset[Tool]

    async def run_tool(self, clip_id: str | None, tool: Tool, **options: Any) -> ToolResult:
        """A synchronous tool's result (every tool but stems)."""
        ...

    async def submit_tool(self, clip_id: str, tool: Tool, *, webhook: WebhookTarget | None = None) -> str:
        """Start an asynchronous tool (stems) and return its task id."""
        ...

    async def fetch_tool(self, tool: Tool, task_ids: Sequence[str]) -> list[ToolStatus]:
        """Statuses of asynchronous tool tasks."""
        ...


@runtime_checkable
class PersonaMaker(Protocol):
    """A provider that can save a track's voice as a persona to sing later songs."""

    async def save_persona(self, request: SavePersona) -> str:
        """The new persona's id. Raises ProviderError (RETIRED when the service no longer offers personas)."""
        ...


class ClipUploader(Protocol):
    """A provider whose upload answers at once with a clip id (no task)."""

    async def upload_clip(self, audio_url: str) -> str: ...
