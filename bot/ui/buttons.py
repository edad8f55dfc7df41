"""Persistent buttons and menus. Their custom_ids (``tunesmith:<area>:<action>:<id>``) point at database rows, so
a button on a post from before a restart still works: discord.py rebuilds the item from its id.

A track post carries the remix buttons (those the provider can do now), a "Remix…" menu with the
remixes only some providers have (remaster, add vocals, add instrumental, sample, mashup, save the voice as a
persona), and a "Tools…" menu with the studio tools (stems, WAV, MIDI, BPM, lyrics timeline, VOX)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.core.tools import TOOL_ORDER
from bot.domain.errors import OperationUnavailable
from bot.domain.models import LYRICS_MAX, TITLE_MAX, Operation, Track
from bot.domain.sonic import Tool
from bot.ui import render
from bot.ui.confirm import ConfirmButton
from bot.ui.errors import reply_error
from bot.ui.flows import requester, start_job
from bot.ui.modals import PersonaModal, compose_modal, remix_modal
from bot.ui.tool_posts import StyleButton, run_tool

if TYPE_CHECKING:
    from bot.client import Tunesmith

log = logging.getLogger(__name__)

# Order and rows of the track post's buttons; Extend, Cover and Variation come first: they are what members press most.
TRACK_ACTIONS: tuple[tuple[str, str, discord.ButtonStyle, int], ...] = (
    ("extend", "Extend", discord.ButtonStyle.primary, 0),
    ("cover", "Cover", discord.ButtonStyle.primary, 0),
    ("variation", "Variation", discord.ButtonStyle.primary, 0),
    ("swap_vocals", "Swap vocals", discord.ButtonStyle.secondary, 0),
    ("swap_sound", "Swap sound", discord.ButtonStyle.secondary, 0),
    ("replace", "Replace section", discord.ButtonStyle.secondary, 1),
    ("wav", "WAV", discord.ButtonStyle.secondary, 1),
    ("delete", "Delete", discord.ButtonStyle.danger, 1),
)
_OPERATION_OF = {
    "extend": Operation.EXTEND,
    "cover": Operation.COVER,
    "variation": Operation.VARIATION,
    "swap_vocals": Operation.SWAP_VOCALS,
    "swap_sound": Operation.SWAP_SOUND,
    "replace": Operation.REPLACE,
    "wav": Operation.DOWNLOAD,
}


def custom_id(area: str, action: str, row_id: int | str) -> str:
    value = f"tunesmith:{area}:{action}:{row_id}"
    assert len(value) <= 100, value
    return value


class TrackButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"tunesmith:track:(?P<action>[a-z_]+):(?P<id>\d+)"
):
    """One of a track post's buttons: opens a pre-filled form, downloads a WAV, or deletes the post."""

    def __init__(self, action: str, track_id: int) -> None:
        label, style, row = next((lbl, sty, r) for a, lbl, sty, r in TRACK_ACTIONS if a == action)
        super().__init__(
            discord.ui.Button(label=label, style=style, row=row, custom_id=custom_id("track", action, track_id))
        )
        self.action = action
        self.track_id = track_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Tunesmith], item: discord.ui.Button[Any], match: re.Match[str]
    ) -> TrackButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        try:
            await self._run(interaction)
        except Exception as exc:  # buttons have no tree error handler: route to the same replies
            await reply_error(interaction, exc)

    async def _run(self, interaction: discord.Interaction[Tunesmith]) -> None:
        services = interaction.client.services
        who = requester(interaction)
        if self.action == "delete":
            track = await services.library.delete(who, self.track_id)
            await interaction.response.send_message(
                f"Deleted *{render.clip(track.display_title, 80)}*.", ephemeral=True
            )
            if interaction.message is not None:
                try:
                    await interaction.message.delete()
                except discord.HTTPException:
                    log.warning("could not delete the post of track %d", track.id)
            return
        operation = _OPERATION_OF[self.action]
        track = await services.library.track(who, self.track_id)
        services.catalog.ensure_available(operation)
        if operation is Operation.DOWNLOAD:
            await start_job(interaction, operation, {"format": "wav"}, track_id=track.id)
            return
        await interaction.response.send_modal(remix_modal(operation, track, services.catalog.dialect))


