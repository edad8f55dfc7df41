"""The webhook receiver, as a provider and as an attacker would talk to it (issues 9.6, 9.7 and 14.2).

The real core on real SQLite, the real aiohttp server on loopback, real httpx (and raw sockets for slow clients).
Signatures are computed by the test's own HMAC code (``_current``/``_legacy`` below) and checked against values
computed once by hand with ``openssl dgst -sha256 -hmac`` — never with the product's ``sign`` functions.

Freshness, as the receiver intends it: a timestamp at most 300 s away from our clock is accepted (300 s exactly is
accepted), 301 s is refused with 401; the same in the future.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.core.jobs.config import JobsConfig
from bot.domain.models import JobState
from bot.providers.producer import parse_webhook
from bot.sandbox import Sandbox
from bot.web.server import WebOptions, WebServer
from bot.web.signatures import SignatureError, verify
from tests.clients import http_client
from tests.integration.rig import Live, live
from tests.waiting import until

PUBLIC = "https://tunesmith.example"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, the clock the server is given

# Computed once by hand:
#   printf '%s' '1767225600.{"task_id":"t-42","event":"song.completed","data":[]}' | openssl dgst -sha256 -hmac ...
#   printf '%s' '{"task_id":"t-42","event":"song.completed","data":[]}' | openssl dgst -sha256 -hmac ...
FIXTURE_SECRET = "whsec-fixture-0001"
FIXTURE_BODY = b'{"task_id":"t-42","event":"song.completed","data":[]}'
FIXTURE_CURRENT = "sha256=7592833f0a3076e9266a350af0c3f5b8be608b62531bd03bce667c2a8bb5331c"
FIXTURE_LEGACY = "e9d1dd93c0eed16bde718753cef8140cbea8890be6c603cc118dff904f8baffb"


def _current(secret: str, body: bytes, timestamp: int | str) -> dict[str, str]:
    """The current scheme, written from the provider's documentation: HMAC-SHA256 over "{timestamp}.{body}"."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Webhook-Timestamp": str(timestamp), "X-Webhook-Signature": "sha256=" + mac}


