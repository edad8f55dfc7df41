"""Autocomplete shared by several commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.domain.models import Operation

if TYPE_CHECKING:
    from bot.client import Tunesmith


async def model_choices(interaction: discord.Interaction[Tunesmith], current: str) -> list[app_commands.Choice[str]]:
    """The active provider's models that contain what was typed."""
    needle = current.casefold()
    models = interaction.client.services.catalog.models
    return [app_commands.Choice(name=m, value=m) for m in models if needle in m.casefold()][:25]


async def persona_choices(interaction: discord.Interaction[Tunesmith], current: str) -> list[app_commands.Choice[int]]:
    """The server's personas (for the active provider) whose name contains what was typed."""
    if interaction.guild_id is None:
        return []
    personas = await interaction.client.services.personas.find(interaction.guild_id, current)
    return [app_commands.Choice(name=p.name[:100], value=p.id) for p in personas][:25]


def _operation_choices(operations: list[Operation], current: str) -> list[app_commands.Choice[str]]:
    needle = current.strip().casefold()
    found = [op for op in operations if needle in op.value or needle in op.label.casefold()]
    return [app_commands.Choice(name=f"{op.label} ({op.value})"[:100], value=op.value) for op in found][:25]


async def cost_operation_choices(
    interaction: discord.Interaction[Tunesmith], current: str
) -> list[app_commands.Choice[str]]:
    """Operations whose price an admin may set: the active provider's (more than Discord's 25 fixed choices)."""
    offered = interaction.client.services.catalog.operations
    return _operation_choices([op for op in Operation if op in offered], current)


async def retired_operation_choices(
    interaction: discord.Interaction[Tunesmith], current: str
) -> list[app_commands.Choice[str]]:
    """The provider's operations, those it retired first."""
    catalog = interaction.client.services.catalog
    retired = [op for op in Operation if op in catalog.operations and op not in catalog.available()]
    rest = [op for op in Operation if op in catalog.available()]
    return _operation_choices(retired + rest, current)
