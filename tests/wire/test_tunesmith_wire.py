"""The real Tunesmith on the wire: ``bot.app.run`` against FakeDiscord over real HTTP and a real websocket.

Nothing of the bot is replaced. Settings come from ``TUNESMITH_*`` variables (``TUNESMITH_DISCORD_API_URL``
and ``TUNESMITH_DISCORD_GATEWAY_URL`` point it at the fake), ``run()`` builds the app, logs in, syncs the
commands, starts the engine and connects to the gateway, and the sandbox provider renders real WAV and PNG
files that the notifier uploads as multipart form data. Every wait has a timeout and also watches the bot's
task, so a bot that crashes fails the test with its own error instead of a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import secrets
import wave
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from bot.app import run
from bot.config import Settings, load_settings
from tests.wire.fake_discord import JSON, FakeDiscord, RecordedRequest

T = TypeVar("T")

STARTUP_TIMEOUT = 10.0  # login, command sync and the gateway handshake
RENDER_TIMEOUT = 10.0  # the sandbox renders in 0.3 s; the rest is polling, downloading and uploading
STOP_TIMEOUT = 10.0


@dataclass
class Wire:
    """A running Tunesmith (the ``run()`` task) and the FakeDiscord it talks to."""

    fake: FakeDiscord
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
        self.task.result()  # the bot's exception, if it raised one
        raise AssertionError("Tunesmith's run() returned while the test was waiting")

    async def request(self, method: str, path_regex: str, *, since: int = 0, timeout: float = 5.0) -> RecordedRequest:
        return await self.watch(self.fake.wait_for_request(method, path_regex, timeout, since=since))

    async def final_edit(self, channel_id: int, message_id: int, *, timeout: float = RENDER_TIMEOUT) -> RecordedRequest:
        """The edit that ends a status message: into the track post, or into a failure notice.

        Progress edits change only the content; the final edit also sets the embeds (the post's, or none).
        Waiting for either, not just for an upload, makes a bot that fails the job fail the test at once.
        """
        path = f"/channels/{channel_id}/messages/{message_id}"

        def find() -> RecordedRequest | None:
            edits = (r for r in self.fake.requests if r.status is not None and r.method == "PATCH" and r.path == path)
            return next((r for r in edits if r.files or "embeds" in (r.json or {})), None)

        edit = await self.watch(self.fake.wait_for(find, timeout=timeout, what=f"final PATCH {path}"))
        assert edit.status == 200, edit
        assert edit.files, f"the status message was not turned into a track post: {edit.json}"
        return edit


@contextlib.asynccontextmanager
async def tunesmith_running(settings: Settings, fake: FakeDiscord) -> AsyncIterator[Wire]:
    """``bot.app.run(settings)`` in a task until it is connected and has synced; always stopped on exit.

    Cancelling the task is how the process stops it too (Ctrl-C in ``asyncio.run``): ``run()`` then closes
    the bot, the engine, the web server, the sandbox and the database on its way out.
    """
    task = asyncio.create_task(run(settings), name="tunesmith-run")
    wire = Wire(fake, task)
    try:
        # setup_hook syncs during login, before the gateway connects.
        await wire.request("PUT", rf"/applications/{fake.application_id}/commands", timeout=STARTUP_TIMEOUT)
        await wire.watch(fake.wait_until_live(STARTUP_TIMEOUT))
        yield wire
    except BaseException:
        await _stop(task)
        if not task.cancelled():
            task.exception()  # already reported through Wire.watch; retrieved so asyncio does not warn
        raise
    crashed = task.done()
    await _stop(task)
    if crashed:
        task.result()
        raise AssertionError("Tunesmith's run() returned during the test")
    if not task.cancelled() and task.exception() is not None:
        raise AssertionError("Tunesmith failed while stopping") from task.exception()


async def _stop(task: asyncio.Task[None]) -> None:
    if task.done():
        return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
    if not done:
        raise AssertionError(f"Tunesmith did not stop within {STOP_TIMEOUT}s of being cancelled")


@pytest.fixture
def bot_token() -> str:
    """A token no other test uses, so a leak into the logs can be searched for."""
    return f"wire-secret-{secrets.token_hex(16)}"


@pytest.fixture
async def fake(restore_discord_endpoints: None, bot_token: str) -> AsyncIterator[FakeDiscord]:
    # build() points discord.py at the fake; restore_discord_endpoints puts discord.com back afterwards.
    fake = FakeDiscord(token=bot_token)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def env_settings(
    fake: FakeDiscord, bot_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings exactly as ``python -m bot`` reads them: from ``TUNESMITH_*`` variables, no ``.env`` file."""
    for name in list(os.environ):
        if name.startswith("TUNESMITH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no developer .env (it could name a real provider or token) is read
    variables = {
        "TUNESMITH_DISCORD_TOKEN": bot_token,
        "TUNESMITH_DISCORD_API_URL": fake.api_url,
        "TUNESMITH_DISCORD_GATEWAY_URL": fake.gateway_url,
        "TUNESMITH_SYNC_COMMANDS": "true",
        "TUNESMITH_PROVIDER": "sandbox",
        "TUNESMITH_SANDBOX_RENDER_SECONDS": "0.3",
        "TUNESMITH_POLL_INTERVAL": "0.05",
        "TUNESMITH_DATABASE_PATH": str(tmp_path / "tunesmith.sqlite3"),
        "TUNESMITH_WEB_PORT": "0",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.discord_api_url == fake.api_url and settings.discord_gateway_url == fake.gateway_url
    yield settings


# ---------------------------------------------------------------------- helpers


def custom_ids(components: list[JSON]) -> list[str]:
    """Every custom_id in a component tree (action rows, containers, sections)."""
    found: list[str] = []
    for component in components:
        if "custom_id" in component:
            found.append(component["custom_id"])
        found.extend(custom_ids(component.get("components") or []))
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                found.extend(custom_ids([component[key]]))
    return found


def text_inputs(components: list[JSON]) -> dict[str, JSON]:
    """A modal's text inputs by label, whether discord.py wrapped them in action rows or in labels."""
    found: dict[str, JSON] = {}
    for component in components:
        if component["type"] == 18:  # label: the label text is on the wrapper
            inner = component["component"]
            found[component["label"]] = inner
        elif component["type"] == 4:
            found[component["label"]] = component
        else:
            found.update(text_inputs(component.get("components") or []))
    return found


@dataclass
class TrackPost:
    track_id: int
    upload: RecordedRequest
    audio: bytes
    cover: bytes


def assert_track_post(upload: RecordedRequest, *, title: str) -> TrackPost:
    """The PATCH is a real multipart upload of a WAV and its cover, with the embed and persistent buttons."""
    assert upload.headers.get("Content-Type", "").startswith("multipart/form-data; boundary="), upload.headers
    body = upload.json  # payload_json
    assert body["content"] is None  # the status text is gone
    (embed,) = body["embeds"]
    assert embed["title"] == title
    footer = re.fullmatch(r"Track #(\d+) · sandbox", embed["footer"]["text"])
    assert footer is not None, embed["footer"]
    track_id = int(footer[1])

    files = {f.filename: f for f in upload.files}
    assert sorted(f.field for f in upload.files) == ["files[0]", "files[1]"]
    audio_name = next(name for name in files if name.endswith(".wav"))
    assert re.fullmatch(rf"[a-z0-9-]+-{track_id}\.wav", audio_name), audio_name
    cover_name = f"cover-{track_id}.png"
    assert set(files) == {audio_name, cover_name}
    audio, cover = files[audio_name].data, files[cover_name].data
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    with wave.open(io.BytesIO(audio)) as wav:  # a playable file, not just a header
        assert wav.getnframes() > 0 and wav.getframerate() > 0
    assert cover.startswith(b"\x89PNG\r\n\x1a\n")
    assert embed["image"]["url"] == f"attachment://{cover_name}"
    # payload_json names every uploaded file, so Discord keeps both (and drops the status message's none).
    assert sorted(a["filename"] for a in body["attachments"]) == sorted(files)

    ids = custom_ids(body["components"])
    assert f"tunesmith:track:extend:{track_id}" in ids
    assert f"tunesmith:track:delete:{track_id}" in ids
    assert all(re.fullmatch(rf"tunesmith:track:[a-z_]+:{track_id}", i) for i in ids), ids
    return TrackPost(track_id, upload, audio, cover)


def assert_stored(fake: FakeDiscord, message_id: int, post: TrackPost) -> JSON:
    """What Discord would now show: the status message replaced by the post, with both files attached."""
    stored = fake.message(message_id)
    assert stored["content"] == ""
    assert stored["embeds"] and stored["embeds"][0]["image"]["url"] == f"attachment://cover-{post.track_id}.png"
    attached = {a["filename"]: a for a in stored["attachments"]}
    assert attached[f"cover-{post.track_id}.png"]["bytes"] == post.cover
    (audio,) = [a for a in attached.values() if a["filename"].endswith(".wav")]
    assert audio["bytes"] == post.audio and audio["size"] == len(post.audio)
    return stored


async def create_track(wire: Wire, *, title: str) -> tuple[int, TrackPost]:
    """``/music create prompt:"lofi beats" title:<title>``: the status reply, then its edit into the post."""
    fake = wire.fake
    token = await wire.watch(fake.invoke_slash("music", {"prompt": "lofi beats", "title": title}, subcommand="create"))
    callback = await wire.request("POST", rf"/interactions/\d+/{re.escape(token)}/callback")
    assert callback.status is not None and callback.status < 300
    assert callback.json["type"] == 4  # answered at once, publicly, with the status message
    status = callback.json["data"]
    assert "Queued" in status["content"] and "job #" in status["content"], status
    assert not (status.get("flags") or 0) & 64
    # The bot reads the message back to learn its id, then edits it by channel and message id only.
    await wire.request("GET", rf"/webhooks/{fake.application_id}/{re.escape(token)}/messages/@original")
    (status_message,) = [m for m in fake.messages[fake.channel_id] if m.get("interaction_metadata")]
    message_id = int(status_message["id"])

    upload = await wire.final_edit(fake.channel_id, message_id)
    post = assert_track_post(upload, title=title)
    assert_stored(fake, message_id, post)
    return message_id, post


def assert_clean_run(fake: FakeDiscord, bot_token: str, caplog: pytest.LogCaptureFixture) -> None:
    """After the bot stopped: a clean gateway close, every request understood, no errors, no leaked token."""
    assert not fake.live
    assert [c.close_code for c in fake.gateway_connections] == [1000]  # bot.close(), not a dropped socket
    assert fake.unhandled_requests == [] and fake.errors == []
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert problems == [], [r.getMessage() for r in problems]
    # The token went only where it belongs (the Authorization header and IDENTIFY, both outside these):
    # not into a log line at any level, a traceback, or anything the bot posted.
    assert bot_token not in caplog.text
    assert all(bot_token not in r.getMessage() for r in caplog.records)
    assert bot_token not in repr(fake.messages)
    assert all(bot_token not in repr((r.json, r.headers, r.query)) for r in fake.requests)


# ---------------------------------------------------------------------- tests


async def test_run_logs_in_syncs_and_posts_a_created_track_as_a_multipart_upload(
    fake: FakeDiscord, env_settings: Settings, bot_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with tunesmith_running(env_settings, fake) as wire:
        # Login and sync went to the fake, with the token from TUNESMITH_DISCORD_TOKEN.
        assert (fake.requests[0].method, fake.requests[0].path) == ("GET", "/users/@me")
        assert len(fake.identifies) == 1 and fake.identifies[0]["token"] == bot_token
        (music,) = [c for c in fake.global_commands if c["name"] == "music"]
        subcommands = {o["name"] for o in music["options"] if o["type"] == 1}
        assert {"create", "compose", "extend", "cover", "show", "history", "cancel"} <= subcommands
        create = next(o for o in music["options"] if o["name"] == "create")
        assert [(o["name"], o.get("required", False)) for o in create["options"][:2]] == [
            ("prompt", True),
            ("title", False),
        ]

        message_id, post = await create_track(wire, title="Wire")

        # Only one track post, and it is the edited status message: nothing else was posted in the channel.
        posts = [m for m in fake.messages[fake.channel_id] if m["embeds"]]
        assert [int(m["id"]) for m in posts] == [message_id]
        assert post.track_id >= 1

    assert_clean_run(fake, bot_token, caplog)


async def test_extend_button_and_modal_post_the_remix_in_a_thread(
    fake: FakeDiscord, bot_token: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The same settings, given directly this time (the first test reads them from the environment).
    settings = Settings(
        _env_file=None,  # only what is given here
        discord_token=bot_token,
        discord_api_url=fake.api_url,
        discord_gateway_url=fake.gateway_url,
        database_path=tmp_path / "tunesmith.sqlite3",
        provider="sandbox",
        sandbox_render_seconds=0.3,
        poll_interval=0.05,
        sync_commands=True,
        web_port=0,
    )
    async with tunesmith_running(settings, fake) as wire:
        parent_message_id, parent = await create_track(wire, title="Wire")

        # Extend opens a form pre-filled from the track.
        before = len(fake.requests)
        await wire.watch(fake.click(parent_message_id, f"tunesmith:track:extend:{parent.track_id}"))
        opened = await wire.request("POST", r"/interactions/\d+/[^/]+/callback", since=before)
        assert opened.json["type"] == 9
        modal: JSON = opened.json["data"]
        assert modal["title"] == "Extend: Wire"
        inputs = text_inputs(modal["components"])
        assert {"Continue from (seconds)", "Style of the continuation", "Title"} <= set(inputs)
        assert inputs["Style of the continuation"].get("value") == "lofi beats"

        before = len(fake.requests)
        token = await wire.watch(
            fake.submit_modal(modal["custom_id"], {inputs["Title"]["custom_id"]: "Wire, extended"})
        )

        # The first remix of a track opens a thread on its post; the status message goes there.
        opened_thread = await wire.request(
            "POST", rf"/channels/{fake.channel_id}/messages/{parent_message_id}/threads", since=before
        )
        assert opened_thread.json["name"] == "Remixes of Wire"
        (thread,) = fake.threads
        thread_id = int(thread["id"])
        assert thread_id == parent_message_id  # a thread started from a message has the message's id
        status = await wire.request("POST", rf"/channels/{thread_id}/messages", since=before)
        assert "Queued" in status.json["content"] and "Extend" in status.json["content"]
        # Opening a thread can outlast Discord's 3 s, so the button's form is answered with an ephemeral defer,
        # then the reply is filled in by editing the original response.
        deferred = await wire.request("POST", rf"/interactions/\d+/{re.escape(token)}/callback", since=before)
        assert deferred.json["type"] == 5 and deferred.json["data"]["flags"] == 64
        reply = await wire.request("PATCH", rf"/webhooks/\d+/{re.escape(token)}/messages/@original", since=before)
        assert f"<#{thread_id}>" in reply.json["content"]

        (status_message,) = fake.messages[thread_id]
        upload = await wire.final_edit(thread_id, int(status_message["id"]))
        child = assert_track_post(upload, title="Wire, extended")
        assert_stored(fake, int(status_message["id"]), child)
        assert child.track_id != parent.track_id
        assert "Extension of *Wire*" in upload.json["embeds"][0]["description"]
        # The parent's post was not edited again and the channel got nothing new: the remix lives in the thread.
        parent_path = f"/channels/{fake.channel_id}/messages/{parent_message_id}"
        assert [r for r in fake.requests if r.method == "PATCH" and r.path == parent_path] == [parent.upload]
        assert [m["id"] for m in fake.messages[fake.channel_id] if m["embeds"]] == [str(parent_message_id)]

    assert_clean_run(fake, bot_token, caplog)
