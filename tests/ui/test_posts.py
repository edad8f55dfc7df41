"""A track post: the audio attached when it fits the server's upload limit (else linked), the cover attached only
when both fit in one message, every file fetched through the FileFetcher port."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.domain.models import Operation, Track
from bot.domain.outcomes import TrackCard
from bot.ui.posts import DEFAULT_UPLOAD_LIMIT, TrackPosts
from tests.fakes import FakeFiles

AUDIO = "https://files.test/1.wav"
COVER = "https://files.test/1.png"


class Guild:
    def __init__(self, limit: int) -> None:
        self.filesize_limit = limit


class Client:
    """Just what TrackPosts asks a discord.Client: the guild, for its upload limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit

    def get_guild(self, guild_id: int) -> Any:
        return Guild(self.limit) if self.limit is not None else None


def card(parent: Track | None = None) -> TrackCard:
    track = Track(
        id=1,
        job_id=1,
        guild_id=5,
        channel_id=6,
        author_id=7,
        provider="fake",
        clip_id="c",
        title="Night",
        audio_url=AUDIO,
        image_url=COVER,
        operation=Operation.COVER if parent else Operation.CREATE,
        parent_track_id=parent.id if parent else None,
        created_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    return TrackCard(track=track, parent=parent)


async def test_audio_and_cover_are_attached_when_they_fit() -> None:
    files = FakeFiles({AUDIO: b"RIFF" + bytes(1000), COVER: b"\x89PNG" + bytes(100)})
    embed, attached = await TrackPosts(Client(None), files).track_post(card())  # type: ignore[arg-type]
    assert [f.filename for f in attached] == ["night-1.wav", "cover-1.png"]
    assert embed.image.url == "attachment://cover-1.png" and "Download the audio" not in (embed.description or "")
    assert {limit for _, limit in files.asked} <= {DEFAULT_UPLOAD_LIMIT, 8 * 1024 * 1024}


async def test_audio_over_the_limit_is_linked_and_the_cover_rides_alone() -> None:
    files = FakeFiles({AUDIO: bytes(5000), COVER: bytes(100)})
    parent = card().track.model_copy(update={"id": 9, "title": "Root"})
    embed, attached = await TrackPosts(Client(1000), files).track_post(card(parent))  # type: ignore[arg-type]
    assert [f.filename for f in attached] == ["cover-1.png"]
    description = embed.description or ""
    assert description.startswith("Cover of *Root* by <@7>")
    assert f"🔗 [Download the audio]({AUDIO}) (too large to attach here)" in description


async def test_unreachable_files_leave_a_link_and_no_attachment() -> None:
    embed, attached = await TrackPosts(Client(None), FakeFiles()).track_post(card())  # type: ignore[arg-type]
    assert attached == [] and AUDIO in (embed.description or "")