def _legacy(secret: str, body: bytes) -> dict[str, str]:
    return {"X-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


# --- the hand-computed fixture ----------------------------------------------------------------------------------


def test_hand_computed_signatures_are_accepted() -> None:
    verify(
        {"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": FIXTURE_CURRENT},
        FIXTURE_BODY,
        FIXTURE_SECRET,
        now=NOW,
    )
    verify({"X-Signature": FIXTURE_LEGACY}, FIXTURE_BODY, FIXTURE_SECRET, now=NOW)
    verify({"X-Signature": "sha256=" + FIXTURE_LEGACY.upper()}, FIXTURE_BODY, FIXTURE_SECRET, now=NOW)
    # The test's own implementation agrees with the hand computation.
    assert _current(FIXTURE_SECRET, FIXTURE_BODY, NOW)["X-Webhook-Signature"] == FIXTURE_CURRENT
    assert _legacy(FIXTURE_SECRET, FIXTURE_BODY)["X-Signature"] == FIXTURE_LEGACY


@pytest.mark.parametrize(
    "headers",
    [
        # the legacy scheme must cover the body: a signature of another body is refused
        {"X-Signature": hmac.new(FIXTURE_SECRET.encode(), b"{}", hashlib.sha256).hexdigest()},
        # the timestamp is covered: the same signature with another timestamp is refused
        {"X-Webhook-Timestamp": str(NOW + 1), "X-Webhook-Signature": FIXTURE_CURRENT},
        # the current scheme needs its prefix and its timestamp
        {"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": FIXTURE_CURRENT.removeprefix("sha256=")},
        {"X-Webhook-Signature": FIXTURE_CURRENT},
        {"X-Webhook-Timestamp": "", "X-Webhook-Signature": FIXTURE_CURRENT},
        {},
    ],
)
def test_what_the_signature_does_not_cover_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify(headers, FIXTURE_BODY, FIXTURE_SECRET, now=NOW)


# --- over the wire ----------------------------------------------------------------------------------------------


def _completed(task_id: str, *, title: str = "Hooked") -> bytes:
    clip = {
        "clip_id": "c-1",
        "title": title,
        "audio_url": "http://127.0.0.1:9/a.wav",
        "state": "succeeded",
        "duration": "12.5",
    }
    payload = {"code": 200, "data": [clip], "message": "success", "task_id": task_id, "event": "song.completed"}
    return json.dumps(payload).encode()


@dataclass
class Receiver:
    rig: Live
    web: WebServer
    client: httpx.AsyncClient
    db_path: Path

    def url(self, job_id: int | str, provider: str = "sandbox") -> str:
        return f"http://127.0.0.1:{self.web.port}/webhooks/{provider}/{job_id}"

    async def submitted(self) -> tuple[int, str, str]:
        """A job submitted with a webhook: (job id, task id, its webhook secret)."""
        job_id = await self.rig.admit()
        known = await until(lambda: self.rig.core.web.webhook_secret(job_id))  # the submit has happened
        return job_id, *known

    async def post(
        self, job_id: int | str, body: bytes, headers: Mapping[str, str] | Mapping[str, bytes]
    ) -> httpx.Response:
        # bytes values go out as they are (non-ASCII, invalid UTF-8), which str values could not
        raw = {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in headers.items()}
        return await self.client.post(self.url(job_id), content=body, headers=raw)

    def stored_webhook_rows(self) -> int:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM webhook_events").fetchone()[0])


@asynccontextmanager
async def receiver(db_path: Path, *, now: float = NOW, read_timeout: float = 10.0) -> AsyncIterator[Receiver]:
    config = JobsConfig(poll_interval=60, webhook_url_base=PUBLIC, safety_poll_interval=60, expected_render_s=60)
    async with (
        Sandbox(render_seconds=120, clip_seconds=0.5) as sandbox,
        live(db_path, config=config, sandbox=sandbox) as r,
    ):
        web = WebServer(
            r.core.web, parse_webhook, clock=lambda: now, options=WebOptions(port=0, read_timeout=read_timeout)
        )
        await web.start()
        try:
            async with http_client(timeout=20) as client:
                yield Receiver(r, web, client, db_path)
        finally:
            await web.stop()


async def test_valid_deliveries_in_both_schemes_finish_the_jobs(db_path: Path) -> None:
    async with receiver(db_path) as rx:
        current_job, current_task, current_secret = await rx.submitted()
        body = _completed(current_task, title="Current")
        answer = await rx.post(current_job, body, _current(current_secret, body, NOW))
        assert answer.status_code == 200 and answer.json() == {"ok": True}

        legacy_job, legacy_task, legacy_secret = await rx.submitted()
        body = _completed(legacy_task, title="Legacy")
        assert (await rx.post(legacy_job, body, _legacy(legacy_secret, body))).json() == {"ok": True}

        prefixed_job, prefixed_task, prefixed_secret = await rx.submitted()
        body = _completed(prefixed_task, title="Prefixed")
        headers = {"X-Signature": "sha256=" + _legacy(prefixed_secret, body)["X-Signature"]}
        assert (await rx.post(prefixed_job, body, headers)).json() == {"ok": True}

        await rx.rig.notifier.wait_for(3)
        titles = {res.job.id: res.cards[0].track.title for res in rx.rig.notifier.succeeded}
        assert titles == {current_job: "Current", legacy_job: "Legacy", prefixed_job: "Prefixed"}
        assert rx.rig.sandbox.stats.polls == 0  # the webhooks did it


@pytest.mark.parametrize(
    ("age", "status"),
    [(300, 200), (301, 401), (-300, 200), (-301, 401), (0, 200)],
)
async def test_the_300_second_boundary(db_path: Path, age: int, status: int) -> None:
    async with receiver(db_path, now=NOW) as rx:
        job_id, task_id, secret = await rx.submitted()
        body = _completed(task_id)
        answer = await rx.post(job_id, body, _current(secret, body, NOW - age))
        assert answer.status_code == status
        expected = JobState.SUCCEEDED if status == 200 else None
        if expected is not None:
            await rx.rig.notifier.wait_for(1)
        assert ((await rx.rig.job(job_id)).state is JobState.SUCCEEDED) is (status == 200)


async def test_missing_or_malformed_timestamps_are_401(db_path: Path) -> None:
    async with receiver(db_path) as rx:
        job_id, task_id, secret = await rx.submitted()
        body = _completed(task_id)
        signature = _current(secret, body, NOW)["X-Webhook-Signature"]
        for timestamp in (None, "", "soon", "1" * 400, "+" + str(NOW), "١٧٦٧٢٢٥٦٠٠", f"{NOW}.0", "-1"):
            headers = {"X-Webhook-Signature": signature}
            if timestamp is not None:
                headers["X-Webhook-Timestamp"] = timestamp
            answer = await rx.post(job_id, body, {k: v.encode() for k, v in headers.items()})
            assert answer.status_code == 401, timestamp
        # and a 400-digit timestamp that is correctly signed
        big = "9" * 400
        assert (await rx.post(job_id, body, _current(secret, body, big))).status_code == 401
        assert (await rx.rig.job(job_id)).state is not JobState.SUCCEEDED


async def test_hostile_headers_get_4xx(db_path: Path) -> None:
    async with receiver(db_path) as rx:
        job_id, task_id, secret = await rx.submitted()
        body = _completed(task_id)
        good = _current(secret, body, NOW)
        hostile: list[dict[str, bytes]] = [
            {"X-Webhook-Timestamp": str(NOW).encode(), "X-Webhook-Signature": "sha256=é".encode()},
            {"X-Webhook-Timestamp": str(NOW).encode(), "X-Webhook-Signature": "sha256=\xe9\xff".encode("latin-1")},
            {"X-Webhook-Timestamp": str(NOW).encode(), "X-Webhook-Signature": b"sha256=" + b"\xc3\xa9" * 32},
            {"X-Signature": "ünïcödé".encode()},
            {"X-Signature": b"\xff\xfe" * 32},
            {"X-Webhook-Timestamp": "١٢٣".encode(), "X-Webhook-Signature": good["X-Webhook-Signature"].encode()},
        ]
        for headers in hostile:
            answer = await rx.post(job_id, body, headers)
            assert 400 <= answer.status_code < 500, headers
        huge = {**good, "X-Padding": "a" * 100_000}
        assert 400 <= (await rx.post(job_id, body, huge)).status_code < 500
        # An unsigned header in another encoding changes nothing: the signed delivery is still accepted.
        odd_event = {**{k: v.encode() for k, v in good.items()}, "X-Webhook-Event": "song.completed\xe9".encode()}
        assert (await rx.post(job_id, body, odd_event)).json() == {"ok": True}


@pytest.mark.parametrize("raw", [str(2**63), str(2**64), "9" * 30, "0", "-1", "١٢", "1e3", "0x10"])
async def test_path_ids_out_of_range_are_404(db_path: Path, raw: str) -> None:
    async with receiver(db_path) as rx:
        body = b'{"task_id": "t"}'
        answer = await rx.client.post(rx.url(raw), content=body, headers=_legacy("x", body))
        assert answer.status_code == 404


async def test_hostile_bodies_validly_signed_get_4xx(db_path: Path) -> None:
    async with receiver(db_path) as rx:
        job_id, task_id, secret = await rx.submitted()
        bodies = [
            b"",
            b"   ",
            b"\xff\xfe\x00garbage",
            b"[1, 2, 3]",
            b"42",
            b'"a string"',
            b"null",
            b"[" * 100_000 + b"]" * 100_000,  # RecursionError in json.loads without a depth bound
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            json.dumps({"task_id": task_id, "data": [{"duration": "x"}]}).replace('"x"', "NaN").encode(),
            b'{"task_id": "' + task_id.encode() + b'", "data": [{"duration": 1e999}]}',
            b'{"task_id": ' + b"1" * 5000 + b"}",
            b'{"task_id": "t-elsewhere", "event": "song.completed"}',
        ]
        for body in bodies:
            for headers in (_current(secret, body, NOW), _legacy(secret, body)):
                answer = await rx.post(job_id, body, headers)
                assert 400 <= answer.status_code < 500, (body[:40], answer.status_code, answer.text)
        assert (await rx.rig.job(job_id)).state is not JobState.SUCCEEDED
        # Valid JSON the parser cannot use (a lone surrogate where clips belong) is no final event: not a 500.
        odd = b'{"task_id": "' + task_id.encode() + b'", "data": "\\ud800"}'
        assert (await rx.post(job_id, odd, _legacy(secret, odd))).status_code < 500
        # the receiver still works afterwards
        body = _completed(task_id)
        assert (await rx.post(job_id, body, _current(secret, body, NOW))).status_code == 200


async def test_oversize_and_unknown_are_refused(db_path: Path) -> None:
    async with receiver(db_path) as rx:
        job_id, task_id, secret = await rx.submitted()
        body = _completed(task_id)
        good = _current(secret, body, NOW)
        assert (await rx.post(job_id + 1000, body, good)).status_code == 404
        assert (await rx.client.post(rx.url(job_id, "producer"), content=body, headers=good)).status_code == 404
        big = b"x" * (1024 * 1024 + 1)
        assert (await rx.post(job_id, big, _current(secret, big, NOW))).status_code == 413
        wrong = _current("another-secret-xxxxxxxx", body, NOW)
        assert (await rx.post(job_id, body, wrong)).status_code == 401
        assert (await rx.post(job_id, body, {})).status_code == 401


async def test_replays_with_fresh_webhook_ids_are_duplicates(db_path: Path) -> None:
    async with receiver(db_path) as rx:
        job_id, task_id, secret = await rx.submitted()
        body = _completed(task_id)
        headers = _current(secret, body, NOW)
        first = await rx.post(job_id, body, {**headers, "X-Webhook-Id": "evt-original"})
        assert first.json() == {"ok": True}
        await rx.rig.notifier.wait_for(1)
        rows = rx.stored_webhook_rows()
        for n in range(30):
            replay = await rx.post(job_id, body, {**headers, "X-Webhook-Id": f"evt-{n}", "Idempotency-Key": f"k{n}"})
            assert replay.json() == {"ok": True, "duplicate": True}
        # a legacy-signed copy of the same body is the same delivery too
        assert (await rx.post(job_id, body, {**_legacy(secret, body), "X-Webhook-Id": "x"})).json()["duplicate"]
        assert rx.stored_webhook_rows() == rows
        assert len(rx.rig.notifier.succeeded) == 1
        assert rx.rig.core.metrics.get("tunesmith_webhooks_total", result="duplicate") == 31


async def test_replays_are_duplicates_after_a_restart(db_path: Path) -> None:
    """The stored key is what the signature covers, so a fresh id is caught by the database too."""
    async with receiver(db_path) as rx:
        job_id, task_id, secret = await rx.submitted()
        body = _completed(task_id)
        assert (await rx.post(job_id, body, _legacy(secret, body))).json() == {"ok": True}
        await rx.rig.notifier.wait_for(1)
    async with receiver(db_path) as rx:
        rows = rx.stored_webhook_rows()
        known = await rx.rig.core.web.webhook_secret(job_id)
        assert known is not None and known[0] == task_id
        again = await rx.post(job_id, body, {**_legacy(known[1], body), "X-Webhook-Id": "evt-fresh"})
        assert again.json() == {"ok": True, "duplicate": True}
        assert rx.stored_webhook_rows() == rows


# --- slow clients -----------------------------------------------------------------------------------------------


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while chunk := await reader.read(4096):
        data += chunk
    return data


async def test_a_client_dribbling_its_body_is_cut_off(db_path: Path) -> None:
    async with receiver(db_path, read_timeout=0.5) as rx:
        job_id, _task_id, _secret = await rx.submitted()
        reader, writer = await asyncio.open_connection("127.0.0.1", rx.web.port)
        writer.write(
            f"POST /webhooks/sandbox/{job_id} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
            "Content-Type: application/json\r\n\r\n".encode()
        )
        await writer.drain()

        async def dribble() -> None:
            while True:
                writer.write(b"{")
                await writer.drain()
                await asyncio.sleep(0.1)

        dribbler = asyncio.create_task(dribble())
        try:
            async with asyncio.timeout(15):
                status_line = await reader.readline()
            # Refused, and then cut off although it goes on sending: aiohttp's default would read and drop the
            # rest for 10 s more, holding the connection (and a shutdown) that long.
            async with asyncio.timeout(5):
                await _read_until_closed(reader)
        finally:
            dribbler.cancel()
            writer.close()
        assert status_line.startswith(b"HTTP/1.1 408"), status_line


async def test_a_client_dribbling_its_headers_is_disconnected(db_path: Path) -> None:
    async with receiver(db_path, read_timeout=0.5) as rx:
        reader, writer = await asyncio.open_connection("127.0.0.1", rx.web.port)

        async def dribble() -> None:
            writer.write(b"POST /webhooks/sandbox/1 HTTP/1.1\r\n")
            for n in range(10_000):
                writer.write(f"X-Slow-{n}: a\r\n".encode())
                await writer.drain()
                await asyncio.sleep(0.1)

        dribbler = asyncio.create_task(dribble())
        try:
            async with asyncio.timeout(15):
                answer = await _read_until_closed(reader)
        finally:
            dribbler.cancel()
            writer.close()
        # Closed without an answer (or refused with a 4xx), never served; before the cut-off the connection stayed
        # open for aiohttp's 75 s default and the 15 s timeout above failed the test.
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:80]
