"""Autocomplete shared by several commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.client import Tunesmith


async def model_choices(interaction: discord.Interaction[Tunesmith], current: str) -> list[app_commands.Choice[str]]:
    """The active provider's models that contain what was typed."""
    needle = current.casefold()
    models = interaction.client.services.catalog.models
    return [app_commands.Choice(name=m, value=m) for m in models if needle in m.casefold()][:25]
