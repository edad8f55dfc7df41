"""Running the real Tunesmith (``bot.app.run``) against a playground, as ``make run`` does, for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import wave
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp

from bot.app import run
from bot.config import Settings
from bot.playground import Playground
from bot.playground.launch import bot_settings
from tests.playground.driver import JSON, Member

T = TypeVar("T")

STARTUP_TIMEOUT = 20.0
RENDER_TIMEOUT = 20.0  # the sandbox renders in 0.3 s; the rest is polling, downloading and uploading
STOP_TIMEOUT = 15.0


def settings_for(playground: Playground, tmp_path: Path) -> Settings:
    """What ``make run`` gives the bot in playground mode, with a quick sandbox and a private database."""
    base = Settings(
        _env_file=None,  # type: ignore[call-arg]  # only what is given here
        database_path=tmp_path / "tunesmith.sqlite3",
        provider="sandbox",
        sandbox_render_seconds=0.3,
        poll_interval=0.05,
        web_port=0,
    )
    return bot_settings(base, playground)


@dataclass
class Running:
    task: asyncio.Task[None]

    async def watch(self, waiting: Awaitable[T]) -> T:
        """Await ``waiting``, but raise the bot's own error at once if ``run()`` ends meanwhile."""
        waiter = asyncio.ensure_future(waiting)
        try:
            await asyncio.wait({waiter, self.task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await waiter
        if waiter.done() and not waiter.cancelled():
            return waiter.result()
        self.task.result()
        raise AssertionError("Tunesmith's run() returned while the test was waiting")


@contextlib.asynccontextmanager
async def tunesmith_running(settings: Settings, playground: Playground) -> AsyncIterator[Running]:
    """``run(settings)`` in a task until its gateway session is open (commands are synced before); then stopped.

    Cancelling the task is how Ctrl-C stops it too: ``run()`` closes the bot, the engine and the sandbox.
    """
    task = asyncio.create_task(run(settings), name="tunesmith-run")
    running = Running(task)
    try:
        await running.watch(asyncio.wait_for(playground.wait_for_bot(), STARTUP_TIMEOUT))
        yield running
    finally:
        if not task.done():
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
            assert done, f"Tunesmith did not stop within {STOP_TIMEOUT}s of being cancelled"
    if not task.cancelled() and task.exception() is not None:
        raise AssertionError("Tunesmith failed") from task.exception()


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, (url, response.status)
        return await response.read()


@dataclass
class TrackPost:
    message: JSON
    track_id: int
    audio: bytes
    cover_url: str


async def assert_track_post(message: JSON, *, title: str) -> TrackPost:
    """What a member sees: the embed with the title and cover, a playable WAV attached, the track's buttons."""
    assert message["content"] == ""  # the status text is gone
    (embed,) = message["embeds"]
    assert embed["title"] == title
    footer = re.fullmatch(r"Track #(\d+) · sandbox", embed["footer"]["text"])
    assert footer is not None, embed["footer"]
    track_id = int(footer[1])
    files = {a["filename"]: a for a in message["attachments"]}
    (audio_name,) = [name for name in files if name.endswith(".wav")]
    assert files[audio_name]["content_type"] == "audio/wav"
    audio = await fetch(files[audio_name]["url"])
    assert len(audio) == files[audio_name]["size"] and audio[:4] == b"RIFF"
    with wave.open(io.BytesIO(audio)) as wav:  # a playable file, not just a header
        assert wav.getnframes() > 0 and wav.getframerate() > 0
    cover = files[f"cover-{track_id}.png"]
    assert embed["image"]["url"] == cover["url"]  # attachment://cover-N.png, resolved as Discord does
    assert (await fetch(cover["url"])).startswith(b"\x89PNG\r\n\x1a\n")
    labels = {c.get("label"): c.get("custom_id") for row in message["components"] for c in row["components"]}
    assert labels["Extend"] == f"tunesmith:track:extend:{track_id}"
    return TrackPost(message, track_id, audio, cover["url"])


async def create_track(member: Member, running: Running, channel_id: str, *, title: str) -> TrackPost:
    """``/music create prompt:lofi beats title:<title>``: the public status reply turns into the track post."""
    mark = member.gateway.mark()
    nonce = await member.command("music create", channel_id, {"prompt": "lofi beats", "title": title})
    outcome = await running.watch(member.outcome(nonce))
    assert outcome.kind == "success", outcome
    status = await running.watch(
        member.message(lambda m: m.get("interaction_metadata", {}).get("id") == outcome.data["id"], since=mark)
    )
    assert "Queued" in status["content"] and not status["flags"] & 64, status
    post = await running.watch(
        member.message(
            lambda m: m["id"] == status["id"] and bool(m["embeds"]),
            event="MESSAGE_UPDATE",
            since=mark,
            timeout=RENDER_TIMEOUT,
        )
    )
    return await assert_track_post(post, title=title)
