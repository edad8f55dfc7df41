"""The library: a server's tracks, their lineage (what a track came from, what came of it), history, search,
deleting, and the remix thread each track gathers its remixes in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.audit import AuditRecorder
from bot.core.catalog import Catalog
from bot.core.settings import SettingsBook
from bot.domain.audit import TrackDeleted
from bot.domain.errors import NotAllowed, NotFound
from bot.domain.models import Operation, Track
from bot.domain.outcomes import TrackCard
from bot.domain.ports import TrackPage, TrackStore
from bot.domain.requester import EVERYTHING, Requester, Visible

HISTORY_PAGE = 10
LINEAGE_DEPTH = 25
# Autocomplete looks this many times further than it shows, so tracks of channels the member can't view do not
# leave it empty.
FIND_LOOKAHEAD = 8
# Channels whose visibility is asked at once (an archived thread costs the ui one REST lookup, once per process).
LOOKUPS_AT_ONCE = 16


@dataclass(frozen=True, slots=True)
class Lineage:
    ancestors: list[Track]  # root first, direct parent last
    track: Track
    children: list[Track]
    second_parent: Track | None = None  # a mashup's other track (its own lineage is shown from it)
    hidden: frozenset[int] = frozenset()  # tracks listed but not named: in channels the member can't view


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

    async def visible(self, who: Requester, track: Track) -> bool:
        """A member sees the tracks of the channels they can view (a thread counts as its parent), and their own."""
        return track.author_id == who.user_id or await who.can_view(track.channel_id)

    async def track(self, who: Requester, track_id: int) -> Track:
        """A track of this server (not deleted) that ``who`` may see, or NotFound (the same words either way, so
        a private channel's tracks cannot be probed)."""
        track = await self._store.track(track_id)
        if track is None or track.guild_id != who.guild_id or track.deleted or not await self.visible(who, track):
            raise NotFound(f"There is no track #{track_id} in this server.")
        return track

    async def seen(self, who: Requester, channel_ids: Iterable[int]) -> Visible:
        """What ``who`` may see of the tracks living in these channels: each distinct channel asked once, the
        lookups run together (at most ``LOOKUPS_AT_ONCE`` at a time), plus their own tracks wherever they live."""
        if who.sees_everything():
            return EVERYTHING
        distinct = sorted(set(channel_ids))
        gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)

        async def one(channel_id: int) -> bool:
            async with gate:
                return await who.can_view(channel_id)

        answers = await asyncio.gather(*(one(c) for c in distinct))
        return Visible(
            channel_ids=frozenset(c for c, ok in zip(distinct, answers, strict=True) if ok), author_id=who.user_id
        )

    async def find(self, who: Requester, text: str, limit: int = 25) -> list[Track]:
        """For autocomplete: tracks ``who`` may see matching ``text`` (or the latest), newest first."""
        found = await self._store.find_tracks(who.guild_id, text.strip(), limit=limit * FIND_LOOKAHEAD)
        seen = await self._seen_of(who, found)
        return [t for t in found if seen.allows(t.channel_id, t.author_id)][:limit]

    async def history(self, who: Requester, author_id: int | None, page: int) -> TrackPage:
        """One page of recent tracks (newest first), the page shown and the number of pages, of the tracks ``who``
        may see: the store filters by the channels they can view, so every page is full and the count exact."""
        if who.sees_everything():
            seen = EVERYTHING
        else:
            mine = author_id == who.user_id  # their own tracks: all visible, nothing to ask
            seen = (
                Visible(author_id=who.user_id)
                if mine
                else await self.seen(who, await self._store.track_channels(who.guild_id, author_id))
            )
        return await self._store.track_page(who.guild_id, author_id, page, HISTORY_PAGE, visible=seen)

    async def lineage(self, who: Requester, track_id: int) -> Lineage:
        track = await self.track(who, track_id)
        ancestors = list(reversed(await self._store.ancestors(track.id, limit=LINEAGE_DEPTH)))
        children = await self._store.children(track.id)
        second = await self._parent(track.second_parent_track_id)
        listed = [*ancestors, *children, *([second] if second is not None else [])]
        hidden = await self._hidden(who, listed)
        return Lineage(ancestors=ancestors, track=track, children=children, second_parent=second, hidden=hidden)

    async def _seen_of(self, who: Requester, tracks: list[Track]) -> Visible:
        """What ``who`` may see of these tracks: their own are not asked about."""
        return await self.seen(who, (t.channel_id for t in tracks if t.author_id != who.user_id))

    async def _hidden(self, who: Requester, tracks: list[Track]) -> frozenset[int]:
        seen = await self._seen_of(who, tracks)
        return frozenset(t.id for t in tracks if not t.deleted and not seen.allows(t.channel_id, t.author_id))

    async def _parent(self, track_id: int | None) -> Track | None:
        return await self._store.track(track_id) if track_id is not None else None

    async def show(self, who: Requester, track_id: int) -> Showing:
        """A track to post again, with what its lineage line and buttons need."""
        track = await self.track(who, track_id)
        parent = await self._parent(track.parent_track_id)
        if track.operation is Operation.CONCAT and parent is not None and parent.operation is Operation.EXTEND:
            # A full song joined from an extension's new part: credited, as when it was posted, to what was extended.
            parent = await self._parent(parent.parent_track_id) or parent
        second = await self._parent(track.second_parent_track_id)
        hidden = await self._hidden(who, [p for p in (parent, second) if p is not None])
        card = TrackCard(track=track, parent=parent, second_parent=second, hidden=hidden)
        return Showing(card, self._catalog.available())

    async def delete(self, who: Requester, track_id: int) -> Track:
        """The author, or someone who may moderate the channel the track lives in, deletes it."""
        track = await self.track(who, track_id)
        if track.author_id != who.user_id and not await who.can_moderate(track.channel_id):
            raise NotAllowed("Only the track's author or a moderator (Manage Messages) can delete it.")
        await self._store.delete_track(track_id)
        await self._audit.record(who.guild_id, TrackDeleted(who.user_id, track_id, track.display_title))
        return track

    async def remix_threads_enabled(self, guild_id: int) -> bool:
        return (await self._settings.get(guild_id)).remix_threads

    async def set_thread(self, track_id: int, thread_id: int) -> None:
        """The remix thread opened on a track's post: later remixes go there."""
        await self._store.set_thread(track_id, thread_id)
