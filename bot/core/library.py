"""The library: a server's tracks, their lineage (what a track came from, what came of it), history, search,
deleting, and the remix thread each track gathers its remixes in."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.audit import AuditRecorder
from bot.core.catalog import Catalog
from bot.core.settings import SettingsBook
from bot.domain.audit import TrackDeleted
from bot.domain.errors import NotAllowed, NotFound
from bot.domain.models import Operation, Track
from bot.domain.outcomes import TrackCard
from bot.domain.ports import TrackPage, TrackStore
from bot.domain.requester import Requester

HISTORY_PAGE = 10
LINEAGE_DEPTH = 25


@dataclass(frozen=True, slots=True)
class Lineage:
    ancestors: list[Track]  # root first, direct parent last
    track: Track
    children: list[Track]


@dataclass(frozen=True, slots=True)
class Showing:
    """A track to post again: its card and the buttons it may offer now."""

    card: TrackCard
    actions: frozenset[Operation]


class Library:
    def __init__(self, *, store: TrackStore, settings: SettingsBook, catalog: Catalog, audit: AuditRecorder) -> None:
        self._store = store
        self._settings = settings
        self._catalog = catalog
        self._audit = audit

    async def track(self, guild_id: int, track_id: int) -> Track:
        """A track of this server (not deleted), or NotFound."""
        track = await self._store.track(track_id)
        if track is None or track.guild_id != guild_id or track.deleted:
            raise NotFound(f"There is no track #{track_id} in this server.")
        return track

    async def find(self, guild_id: int, text: str, limit: int = 25) -> list[Track]:
        """For autocomplete: tracks matching ``text`` (or the latest), newest first."""
        return await self._store.find_tracks(guild_id, text.strip(), limit=limit)

    async def history(self, guild_id: int, author_id: int | None, page: int) -> TrackPage:
        """One page of recent tracks (newest first), the page shown and the number of pages."""
        return await self._store.track_page(guild_id, author_id, page, HISTORY_PAGE)

    async def lineage(self, guild_id: int, track_id: int) -> Lineage:
        track = await self.track(guild_id, track_id)
        ancestors = await self._store.ancestors(track.id, limit=LINEAGE_DEPTH)
        children = await self._store.children(track.id)
        return Lineage(ancestors=list(reversed(ancestors)), track=track, children=children)

    async def show(self, guild_id: int, track_id: int) -> Showing:
        """A track to post again, with what its lineage line and buttons need."""
        track = await self.track(guild_id, track_id)
        parent = await self._store.track(track.parent_track_id) if track.parent_track_id is not None else None
        return Showing(TrackCard(track=track, parent=parent), self._catalog.available())

    async def delete(self, who: Requester, track_id: int) -> Track:
        """The author, or someone who may moderate the channel the track lives in, deletes it."""
        track = await self.track(who.guild_id, track_id)
        if track.author_id != who.user_id and not who.can_moderate(track.channel_id):
            raise NotAllowed("Only the track's author or a moderator (Manage Messages) can delete it.")
        await self._store.delete_track(track_id)
        await self._audit.record(who.guild_id, TrackDeleted(who.user_id, track_id, track.display_title))
        return track

    async def remix_threads_enabled(self, guild_id: int) -> bool:
        return (await self._settings.get(guild_id)).remix_threads

    async def set_thread(self, track_id: int, thread_id: int) -> None:
        """The remix thread opened on a track's post: later remixes go there."""
        await self._store.set_thread(track_id, thread_id)
