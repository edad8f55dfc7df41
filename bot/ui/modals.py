"""Forms for everything that takes multi-line text: compose, each remix pre-filled from its track, and saving a
persona. Their length limits follow the active provider's vocabulary (Sonic takes longer styles and lyrics)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.errors import InvalidRequest
from bot.domain.models import LYRICS_MAX, PERSONA_NAME_MAX, SOUND_MAX, TITLE_MAX, Operation, Track
from bot.domain.sonic import REMIX_TITLE_MAX
from bot.ui.errors import reply_error
from bot.ui.flows import save_persona, start_job

if TYPE_CHECKING:
    from bot.client import Tunesmith


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    style: discord.TextStyle = discord.TextStyle.short
    required: bool = False
    max_length: int | None = None
    placeholder: str | None = None
    number: bool = False  # parsed as a float; blank means "not set"
    integer: bool = False  # parsed as a whole number (a track's #)


_TITLE = Field("title", "Title", max_length=TITLE_MAX, placeholder="optional")
_STYLE = Field("sound", "Style", style=discord.TextStyle.paragraph, max_length=SOUND_MAX)
_LYRICS = Field("lyrics", "Lyrics", style=discord.TextStyle.paragraph, max_length=LYRICS_MAX)

# The fields of each remix form, in order (Discord allows five a modal).
FORMS: dict[Operation, tuple[Field, ...]] = {
    Operation.EXTEND: (
        Field("starts_at", "Continue from (seconds)", number=True, placeholder="e.g. 30"),
        Field("sound", "Style of the continuation", style=discord.TextStyle.paragraph, max_length=SOUND_MAX),
        Field("lyrics", "Lyrics for the new part", style=discord.TextStyle.paragraph, max_length=LYRICS_MAX),
        _TITLE,
    ),
    Operation.COVER: (
        Field("sound", "New style", style=discord.TextStyle.paragraph, required=True, max_length=SOUND_MAX),
        _LYRICS,
        Field("cover_strength", "Strength (0.2–1)", number=True, placeholder="0.2 subtle … 1 dramatic"),
        _TITLE,
    ),
    Operation.REPLACE: (
        Field("starts_at", "Section start (seconds)", number=True, required=True),
        Field("ends_at", "Section end (seconds)", number=True, placeholder="blank = to the end"),
        _STYLE,
        _LYRICS,
    ),
    Operation.VARIATION: (
        Field("seed", "Seed", placeholder="optional: the same seed gives the same take", max_length=64),
        Field("model", "Model", placeholder="optional", max_length=40),
    ),
    Operation.SWAP_VOCALS: (
        Field("sound", "New voice", style=discord.TextStyle.paragraph, required=True, max_length=SOUND_MAX),
        Field("lyrics", "Lyrics", style=discord.TextStyle.paragraph, required=True, max_length=LYRICS_MAX),
        Field("cover_strength", "Strength (0.2–1)", number=True),
    ),
    Operation.SWAP_SOUND: (
        Field("sound", "New arrangement", style=discord.TextStyle.paragraph, required=True, max_length=SOUND_MAX),
        _LYRICS,
        Field("cover_strength", "Strength (0.2–1)", number=True),
    ),
    Operation.CREATE: (
        Field("title", "Title", max_length=TITLE_MAX),
        Field("sound", "Style", style=discord.TextStyle.paragraph, required=True, max_length=SOUND_MAX),
        Field("lyrics", "Lyrics", style=discord.TextStyle.paragraph, required=True, max_length=LYRICS_MAX),
    ),
    # Sonic's own operations: their requests are Sonic's (bot/domain/sonic.py), so are the keys.
    Operation.SAMPLE: (
        Field("start_s", "Sample from (seconds)", number=True, required=True, placeholder="e.g. 5"),
        Field("end_s", "Sample to (seconds)", number=True, required=True, placeholder="e.g. 15"),
        Field("tags", "Style of the new song", style=discord.TextStyle.paragraph, max_length=SOUND_MAX),
        Field("title", "Title", max_length=TITLE_MAX, placeholder="optional"),
    ),
    Operation.REMASTER: (
        Field("strength", "How much (subtle, normal or high)", max_length=10, placeholder="normal"),
        Field("title", "Title", max_length=TITLE_MAX, placeholder="optional"),
    ),
    Operation.ADD_VOCALS: (
        Field("lyrics", "Lyrics to sing", style=discord.TextStyle.paragraph, required=True, max_length=LYRICS_MAX),
        Field("tags", "Voice and style", style=discord.TextStyle.paragraph, max_length=SOUND_MAX),
        Field("start_s", "Sing from (seconds)", number=True, placeholder="blank = the start"),
        Field("end_s", "Sing until (seconds)", number=True, placeholder="blank = the end"),
    ),
    Operation.ADD_INSTRUMENTAL: (
        Field("tags", "Style of the backing", style=discord.TextStyle.paragraph, max_length=SOUND_MAX),
        Field("title", "Title", max_length=TITLE_MAX, placeholder="optional"),
    ),
    Operation.MASHUP: (
        Field("other_track", "The other track's number (#)", integer=True, required=True, placeholder="e.g. 12"),
        Field("tags", "Style of the mashup", style=discord.TextStyle.paragraph, max_length=SOUND_MAX),
        Field("title", "Title", max_length=TITLE_MAX, placeholder="optional"),
    ),
}
# Discord's own ceiling for a text input; Sonic's limits (per model) are checked when the form is submitted.
TEXT_INPUT_MAX = 4000
_SONIC_STYLE_MAX = 1000
_STYLE_KEYS = ("sound", "tags")
# Fields with no Sonic counterpart (left out of the forms when the provider speaks Sonic).
_NOT_SONIC = ("cover_strength", "seed")
_SONIC_ONLY = frozenset(
    {Operation.SAMPLE, Operation.REMASTER, Operation.ADD_VOCALS, Operation.ADD_INSTRUMENTAL, Operation.MASHUP}
)


def form_fields(operation: Operation, dialect: str = "generic") -> tuple[Field, ...]:
    """The fields of an operation's form for the active provider: Sonic's longer limits, and no field it lacks."""
    fields = FORMS[operation]
    if dialect != "sonic" and operation not in _SONIC_ONLY:
        return fields
    adapted: list[Field] = []
    for spec in fields:
        if dialect == "sonic" and spec.key in _NOT_SONIC:
            continue
        if spec.key in _STYLE_KEYS:
            spec = replace(spec, max_length=_SONIC_STYLE_MAX)
        elif spec.key == "lyrics":
            spec = replace(spec, max_length=TEXT_INPUT_MAX)
        elif spec.key == "title" and operation in (Operation.EXTEND, Operation.COVER):
            spec = replace(spec, max_length=REMIX_TITLE_MAX)
        adapted.append(spec)
    return tuple(adapted)


def prefill(operation: Operation, track: Track) -> dict[str, str]:
    """Defaults taken from the track, so a member only changes what they want different."""
    values: dict[str, str] = {}
    if track.tags:
        values["sound"] = track.tags[:SOUND_MAX]
    if track.lyrics and track.lyrics.strip().lower() != "[instrumental]":
        values["lyrics"] = track.lyrics[:LYRICS_MAX]
    if operation is Operation.EXTEND:
        values["starts_at"] = f"{track.duration_s:g}" if track.duration_s else "30"
        values.pop("lyrics", None)  # the new part's lyrics, not the old ones
    if operation is Operation.COVER:
        values["title"] = f"{track.display_title} (Cover)"[:TITLE_MAX]
    if operation is Operation.REPLACE:
        values["starts_at"] = "0"
    return values


def parse(fields: tuple[Field, ...], raw: dict[str, str]) -> dict[str, Any]:
    """Form text to request values; a number that doesn't parse is a clear error, not a crash."""
    values: dict[str, Any] = {}
    for spec in fields:
        text = (raw.get(spec.key) or "").strip()
        if not text:
            continue
        if spec.integer:
            digits = text.lstrip("#").strip()
            if not digits.isdigit() or len(digits) > 18:
                raise InvalidRequest(f"{spec.label} must be a track number like 12, not “{text[:20]}”.")
            values[spec.key] = int(digits)
        elif spec.number:
            try:
                number = float(text.replace(",", "."))
            except ValueError:
                number = math.nan
            if not math.isfinite(number):  # "inf", "nan" and "1e999" parse, but no provider takes them
                raise InvalidRequest(f"{spec.label} must be a number, not “{text[:20]}”.")
            values[spec.key] = number
        else:
            values[spec.key] = text
    return values


