"""One place that turns errors into what a member sees: ephemeral, plain, with a reference for the unexpected."""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands

from bot.domain.errors import TunesmithError
from bot.ui.render import refusal

log = logging.getLogger(__name__)


def unwrap(error: BaseException) -> BaseException:
    """The error a command really raised, out of discord.py's wrappers."""
    while isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError) and error.__cause__:
        error = error.__cause__
    original = getattr(error, "original", None)
    return original if isinstance(original, BaseException) else error


def member_message(error: BaseException) -> str:
    """Text for the member; unexpected errors are logged with a short reference the member can quote."""
    error = unwrap(error)
    if isinstance(error, TunesmithError):
        return refusal(error)
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the Manage Server permission for this."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "Tunesmith works in servers, not in direct messages."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    reference = secrets.token_hex(3).upper()
    log.error("unexpected error (reference %s)", reference, exc_info=error)
    return f"Something went wrong on our side. If it keeps happening, give an admin this reference: **{reference}**."


async def reply_error(interaction: discord.Interaction, error: BaseException) -> None:
    text = member_message(error)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about an error", exc_info=True)
