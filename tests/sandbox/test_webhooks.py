"""Producer webhooks: delivered on completion without any poll, signed (both schemes), rewritten, duplicated."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.sandbox import Sandbox
from tests.clients import http_client
from tests.sandbox.helpers import KEY, FakeClock
from tests.waiting import until

SECRET = "a-webhook-secret-of-some-length"
WAIT_S = 30.0  # the longest wait for something the sandbox does in the background (returns as soon as it happened)
PUBLIC = "https://bot.example/hooks"


@dataclass
class Receiver:
    """A tiny webhook endpoint on loopback that records what it gets."""

    base: str = ""
    status: int = 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        assert request.path == "/hooks/producer"
        self.received.append((dict(request.headers), await request.read()))
        self.arrived.set()
        return web.json_response({"ok": True}, status=self.status)

    async def next(self, wait_s: float = WAIT_S) -> tuple[dict[str, str], bytes]:
        await asyncio.wait_for(self.arrived.wait(), wait_s)
        self.arrived.clear()
        return self.received[-1]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hooks = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/producer", hooks.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    hooks.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield hooks
    await runner.cleanup()


def _sandbox(receiver: Receiver, **options: Any) -> Sandbox:
    # Real clock, short render: the webhook must arrive on its own timer.
    return Sandbox(
        render_seconds=0.2, clip_seconds=0.5, webhook_base_rewrite=(PUBLIC, f"{receiver.base}/hooks"), **options
    )


def _client(sandbox: Sandbox) -> httpx.AsyncClient:
    return http_client(base_url=sandbox.base_url + "/api/v1", headers={"Authorization": f"Bearer {KEY}"})


async def _create(client: httpx.AsyncClient, **extra: Any) -> str:
    body = {
        "task_type": "create_music",
        "sound": "lofi",
        "webhook_url": f"{PUBLIC}/producer",
        "webhook_secret": SECRET,
        **extra,
    }
    response = await client.post("/producer/create", json=body)
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


async def test_completion_webhook_is_signed_and_needs_no_poll(receiver: Receiver) -> None:
    async with _sandbox(receiver) as sandbox, _client(sandbox) as client:
        started = time.monotonic()
        task_id = await _create(client)
        headers, raw = await receiver.next()
        assert time.monotonic() - started >= 0.2 - 0.01  # not before the render time
        assert sandbox.stats.polls == 0

        body = json.loads(raw)
        assert body["code"] == 200 and body["message"] == "success"
        assert body["task_id"] == task_id
        assert body["platform"] == "sandbox" and body["event"] == "song.completed"
        [clip] = body["data"]
        assert clip["state"] == "succeeded" and clip["audio_url"].startswith(sandbox.base_url)

        assert headers["X-Webhook-Event"] == "song.completed"
        assert headers["X-Webhook-Id"] == headers["Idempotency-Key"]
        uuid.UUID(headers["X-Webhook-Id"])
        timestamp = headers["X-Webhook-Timestamp"]
        assert abs(int(timestamp) - time.time()) < 300
        expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
        assert headers["X-Webhook-Signature"] == f"sha256={expected}"
        assert "X-Signature" not in headers
        assert sandbox.stats.webhooks_sent == 1 and sandbox.stats.webhooks_failed == 0
        assert task_id in sandbox.finished_at


async def test_legacy_signature_scheme(receiver: Receiver) -> None:
    async with _sandbox(receiver, legacy_signatures=True) as sandbox, _client(sandbox) as client:
        await _create(client)
        headers, raw = await receiver.next()
        assert headers["X-Signature"] == hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert "X-Webhook-Signature" not in headers


async def test_unsigned_without_secret(receiver: Receiver) -> None:
    async with _sandbox(receiver) as sandbox, _client(sandbox) as client:
        await _create(client, webhook_secret=None)
        headers, _ = await receiver.next()
        assert "X-Webhook-Signature" not in headers and "X-Signature" not in headers
        assert headers["X-Webhook-Event"] == "song.completed"


async def test_duplicate_webhooks_share_one_id(receiver: Receiver) -> None:
    async with _sandbox(receiver) as sandbox, _client(sandbox) as client:
        sandbox.duplicate_webhooks = True
        await _create(client)
        await receiver.next()
        await until(lambda: len(receiver.received) == 2)
        first, second = receiver.received
        assert first[1] == second[1]
        assert first[0]["X-Webhook-Id"] == second[0]["X-Webhook-Id"]
        assert sandbox.stats.webhooks_sent == 2


async def test_failed_task_sends_song_failed(receiver: Receiver) -> None:
    async with _sandbox(receiver) as sandbox, _client(sandbox) as client:
        sandbox.inject("task_failure", message="The generation failed.")
        task_id = await _create(client)
        headers, raw = await receiver.next()
        body = json.loads(raw)
        assert body == {
            "code": 500,
            "data": [],
            "message": "The generation failed.",
            "task_id": task_id,
            "platform": "sandbox",
            "event": "song.failed",
        }
        assert headers["X-Webhook-Event"] == "song.failed"


async def test_upload_and_download_webhooks_carry_their_data(receiver: Receiver) -> None:
    async with _sandbox(receiver) as sandbox, _client(sandbox) as client:
        await _create(client)
        clip = json.loads((await receiver.next())[1])["data"][0]
        hook = {"webhook_url": f"{PUBLIC}/producer", "webhook_secret": SECRET}
        await client.post("/producer/upload", json={"audio_url": clip["audio_url"], **hook})
        upload = json.loads((await receiver.next())[1])
        assert upload["event"] == "song.completed"
        assert set(upload["data"]) == {"clip_id", "audio_url", "lyrics"}
        await client.post("/producer/download", json={"clip_id": clip["clip_id"], "format": "wav", **hook})
        download = json.loads((await receiver.next())[1])
        assert set(download["data"]) == {"audio_url", "wav_url"}


async def test_receiver_errors_are_counted(receiver: Receiver) -> None:
    receiver.status = 500
    async with _sandbox(receiver) as sandbox, _client(sandbox) as client:
        await _create(client)
        await receiver.next()
        await until(lambda: sandbox.stats.webhooks_failed)
        assert sandbox.stats.webhooks_sent == 1 and sandbox.stats.webhooks_failed == 1
        assert sandbox.webhooks.deliveries[0].status == 500


async def test_webhook_follows_an_injected_clock(receiver: Receiver) -> None:
    clock = FakeClock()
    sandbox = Sandbox(render_seconds=60.0, clock=clock, webhook_base_rewrite=(PUBLIC, f"{receiver.base}/hooks"))
    async with sandbox, _client(sandbox) as client:
        task_id = await _create(client)
        # The webhook's timer looks at the (fake) clock again and again; a few looks later it still has not fired.
        looked = clock.reads
        await until(lambda: clock.reads >= looked + 3)
        assert receiver.received == []
        clock.advance(60)
        body = json.loads((await receiver.next())[1])
        assert body["task_id"] == task_id
        assert sandbox.finished_at[task_id] == pytest.approx(clock.now)


async def test_stop_cancels_pending_webhooks(receiver: Receiver) -> None:
    sandbox = Sandbox(render_seconds=30.0, webhook_base_rewrite=(PUBLIC, f"{receiver.base}/hooks"))
    async with sandbox, _client(sandbox) as client:
        await _create(client)
        assert sandbox.background_work == 1
    assert sandbox.background_work == 0
    assert receiver.received == []