class JobModal(discord.ui.Modal):
    """A form that starts one job when submitted."""

    def __init__(
        self,
        operation: Operation,
        *,
        title: str,
        defaults: dict[str, str] | None = None,
        track_id: int | None = None,
        extra: dict[str, Any] | None = None,
        dialect: str = "generic",
        fields: tuple[Field, ...] | None = None,
        persona: int | None = None,
    ) -> None:
        super().__init__(title=title[:45], timeout=900)
        self.operation = operation
        self.track_id = track_id
        self.extra = extra or {}
        self.persona = persona
        self.fields = fields if fields is not None else form_fields(operation, dialect)
        self.inputs: dict[str, discord.ui.TextInput[JobModal]] = {}
        defaults = defaults or {}
        for spec in self.fields:
            default = defaults.get(spec.key)
            text_input: discord.ui.TextInput[JobModal] = discord.ui.TextInput(
                label=spec.label,
                style=spec.style,
                required=spec.required,
                max_length=spec.max_length,
                placeholder=spec.placeholder,
                # Discord refuses a pre-filled value longer than its field.
                default=default[: spec.max_length] if default and spec.max_length else default,
            )
            self.inputs[spec.key] = text_input
            self.add_item(text_input)

    async def on_submit(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        values = {**self.extra, **parse(self.fields, {k: v.value for k, v in self.inputs.items()})}
        second = values.pop("other_track", None)
        await start_job(
            interaction,
            self.operation,
            values,
            track_id=self.track_id,
            second_track_id=second,
            persona=self.persona,
        )

    async def on_error(self, interaction: discord.Interaction[Tunesmith], error: Exception) -> None:  # type: ignore[override]
        await reply_error(interaction, error)


def remix_modal(operation: Operation, track: Track, dialect: str = "generic") -> JobModal:
    title = f"{operation.label}: {track.display_title}"
    return JobModal(operation, title=title, defaults=prefill(operation, track), track_id=track.id, dialect=dialect)


def compose_modal(
    defaults: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    *,
    dialect: str = "generic",
    lyrics_required: bool = True,
    persona: int | None = None,
) -> JobModal:
    fields = form_fields(Operation.CREATE, dialect)
    if not lyrics_required:
        fields = tuple(replace(f, required=False) if f.key == "lyrics" else f for f in fields)
    return JobModal(
        Operation.CREATE,
        title="Compose a song",
        defaults=defaults,
        extra=extra,
        dialect=dialect,
        fields=fields,
        persona=persona,
    )


PERSONA_FIELDS = (
    Field("name", "Name of the persona", required=True, max_length=PERSONA_NAME_MAX, placeholder="e.g. Velvet"),
    Field("description", "What the voice is like", style=discord.TextStyle.paragraph, max_length=500),
    Field("start_s", "The voice from (seconds)", number=True, placeholder="optional"),
    Field("end_s", "The voice until (seconds)", number=True, placeholder="optional"),
)


class PersonaModal(discord.ui.Modal):
    """Save the voice of a track as a persona of the server."""

    def __init__(self, track: Track) -> None:
        super().__init__(title=f"Persona from {track.display_title}"[:45], timeout=900)
        self.track_id = track.id
        self.inputs: dict[str, discord.ui.TextInput[PersonaModal]] = {}
        for spec in PERSONA_FIELDS:
            text_input: discord.ui.TextInput[PersonaModal] = discord.ui.TextInput(
                label=spec.label,
                style=spec.style,
                required=spec.required,
                max_length=spec.max_length,
                placeholder=spec.placeholder,
            )
            self.inputs[spec.key] = text_input
            self.add_item(text_input)

    async def on_submit(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        values = parse(PERSONA_FIELDS, {k: v.value for k, v in self.inputs.items()})
        await save_persona(interaction, self.track_id, **values)

    async def on_error(self, interaction: discord.Interaction[Tunesmith], error: Exception) -> None:  # type: ignore[override]
        await reply_error(interaction, error)
