"""Forms for everything that takes multi-line text: compose, and each remix pre-filled from its track."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.errors import InvalidRequest
from bot.domain.models import LYRICS_MAX, SOUND_MAX, TITLE_MAX, Operation, Track
from bot.ui.errors import reply_error
from bot.ui.flows import start_job

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
}


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
        if spec.number:
            try:
                values[spec.key] = float(text.replace(",", "."))
            except ValueError:
                raise InvalidRequest(f"{spec.label} must be a number, not “{text[:20]}”.") from None
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
    ) -> None:
        super().__init__(title=title[:45], timeout=900)
        self.operation = operation
        self.track_id = track_id
        self.extra = extra or {}
        self.fields = FORMS[operation]
        self.inputs: dict[str, discord.ui.TextInput[JobModal]] = {}
        defaults = defaults or {}
        for spec in self.fields:
            text_input: discord.ui.TextInput[JobModal] = discord.ui.TextInput(
                label=spec.label,
                style=spec.style,
                required=spec.required,
                max_length=spec.max_length,
                placeholder=spec.placeholder,
                default=defaults.get(spec.key),
            )
            self.inputs[spec.key] = text_input
            self.add_item(text_input)

    async def on_submit(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        values = {**self.extra, **parse(self.fields, {k: v.value for k, v in self.inputs.items()})}
        await start_job(interaction, self.operation, values, track_id=self.track_id)

    async def on_error(self, interaction: discord.Interaction[Tunesmith], error: Exception) -> None:  # type: ignore[override]
        await reply_error(interaction, error)


def remix_modal(operation: Operation, track: Track) -> JobModal:
    title = f"{operation.label}: {track.display_title}"
    return JobModal(operation, title=title, defaults=prefill(operation, track), track_id=track.id)


def compose_modal(defaults: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> JobModal:
    return JobModal(Operation.CREATE, title="Compose a song", defaults=defaults, extra=extra)
