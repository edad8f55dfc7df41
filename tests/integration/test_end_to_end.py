"""Core end to end on the real adapters: SQLite, the Producer and FUZZ clients, the sandbox over loopback."""

from __future__ import annotations

from pathlib import Path

from bot.domain.models import JobState, LedgerKind, Operation
from bot.providers.producer import parse_webhook
from bot.sandbox import Sandbox
from bot.web.server import WebServer
from tests.clients import http_client
from tests.fakes import RecordingNotifier
from tests.integration.rig import WHO, live, wait_until


async def test_a_job_runs_from_admission_to_a_real_file(tmp_path: Path) -> None:
    async with live(tmp_path / "t.sqlite3") as r:
        job_id = await r.admit({"sound": "lofi beats", "title": "Night"})
        await r.notifier.wait_for(1)
        [result] = r.notifier.succeeded
        track = result.cards[0].track
        assert result.job.id == job_id and track.title == "Night"
        async with http_client() as client:
            assert (await client.get(track.audio_url or "")).content[:4] == b"RIFF"
        stored = await r.store.job(job_id)
        assert stored is not None and stored.state is JobState.SUCCEEDED and stored.delivered_at is not None
        assert await r.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]


async def test_fuzz_posts_two_songs_and_a_variation_is_emulated(tmp_path: Path) -> None:
    async with live(tmp_path / "t.sqlite3", provider="fuzz") as r:
        await r.admit({"sound": "celtic folk", "lyrics": "[Verse]\nover the hills"})
        await r.notifier.wait_for(1)
        parent = r.notifier.succeeded[0].cards[0].track
        assert len(r.notifier.succeeded[0].cards) == 2
        await r.core.admission.admit(WHO, Operation.VARIATION, {}, track_id=parent.id)
        await r.notifier.wait_for(2)
        variation = r.notifier.succeeded[1].cards
        assert len(variation) == 2 and all(c.track.operation is Operation.VARIATION for c in variation)


async def test_webhooks_complete_jobs_without_polling(tmp_path: Path) -> None:
    from bot.core.jobs.config import JobsConfig

    public = "https://tunesmith.example"
    # Polls would only come after a minute: any completion within the test came from the webhook.
    config = JobsConfig(poll_interval=60, webhook_url_base=public, safety_poll_interval=60, expected_render_s=60)
    async with (
        Sandbox(render_seconds=0.2, clip_seconds=0.5) as sandbox,
        live(tmp_path / "t.sqlite3", config=config, sandbox=sandbox, start=False) as r,
    ):
        web = WebServer(r.core.web, parse_webhook)
        await web.start("127.0.0.1", 0)
        sandbox.webhook_base_rewrite = (public, f"http://127.0.0.1:{web.port}")
        sandbox.duplicate_webhooks = True
        try:
            await r.core.runtime.start(r.notifier)
            ids = [await r.admit() for _ in range(3)]
            await r.notifier.wait_for(3)
            assert sorted(res.job.id for res in r.notifier.succeeded) == ids
            assert sandbox.stats.polls == 0
            metrics = r.core.metrics
            assert metrics.get("tunesmith_webhooks_total", result="accepted") == 3
            # Each webhook was sent twice; the copies are verified, acknowledged and ignored.
            await wait_until(lambda: metrics.get("tunesmith_webhooks_total", result="duplicate") == 3)
            assert len(r.notifier.succeeded) == 3
            async with http_client() as client:
                text = (await client.get(f"http://127.0.0.1:{web.port}/metrics")).text
                health = (await client.get(f"http://127.0.0.1:{web.port}/healthz")).json()
            # From memory: jobs finished by state, jobs in flight by state, the timings core observed.
            assert 'tunesmith_jobs_finished_total{state="succeeded"} 3' in text
            assert 'tunesmith_webhooks_total{result="accepted"} 3' in text
            assert 'tunesmith_jobs_in_flight{state="running"} 0' in text
            assert 'tunesmith_render_seconds_count{operation="create",provider="sandbox"} 3' in text
            assert "tunesmith_queue_wait_seconds_count 3" in text
            assert "tunesmith_delivery_delay_seconds_count 3" in text
            assert health == {"status": "ok", "queued": 0, "in_flight": 0}
        finally:
            await web.stop()


async def test_restart_recovers_every_job_exactly_once(tmp_path: Path) -> None:
    """Stop core mid-flight: tasks still rendering, one finished but not delivered. A new core on the same file
    finishes every job exactly once, with the right credits."""
    path = tmp_path / "t.sqlite3"
    async with Sandbox(render_seconds=0.6, clip_seconds=0.5) as sandbox:
        down = RecordingNotifier(fail_deliveries=100)  # Discord is down: the finished job stays undelivered
        async with live(path, sandbox=sandbox, render=0.6, notifier=down) as first:
            quick = await first.admit({"sound": "quick"})

            async def finished() -> bool:
                job = await first.store.job(quick)
                return job is not None and job.state is JobState.SUCCEEDED

            await wait_until(finished)
            slow = [await first.admit({"sound": f"slow {i}"}) for i in range(3)]
            await wait_until(lambda: sandbox.stats.submits == 4)
            assert (await first.store.job(quick)).delivered_at is None  # type: ignore[union-attr]
        # That core is gone (stopped mid-flight); the slow tasks are still rendering in the sandbox.
        notes = RecordingNotifier()
        async with live(path, sandbox=sandbox, notifier=notes) as second:
            await notes.wait_for(4)

            async def all_delivered() -> bool:  # nothing is left to deliver, so nothing more can arrive
                return await second.store.undelivered_jobs() == []

            await wait_until(all_delivered)
            assert sorted(notes.finished_ids) == sorted([quick, *slow])
            assert sandbox.stats.submits == 4  # nothing was submitted twice
            for job_id in [quick, *slow]:
                assert await second.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]
            assert (await second.core.credits.quota(1, 100)).server_remaining == 960