# The "Remix…" menu: remixes only some providers have, each opening its form.
REMIX_MENU: tuple[tuple[Operation, str, str], ...] = (
    (Operation.REMASTER, "Remaster", "The same song, remastered"),
    (Operation.ADD_VOCALS, "Add vocals", "Sing your lyrics over it"),
    (Operation.ADD_INSTRUMENTAL, "Add instrumental", "A new backing under its vocals"),
    (Operation.SAMPLE, "Sample", "A section of it seeds a new song"),
    (Operation.MASHUP, "Mashup", "Blend it with another track"),
    (Operation.PERSONA, "Save voice as persona", "Sing later songs in this voice"),
)
_TOOL_HINTS = {
    Tool.STEMS_BASIC: "Vocals and instrumental, as separate files",
    Tool.STEMS_FULL: "Every instrument as its own file",
    Tool.WAV: "Lossless audio",
    Tool.MIDI: "The notes, for your DAW",
    Tool.BPM: "The tempo",
    Tool.LYRICS_TIMELINE: "Synced lyrics (.lrc) for karaoke",
    Tool.VOX: "The vocals of up to 30 seconds",
}


def remixes_for(available: frozenset[Operation]) -> list[Operation]:
    return [op for op, _, _ in REMIX_MENU if op in available]


def tools_for(track: Track, available: frozenset[Operation]) -> list[Tool]:
    """The tools on a track's menu: the provider's (not retired), and a lyrics timeline the track carries."""
    tools = {t for t in TOOL_ORDER if t.operation in available and t is not Tool.UPSAMPLE_TAGS}
    if track.alignment is not None and not track.alignment.empty:
        tools.add(Tool.LYRICS_TIMELINE)
    return [t for t in TOOL_ORDER if t in tools]


class RemixMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"tunesmith:remix:menu:(?P<id>\d+)"):
    """A track post's "Remix…" menu: opens the form of the chosen remix."""

    def __init__(self, track_id: int, operations: list[Operation] | None = None) -> None:
        chosen = operations if operations is not None else [op for op, _, _ in REMIX_MENU]
        options = [
            discord.SelectOption(label=label, value=op.value, description=hint)
            for op, label, hint in REMIX_MENU
            if op in chosen
        ]
        super().__init__(
            discord.ui.Select(
                placeholder="Remix…", options=options, row=2, custom_id=custom_id("remix", "menu", track_id)
            )
        )
        self.track_id = track_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Tunesmith], item: discord.ui.Select[Any], match: re.Match[str]
    ) -> RemixMenu:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        try:
            services = interaction.client.services
            operation = Operation(self.item.values[0])
            services.catalog.ensure_available(operation)
            track = await services.library.track(requester(interaction), self.track_id)
            if operation is Operation.PERSONA:
                await interaction.response.send_modal(PersonaModal(track))
                return
            await interaction.response.send_modal(remix_modal(operation, track, services.catalog.dialect))
        except Exception as exc:
            await reply_error(interaction, exc)


class ToolsMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"tunesmith:tools:menu:(?P<id>\d+)"):
    """A track post's "Tools…" menu: runs the chosen studio tool on the track."""

    def __init__(self, track_id: int, tools: list[Tool] | None = None) -> None:
        chosen = tools if tools is not None else list(TOOL_ORDER)
        options = [
            discord.SelectOption(label=tool.label, value=tool.value, description=_TOOL_HINTS.get(tool))
            for tool in chosen
            if tool is not Tool.UPSAMPLE_TAGS
        ]
        super().__init__(
            discord.ui.Select(
                placeholder="Tools…", options=options, row=3, custom_id=custom_id("tools", "menu", track_id)
            )
        )
        self.track_id = track_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Tunesmith], item: discord.ui.Select[Any], match: re.Match[str]
    ) -> ToolsMenu:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        try:
            await run_tool(interaction, Tool(self.item.values[0]), track_id=self.track_id)
        except Exception as exc:
            await reply_error(interaction, exc)


