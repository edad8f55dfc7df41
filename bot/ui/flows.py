"""The steps every generation takes on Discord, shared by slash commands, buttons and modals.

Admit first (a refusal is an ephemeral reply and costs nothing), then post the public status message, then tell
core where that message is: from then on it is edited by channel and message id, never by the interaction
token, which dies after 15 minutes and with a restart. A job costing more than the server's threshold first asks
its member, ephemerally, to confirm (bot/ui/confirm.py); nothing is reserved until they do.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.errors import ConfirmationNeeded, NotAllowed
from bot.domain.models import Operation, Track
from bot.domain.outcomes import Failure, FailureKind, Progress
from bot.domain.requester import ChannelAccess, Requester
from bot.ui import render
from bot.ui.access import HereOnly, MemberAccess
from bot.ui.confirm import ask_to_confirm

if TYPE_CHECKING:
    from bot.client import Tunesmith

log = logging.getLogger(__name__)


def requester(interaction: discord.Interaction[Tunesmith]) -> Requester:
    """The member's Discord facts, as the core sees them."""
    if interaction.guild_id is None or interaction.channel_id is None:
        raise NotAllowed("Tunesmith works in servers, not in direct messages.")
    user = interaction.user
    roles = frozenset(r.id for r in getattr(user, "roles", ()))
    channel = interaction.channel
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
    access: ChannelAccess
    if isinstance(user, discord.Member) and interaction.guild is not None:
        # Server-wide permissions (roles), not the channel's: power over what lives elsewhere comes from there.
        wide = user.guild_permissions
        access = MemberAccess(user, interaction.client.channel_homes)
        is_admin, is_moderator = wide.manage_guild or wide.administrator, wide.manage_messages or wide.administrator
    else:
        # Only the channel's permissions are known: Manage Server and Administrator are server-wide anyway, but
        # Manage Messages may be this channel's alone.
        here = interaction.permissions
        access = HereOnly(interaction.channel_id, parent_id)
        is_admin, is_moderator = here.manage_guild or here.administrator, here.administrator
    return Requester(
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        user_id=user.id,
        role_ids=roles,
        parent_channel_id=parent_id,
        is_admin=is_admin,
        is_moderator=is_moderator,
        access=access,
    )


async def remix_channel(bot: Tunesmith, parent: Track, fallback: int) -> int:
    """Where a remix of ``parent`` is posted: its remix thread (opened on first use), when threads are on."""
    library = bot.services.library
    if not await library.remix_threads_enabled(parent.guild_id):
        return fallback
    if parent.thread_id:
        return parent.thread_id
    parent_channel = bot.get_channel(parent.channel_id)
    if isinstance(parent_channel, discord.Thread):
        return parent.channel_id  # no threads inside threads: remixes of remixes stay in the same thread
    if parent.message_id is None:
        return fallback
    try:
        # The guild id is needed: discord.py refuses to open a thread on a message without guild info.
        channel = bot.get_partial_messageable(parent.channel_id, guild_id=parent.guild_id)
        message = channel.get_partial_message(parent.message_id)
        thread = await message.create_thread(name=render.clip(f"Remixes of {parent.display_title}", 100))
    except discord.HTTPException:
        log.warning("could not open a remix thread on track %d; posting in the channel", parent.id, exc_info=True)
        return fallback
    await library.set_thread(parent.id, thread.id)
    return thread.id


async def start_job(
    interaction: discord.Interaction[Tunesmith],
    operation: Operation,
    values: Mapping[str, Any],
    *,
    track_id: int | None = None,
    second_track_id: int | None = None,
    persona: int | None = None,
    filename: str | None = None,
    confirmed_cost: int | None = None,
) -> None:
    """Admit a job and post its status message; refusals raise and are shown ephemerally by the error handler."""
    bot = interaction.client
    services = bot.services
    who = requester(interaction)
    try:
        admitted = await services.admission.admit(
            who,
            operation,
            values,
            track_id=track_id,
            second_track_id=second_track_id,
            persona=persona,
            filename=filename,
            confirmed_cost=confirmed_cost,
        )
    except ConfirmationNeeded as needed:
        args = {
            "operation": operation.value,
            "values": dict(values),
            "track_id": track_id,
            "second_track_id": second_track_id,
            "persona": persona,
            "filename": filename,
        }
        await ask_to_confirm(interaction, who, needed, action="job", args=args)
        return
    job, parent = admitted.job, admitted.parent
    message: discord.Message | None = None
    text = render.status_text(job, Progress(state=job.state, position=admitted.position))
    try:
        if parent is not None and (operation.derived or operation.is_tool):
            # Opening a remix thread and posting there can take longer than Discord's 3 s: answer first.
            await interaction.response.defer(ephemeral=True, thinking=True)
            target = await remix_channel(bot, parent, who.channel_id)
            message = await bot.get_partial_messageable(target, guild_id=who.guild_id).send(text)
            where = "here" if target == who.channel_id else f"in {render.channel(target)}"
            await interaction.edit_original_response(
                content=f"Started **{operation.label.lower()}** of *{render.clip(parent.display_title, 80)}* "
                f"for {job.cost} credits. Follow it {where}."
            )
        else:
            target = who.channel_id
            await interaction.response.send_message(text)
            message = await interaction.original_response()
    except Exception:
        # The job must not run (or cost) without a status message the member can follow: cancel it, which
        # refunds the reservation, and say so on the message if one was posted; the error handler explains.
        with contextlib.suppress(Exception):
            cancelled = await services.jobs.abandon(job) or job
            if message is not None:
                failure = Failure(FailureKind.NOT_STARTED)
                await message.edit(content=render.failure_text(cancelled, failure, cancelled.cost))
        raise
    await services.jobs.attach_status_message(job.id, message.id, channel_id=target)


async def save_persona(
    interaction: discord.Interaction[Tunesmith],
    track_id: int,
    *,
    name: str,
    description: str | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    confirmed_cost: int | None = None,
) -> None:
    """Save a track's voice as a persona of the server (answered at once, charged like any job)."""
    services = interaction.client.services
    who = requester(interaction)
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        persona, cost = await services.personas.save(
            who,
            track_id,
            name,
            description=description,
            start_s=start_s,
            end_s=end_s,
            confirmed_cost=confirmed_cost,
        )
    except ConfirmationNeeded as needed:
        args = {"track_id": track_id, "name": name, "description": description, "start_s": start_s, "end_s": end_s}
        await ask_to_confirm(interaction, who, needed, action="persona", args=args)
        return
    await interaction.edit_original_response(
        content=f"🎙️ Saved the persona **{render.clip(persona.name, 80)}** ({render.credits_phrase(cost)}). Pick it "
        "with `/music create persona:` to have it sing a new song."
    )
