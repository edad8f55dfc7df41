"""What a member finds of a server's tracks when some live in channels they can't view (core on fakes, fake clock).

Autocomplete must answer within Discord's three seconds. After a restart, every archived thread costs the ui one
REST lookup (up to two seconds) to learn its parent channel: the distinct channels of the candidates are asked
once each, together, not one track at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.domain.models import Track
from bot.domain.requester import Requester
from tests.core.rig import rig
from tests.fakes import FakeClock

LOOKUP_S = 2.0  # the ui's timeout for one channel lookup
AUTOCOMPLETE_S = 3.0  # Discord drops an autocomplete answer later than this


class ArchivedThreads:
    """A member's permissions where every channel must first be looked up (archived threads after a restart)."""

    def __init__(self, clock: FakeClock, viewable: set[int]) -> None:
        self.clock = clock
        self.viewable = viewable
        self.lookups: list[int] = []

    async def can_view(self, channel_id: int) -> bool:
        self.lookups.append(channel_id)
        await self.clock.sleep(LOOKUP_S)
        return channel_id in self.viewable

    async def can_moderate(self, channel_id: int) -> bool:
        return False

    def sees_everything(self) -> bool:
        return False


def track(track_id: int, channel_id: int, author_id: int) -> Track:
    return Track(
        id=track_id,
        job_id=None,
        guild_id=1,
        channel_id=channel_id,
        author_id=author_id,
        provider="fake",
        clip_id=f"c{track_id}",
        title=f"Song {track_id}",
        created_at=datetime(2027, 1, 1, tzinfo=UTC),
    )


async def test_autocomplete_answers_in_time_when_the_candidates_live_in_many_archived_threads() -> None:
    async with rig() as r:
        # 24 tracks of member 7 in 12 archived threads (two each); bo may view the even threads. One of bo's own
        # tracks lives in a thread he can no longer view: his all the same.
        for n in range(24):
            r.store.tracks[n + 1] = track(n + 1, 5000 + n // 2, 7)
        r.store.tracks[25] = track(25, 6000, 100)
        access = ArchivedThreads(r.clock, viewable={5000 + t for t in range(0, 12, 2)})
        bo = Requester(guild_id=1, channel_id=10, user_id=100, access=access)

        asking = asyncio.create_task(r.core.library.find(bo, ""))
        await r.clock.advance(AUTOCOMPLETE_S - 0.5)
        assert asking.done(), "autocomplete still looking channels up after Discord's deadline"
        shown = [t.id for t in asking.result()]
        assert shown == [25, *(n + 1 for n in reversed(range(24)) if (n // 2) % 2 == 0)]
        assert sorted(access.lookups) == [5000 + t for t in range(12)]  # each thread once; bo's own: not asked


async def test_a_lineage_looks_its_tracks_channels_up_together() -> None:
    """The tree of a track with twelve remixes, each in its own archived thread: the track itself (one lookup),
    then its remixes' threads together (one more), not twelve in a row."""
    async with rig() as r:
        r.store.tracks[1] = track(1, 5000, 7)
        for n in range(2, 14):
            r.store.tracks[n] = track(n, 5000 + n, 7).model_copy(update={"parent_track_id": 1})
        access = ArchivedThreads(r.clock, viewable={5000, *range(5002, 5014, 2)})
        bo = Requester(guild_id=1, channel_id=10, user_id=100, access=access)

        asking = asyncio.create_task(r.core.library.lineage(bo, 1))
        await r.clock.advance(2 * LOOKUP_S + 0.5)
        assert asking.done()
        lineage = asking.result()
        assert [t.id for t in lineage.children] == list(range(2, 14))
        assert lineage.hidden == frozenset(range(3, 14, 2))
