"""Asking before an expensive job: "This costs N credits (you have M left) · Confirm / Cancel", ephemerally.

What the member asked for is held by core (bot/core/confirmations.py) under a random token; the buttons carry
that token, so they work as long as it is held (ten minutes, and not across a restart: then they say it expired).
Confirm starts the same request again with the quoted cost as a ceiling; Cancel drops it. Nothing is reserved
before Confirm.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.errors import ConfirmationNeeded
from bot.domain.models import Operation
from bot.domain.requester import Requester
from bot.ui import render
from bot.ui.errors import reply_error

if TYPE_CHECKING:
    from bot.client import Tunesmith

log = logging.getLogger(__name__)


async def ask_to_confirm(
    interaction: discord.Interaction[Tunesmith],
    who: Requester,
    needed: ConfirmationNeeded,
    *,
    action: str,
    args: Mapping[str, Any],
) -> None:
    """Hold the request and ask its member, ephemerally, to confirm what it costs."""
    pending = interaction.client.services.confirmations.hold(
        who, operation=needed.operation, cost=needed.cost, remaining=needed.remaining, action=action, args=args
    )
    view = discord.ui.View(timeout=None)
    view.add_item(ConfirmButton("yes", pending.token))
    view.add_item(ConfirmButton("no", pending.token))
    text = render.confirmation_text(needed)
    if interaction.response.is_done():
        await interaction.followup.send(text, view=view, ephemeral=True)
    else:
        await interaction.response.send_message(text, view=view, ephemeral=True)


class ConfirmButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"tunesmith:confirm:(?P<choice>yes|no):(?P<token>[0-9a-f]{16})",
):
    """Confirm or Cancel under a price question."""

    def __init__(self, choice: str, token: str) -> None:
        yes = choice == "yes"
        super().__init__(
            discord.ui.Button(
                label="Confirm" if yes else "Cancel",
                style=discord.ButtonStyle.success if yes else discord.ButtonStyle.secondary,
                custom_id=f"tunesmith:confirm:{choice}:{token}",
            )
        )
        self.choice = choice
        self.token = token

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Tunesmith], item: discord.ui.Button[Any], match: re.Match[str]
    ) -> ConfirmButton:
        return cls(match["choice"], match["token"])

    async def callback(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        try:
            await self._run(interaction)
        except Exception as exc:  # buttons have no tree error handler: route to the same replies
            await reply_error(interaction, exc)

    async def _run(self, interaction: discord.Interaction[Tunesmith]) -> None:
        # Imported here: the flows ask for confirmation through this module, and Confirm runs them again.
        from bot.ui import drafts, flows, tool_posts

        services = interaction.client.services
        who = flows.requester(interaction)
        if self.choice == "no":
            services.confirmations.cancel(self.token, who)
            await interaction.response.edit_message(content="Cancelled. Nothing was charged.", view=None)
            return
        pending = services.confirmations.take(self.token, who)
        args = dict(pending.args)
        if pending.action == "job":
            await flows.start_job(
                interaction,
                Operation(args.pop("operation")),
                args.pop("values"),
                confirmed_cost=pending.cost,
                **args,
            )
        elif pending.action == "tool":
            await tool_posts.run_tool(interaction, confirmed_cost=pending.cost, **args)
        elif pending.action == "persona":
            await flows.save_persona(interaction, confirmed_cost=pending.cost, **args)
        elif pending.action == "lyrics":
            await drafts.draft_lyrics(interaction, confirmed_cost=pending.cost, **args)
        else:  # pragma: no cover - every action held is one of the above
            log.error("unknown confirmation action %r", pending.action)
