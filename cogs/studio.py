"""/studio: who may generate where, what may be asked for, the provider, and how the studio is doing (Manage
Server)."""

from __future__ import annotations

from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import Tunesmith
from bot.domain.models import Operation
from bot.ui import render
from bot.ui.choices import model_choices
from bot.ui.flows import requester

Interaction = discord.Interaction[Tunesmith]
OperationName = Literal[
    "create", "extend", "cover", "replace", "variation", "swap_vocals", "swap_sound", "upload", "download", "lyrics"
]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Studio(commands.GroupCog, group_name="studio", group_description="Run the server's music studio"):
    """Every command here is also checked by the bot (Manage Server), not only by Discord's defaults."""

    block = app_commands.Group(name="block", description="Words and patterns refused in requests")

    def __init__(self, bot: Tunesmith) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="settings", description="Show or change the studio's settings")
    @app_commands.describe(
        allow_channel="Also allow music in this channel (none set = everywhere)",
        disallow_channel="Stop allowing music in this channel",
        all_channels="Allow music everywhere again",
        required_role="Members need this role to make music",
        no_required_role="Anyone may make music",
        remix_threads="Post remixes in a thread under the original",
        audit_channel="Where every job and admin change is logged",
        audit_off="Stop the audit log",
        default_model="The model used when a member doesn't pick one",
        cooldown="Seconds a member waits between two jobs (0 = none)",
        builtin_blocklist="Use Tunesmith's built-in block list",
    )
    @app_commands.autocomplete(default_model=model_choices)
    async def settings(
        self,
        interaction: Interaction,
        allow_channel: discord.TextChannel | None = None,
        disallow_channel: discord.TextChannel | None = None,
        all_channels: bool = False,
        required_role: discord.Role | None = None,
        no_required_role: bool = False,
        remix_threads: bool | None = None,
        audit_channel: discord.TextChannel | None = None,
        audit_off: bool = False,
        default_model: str | None = None,
        cooldown: app_commands.Range[int, 0, 86_400] | None = None,
        builtin_blocklist: bool | None = None,
    ) -> None:
        """Show the studio's settings, changing any you pass."""
        studio = interaction.client.services.studio
        who = requester(interaction)
        current = await studio.show_settings(who)
        changes: dict[str, Any] = {}
        channels = list(current.allowed_channel_ids)
        if all_channels:
            channels = []
        if allow_channel is not None and allow_channel.id not in channels:
            channels.append(allow_channel.id)
        if disallow_channel is not None and disallow_channel.id in channels:
            channels.remove(disallow_channel.id)
        if channels != current.allowed_channel_ids:
            changes["allowed_channel_ids"] = channels
        if required_role is not None:
            changes["required_role_id"] = required_role.id
        elif no_required_role:
            changes["required_role_id"] = None
        if remix_threads is not None:
            changes["remix_threads"] = remix_threads
        if audit_channel is not None:
            changes["audit_channel_id"] = audit_channel.id
        elif audit_off:
            changes["audit_channel_id"] = None
        if default_model is not None:
            changes["default_model"] = default_model
        if cooldown is not None:
            changes["cooldown_s"] = float(cooldown)
        if builtin_blocklist is not None:
            changes["use_default_blocklist"] = builtin_blocklist
        if changes:
            current = await studio.update_settings(who, **changes)
        await interaction.response.send_message(embed=render.settings_embed(current), ephemeral=True)

    @block.command(name="add", description="Refuse a word, phrase or regular expression")
    @app_commands.describe(pattern="The word or phrase (or a regular expression)", regex="Treat it as a regex")
    async def block_add(
        self, interaction: Interaction, pattern: app_commands.Range[str, 1, 200], regex: bool = False
    ) -> None:
        """Refuse a word, phrase or regular expression in prompts, lyrics, titles and file names."""
        rule = await interaction.client.services.studio.block_add(requester(interaction), pattern, is_regex=regex)
        await interaction.response.send_message(f"Blocked {rule.label}.", ephemeral=True)

    @block.command(name="remove", description="Stop refusing a word or pattern")
    @app_commands.describe(pattern="Exactly as listed by /studio block list")
    async def block_remove(self, interaction: Interaction, pattern: app_commands.Range[str, 1, 200]) -> None:
        """Stop refusing a word or pattern."""
        removed = await interaction.client.services.studio.block_remove(requester(interaction), pattern)
        await interaction.response.send_message(f"Removed `{removed}` from the block list.", ephemeral=True)

    @block.command(name="list", description="The words and patterns this server refuses")
    async def block_list(self, interaction: Interaction) -> None:
        """The words and patterns this server refuses."""
        rules, builtin = await interaction.client.services.studio.block_list(requester(interaction))
        lines = [f"`{r.pattern}`{' (regex)' if r.is_regex else ''}" for r in rules] or ["(no rules of your own)"]
        lines.append(f"Built-in list: {'on' if builtin else 'off'}")
        embed = discord.Embed(title="Block list", description=render.clip("\n".join(lines), 4096), colour=render.BRAND)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="ban", description="Stop a member from making music here")
    @app_commands.describe(member="The member", reason="Shown to them when they try")
    async def ban(
        self, interaction: Interaction, member: discord.Member, reason: app_commands.Range[str, 1, 200] | None = None
    ) -> None:
        """Stop a member from making music in this server."""
        await interaction.client.services.studio.ban(requester(interaction), member.id, reason)
        await interaction.response.send_message(f"{member.mention} can no longer make music here.", ephemeral=True)

    @app_commands.command(name="unban", description="Let a banned member make music again")
    @app_commands.describe(member="The member")
    async def unban(self, interaction: Interaction, member: discord.Member) -> None:
        """Let a banned member make music again."""
        await interaction.client.services.studio.unban(requester(interaction), member.id)
        await interaction.response.send_message(f"{member.mention} can make music again.", ephemeral=True)

    @app_commands.command(name="status", description="Provider health, queue, jobs in flight and provider credits")
    async def status(self, interaction: Interaction) -> None:
        """Provider health, queue depth, jobs in flight and the provider's credit balance."""
        who = requester(interaction)
        studio = interaction.client.services.studio
        studio.require_admin(who)  # refused before the deferral, as a plain ephemeral answer
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await studio.status(who)
        await interaction.followup.send(embed=render.status_embed(status), ephemeral=True)

    @app_commands.command(name="provider", description="The music provider, its operations, and retired ones")
    @app_commands.describe(reinstate="Switch an operation the provider retired back on")
    async def provider(self, interaction: Interaction, reinstate: OperationName | None = None) -> None:
        """The music provider and its operations; switch one it retired back on."""
        studio = interaction.client.services.studio
        who = requester(interaction)
        if reinstate is not None:
            operation = Operation(reinstate)
            if await studio.reinstate(who, operation):
                text = f"{operation.label} is switched back on."
            else:
                text = f"{operation.label} was not retired; nothing changed."
            embed = render.provider_embed(studio.provider(who))
            await interaction.response.send_message(text, embed=embed, ephemeral=True)
            return
        await interaction.response.send_message(embed=render.provider_embed(studio.provider(who)), ephemeral=True)


async def setup(bot: Tunesmith) -> None:
    await bot.add_cog(Studio(bot))
