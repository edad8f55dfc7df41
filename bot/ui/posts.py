"""Track posts: the embed and the files of a track, as posted by the notifier and re-posted by /music show."""

from __future__ import annotations

import asyncio
import io

import discord

from bot.domain.outcomes import TrackCard
from bot.domain.ports import FileFetcher
from bot.ui import render

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's default for servers without boosts
IMAGE_LIMIT = 8 * 1024 * 1024


class TrackPosts:
    """Builds track posts, fetching the audio and the cover through the FileFetcher port."""

    def __init__(self, client: discord.Client, files: FileFetcher) -> None:
        self._client = client
        self._files = files

    def upload_limit(self, guild_id: int) -> int:
        guild = self._client.get_guild(guild_id)
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT

    async def fetch(self, url: str | None, limit: int) -> bytes | None:
        if not url:
            return None
        return await self._files.fetch(url, limit=limit)

    async def track_post(self, card: TrackCard) -> tuple[discord.Embed, list[discord.File]]:
        """The embed and files of a track post: audio attached when it fits the server's limit, else linked."""
        track = card.track
        limit = self.upload_limit(track.guild_id)
        audio, image = await asyncio.gather(
            self.fetch(track.audio_url, limit), self.fetch(track.image_url, min(IMAGE_LIMIT, limit))
        )
        files: list[discord.File] = []
        if audio is not None and track.audio_url:
            files.append(discord.File(io.BytesIO(audio), filename=render.audio_filename(track, track.audio_url)))
        # The limit is per message, so the cover only rides along when both fit.
        image_attached = image is not None and len(image) + len(audio or b"") <= limit
        if image is not None and image_attached:
            files.append(discord.File(io.BytesIO(image), filename=render.cover_filename(track)))
        link = track.audio_url if audio is None else None
        embed = render.track_embed(
            track,
            card.parent,
            image_attached=image_attached,
            audio_link=link,
            second_parent=card.second_parent,
            hidden=card.hidden,
        )
        return embed, files