def track_view(track: Track, available: frozenset[Operation]) -> discord.ui.View:
    """A track post's buttons and menus: only what the provider can do now, plus Delete."""
    view = discord.ui.View(timeout=None)
    for action, _label, _style, _row in TRACK_ACTIONS:
        operation = _OPERATION_OF.get(action)
        if operation is not None and operation not in available:
            continue
        view.add_item(TrackButton(action, track.id))
    remixes = remixes_for(available)
    if remixes:
        view.add_item(RemixMenu(track.id, remixes))
    tools = tools_for(track, available)
    if tools:
        view.add_item(ToolsMenu(track.id, tools))
    return view


class ComposeButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"tunesmith:lyrics:compose:(?P<job>\d+):(?P<n>\d)"
):
    """Under drafted lyrics: opens the compose form pre-filled with that draft."""

    def __init__(self, job_id: int, index: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Compose with draft {index + 1}",
                style=discord.ButtonStyle.primary,
                custom_id=custom_id("lyrics", "compose", f"{job_id}:{index}"),
            )
        )
        self.job_id = job_id
        self.index = index

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Tunesmith], item: discord.ui.Button[Any], match: re.Match[str]
    ) -> ComposeButton:
        return cls(int(match["job"]), int(match["n"]))

    async def callback(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        try:
            who = requester(interaction)
            drafts = await interaction.client.services.lyrics.drafts(who.guild_id, self.job_id)
            if not 0 <= self.index < len(drafts):
                raise OperationUnavailable("That draft is no longer available.")
            draft = drafts[self.index]
            # Cut to the form's own limits: Discord refuses a pre-filled value longer than its field.
            defaults = {"title": (draft.title or "")[:TITLE_MAX], "lyrics": draft.lyrics[:LYRICS_MAX]}
            await interaction.response.send_modal(compose_modal(defaults))
        except Exception as exc:
            await reply_error(interaction, exc)


class HistoryButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"tunesmith:history:(?P<direction>newer|older):(?P<author>\d+):(?P<page>\d+)",
):
    """Newer/older page of /music history (author 0 = the whole server)."""

    def __init__(self, direction: str, author_id: int, page: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="◀ Newer" if direction == "newer" else "Older ▶",
                style=discord.ButtonStyle.secondary,
                disabled=disabled,
                custom_id=custom_id("history", direction, f"{author_id}:{page}"),
            )
        )
        self.author_id = author_id
        self.page = page

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Tunesmith], item: discord.ui.Button[Any], match: re.Match[str]
    ) -> HistoryButton:
        return cls(match["direction"], int(match["author"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        try:
            embed, view = await history_page(interaction, self.author_id or None, self.page)
            await interaction.response.edit_message(embed=embed, view=view)
        except Exception as exc:
            await reply_error(interaction, exc)


async def history_page(
    interaction: discord.Interaction[Tunesmith], author_id: int | None, page: int
) -> tuple[discord.Embed, discord.ui.View]:
    who = requester(interaction)
    shown = await interaction.client.services.library.history(who, author_id, page)
    page, pages = shown.page, shown.pages
    embed = render.history_embed(shown.tracks, page, pages, author_id=author_id)
    view = discord.ui.View(timeout=None)
    view.add_item(HistoryButton("newer", author_id or 0, max(page - 1, 0), disabled=page == 0))
    view.add_item(HistoryButton("older", author_id or 0, min(page + 1, pages - 1), disabled=page >= pages - 1))
    return embed, view


DYNAMIC_ITEMS = (TrackButton, ComposeButton, HistoryButton, RemixMenu, ToolsMenu, ConfirmButton, StyleButton)
