"""The webhook receiver: both signing schemes, stale timestamps, oversized bodies, unknown tasks, repeats."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bot.core.jobs.config import JobsConfig
from bot.domain.models import JobState
from bot.providers.producer import parse_webhook
from bot.sandbox import Sandbox
from bot.web.server import WebServer
from bot.web.signatures import sign, sign_legacy
from tests.clients import http_client
from tests.integration.rig import live, wait_until

PUBLIC = "https://tunesmith.example"


async def _submitted_job(r) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    job_id = await r.admit()
    # "submitted" in the gauge includes a submit still on its way: wait for the task id itself.
    await wait_until(lambda: r.core.web.webhook_secret(job_id))  # type: ignore[arg-type,return-value]
    known = await r.core.web.webhook_secret(job_id)
    assert known is not None
    return job_id, *known


def _success(task_id: str) -> bytes:
    clip = {
        "clip_id": "c-1",
        "title": "Hooked",
        "audio_url": "http://127.0.0.1:9/a.wav",
        "state": "succeeded",
        "duration": "12.5",
    }
    body = {"code": 200, "data": [clip], "message": "success", "task_id": task_id, "event": "song.completed"}
    return json.dumps(body).encode()


async def test_webhook_verification(tmp_path: Path) -> None:
    config = JobsConfig(poll_interval=60, webhook_url_base=PUBLIC, safety_poll_interval=60, expected_render_s=60)
    async with (
        Sandbox(render_seconds=60, clip_seconds=0.5) as sandbox,
        live(tmp_path / "t.sqlite3", config=config, sandbox=sandbox) as r,
    ):
        web = WebServer(r.core.web, parse_webhook)
        await web.start("127.0.0.1", 0)
        sandbox.webhook_base_rewrite = (PUBLIC, f"http://127.0.0.1:{web.port}")
        try:
            job_id, task_id, secret = await _submitted_job(r)
            url = f"http://127.0.0.1:{web.port}/webhooks/sandbox/{job_id}"
            body = _success(task_id)
            now = int(time.time())
            async with http_client() as client:

                async def post(headers: dict[str, str], data: bytes = body, to: str = url) -> int:
                    return (await client.post(to, content=data, headers=headers)).status_code

                good = {"X-Webhook-Timestamp": str(now), "X-Webhook-Signature": sign(secret, body, now)}
                assert await post({**good, "X-Webhook-Signature": sign("wrong-secret-xxxxxxxx", body, now)}) == 401
                stale = now - 600
                assert (
                    await post({"X-Webhook-Timestamp": str(stale), "X-Webhook-Signature": sign(secret, body, stale)})
                    == 401
                )
                assert await post({}) == 401  # unsigned
                assert await post(good, to=url.rsplit("/", 1)[0] + "/9999") == 404
                assert await post(good, data=b"x" * (1024 * 1024 + 1)) == 413
                assert (await r.store.job(job_id)).state is not JobState.SUCCEEDED  # type: ignore[union-attr]
                # The older scheme, with a webhook id: accepted once, then acknowledged as a duplicate.
                legacy = {"X-Signature": sign_legacy(secret, body), "X-Webhook-Id": "evt-1"}
                assert await post(legacy) == 200
                await r.notifier.wait_for(1)
                assert await post(legacy) == 200
                assert r.core.metrics.get("tunesmith_webhooks_total", result="duplicate") == 1
                assert r.core.metrics.get("tunesmith_webhooks_total", result="rejected") == 5
            # The secret is derived, never stored: a database dump cannot be used to forge a webhook.
            assert secret not in await r.store.dump()
            track = r.notifier.succeeded[0].cards[0].track
            assert track.title == "Hooked" and track.duration_s == 12.5
            assert sandbox.stats.polls == 0
        finally:
            await web.stop()
