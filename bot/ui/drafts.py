"""Drafting lyrics on Discord: the drafts, ephemerally, each with a button that opens the compose form with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.domain.errors import ConfirmationNeeded
from bot.ui import render
from bot.ui.buttons import ComposeButton
from bot.ui.confirm import ask_to_confirm
from bot.ui.flows import requester

if TYPE_CHECKING:
    from bot.client import Tunesmith


async def draft_lyrics(
    interaction: discord.Interaction[Tunesmith], idea: str, *, confirmed_cost: int | None = None
) -> None:
    """Draft lyrics from an idea (a job answered at once) and show the drafts to the member."""
    who = requester(interaction)
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        job, drafts = await interaction.client.services.lyrics.draft(who, idea, confirmed_cost=confirmed_cost)
    except ConfirmationNeeded as needed:  # only when an admin priced drafts above the threshold
        await ask_to_confirm(interaction, who, needed, action="lyrics", args={"idea": idea})
        return
    if not drafts:
        await interaction.followup.send("The provider returned no lyrics; your credit was used.", ephemeral=True)
        return
    embeds = [
        discord.Embed(
            title=render.clip(draft.title or f"Draft {i + 1}", 256),
            description=render.clip(draft.lyrics, 4000),
            colour=render.BRAND,
        )
        for i, draft in enumerate(drafts[:3])
    ]
    view = discord.ui.View(timeout=None)
    for i in range(len(embeds)):
        view.add_item(ComposeButton(job.id, i))
    await interaction.followup.send(render.drafts_text(idea, job.cost), embeds=embeds, view=view, ephemeral=True)
