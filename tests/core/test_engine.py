"""The job engine end to end: real SQLite, the real provider clients, the sandbox over loopback.

Only Discord is replaced, by a notifier that records its calls (the engine's Notifier port).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.core.engine import Defaults, Engine, EngineConfig, Requester
from bot.domain.errors import OperationUnavailable
from bot.domain.models import (
    CoverMusic,
    CreateMusic,
    ExtendMusic,
    JobState,
    LedgerKind,
    MusicRequest,
    Operation,
    Period,
)
from bot.providers import FuzzClient, ProducerClient
from bot.providers.producer import parse_webhook
from bot.sandbox import Sandbox
from bot.storage.database import Database
from bot.web.server import WebServer
from tests.support import RecordingNotifier

WHO = Requester(guild_id=1, channel_id=10, user_id=100)
FAST = EngineConfig(poll_interval=0.05, max_poll_interval=0.2, expected_render_s=0.1, progress_interval=0.0)


@dataclass
class Rig:
    db: Database
    sandbox: Sandbox
    engine: Engine
    notifier: RecordingNotifier
    http: httpx.AsyncClient

    async def admit(self, request: MusicRequest | None = None, who: Requester = WHO) -> int:
        admission = await self.engine.admit(who, request or CreateMusic(sound="lofi beats", title="Night"))
        return admission.job.id

    async def job(self, job_id: int):  # type: ignore[no-untyped-def]
        job = await self.engine.job(job_id)
        assert job is not None
        return job

    async def ledger(self, job_id: int) -> list[tuple[LedgerKind, int]]:
        async with self.db.unit_of_work(write=False) as uow:
            return [(e.kind, e.amount) for e in await uow.ledger.for_job(job_id)]


def _provider(kind: str, http: httpx.AsyncClient, sandbox: Sandbox, concurrency: int):  # type: ignore[no-untyped-def]
    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    if kind == "fuzz":
        return FuzzClient(
            http, base_url=sandbox.fuzz_base_url, api_key="k", max_concurrency=concurrency, sleep=no_sleep
        )
    return ProducerClient(
        http, base_url=sandbox.base_url, api_key="k", max_concurrency=concurrency, name="sandbox", sleep=no_sleep
    )


@asynccontextmanager
async def rig(
    path: Path,
    *,
    render: float = 0.2,
    provider: str = "producer",
    concurrency: int = 10,
    config: EngineConfig = FAST,
    budget: int = 1000,
    start: bool = True,
    sandbox: Sandbox | None = None,
    notifier: RecordingNotifier | None = None,
) -> AsyncIterator[Rig]:
    own_sandbox = sandbox is None
    sb = sandbox or Sandbox(render_seconds=render, clip_seconds=0.5)
    if own_sandbox:
        await sb.start()
    db = await Database.open(path)
    http = httpx.AsyncClient(timeout=10)
    notes = notifier or RecordingNotifier()
    engine = Engine(
        uow=db.unit_of_work,
        provider=_provider(provider, http, sb, concurrency),
        notifier=notes,
        config=config,
        defaults=Defaults(budget=budget, period=Period.MONTH, max_jobs_member=50, max_jobs_server=500),
    )
    if start:
        await engine.start()
    try:
        yield Rig(db, sb, engine, notes, http)
    finally:
        await engine.stop()
        await http.aclose()
        await db.close()
        if own_sandbox:
            await sb.stop()


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_a_job_runs_from_admission_to_delivery(db_path: Path) -> None:
    async with rig(db_path) as r:
        job_id = await r.admit(CreateMusic(sound="lofi beats", title="Night"))
        await r.notifier.wait_for(1)
        job, tracks = r.notifier.succeeded[0]
        assert job.id == job_id and len(tracks) == 1
        track = tracks[0]
        assert track.title == "Night" and track.audio_url and track.image_url
        async with httpx.AsyncClient() as client:
            audio = (await client.get(track.audio_url)).content
        assert audio[:4] == b"RIFF"
        stored = await r.job(job_id)
        assert stored.state is JobState.SUCCEEDED and stored.delivered_at is not None
        assert await r.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]
        assert (await r.engine.quota(1, 100)).server_remaining == 990
        states = [p.state for jid, p in r.notifier.progress if jid == job_id]
        assert JobState.SUBMITTED in states


async def test_every_derived_operation_builds_lineage(db_path: Path) -> None:
    async with rig(db_path) as r:
        await r.admit(CreateMusic(sound="folk", title="Root"))
        await r.notifier.wait_for(1)
        root = r.notifier.succeeded[0][1][0]
        await r.engine.admit(WHO, ExtendMusic(clip_id=root.clip_id, starts_at=1), parent_track_id=root.id)
        await r.engine.admit(WHO, CoverMusic(clip_id=root.clip_id, sound="jazz"), parent_track_id=root.id)
        await r.notifier.wait_for(3)
        children = [t for _, tracks in r.notifier.succeeded[1:] for t in tracks]
        assert {t.operation for t in children} == {Operation.EXTEND, Operation.COVER}
        assert all(t.parent_track_id == root.id for t in children)


async def test_provider_moderation_is_shown_and_refunded(db_path: Path) -> None:
    async with rig(db_path) as r:
        r.sandbox.inject("moderation", message="The lyrics contain copyrighted content: 'yesterday'")
        job_id = await r.admit(CreateMusic(sound="pop", lyrics="Yesterday all my troubles"))
        await r.notifier.wait_for(1)
        job, reason, refunded = r.notifier.failed[0]
        assert job.id == job_id and refunded == 10
        assert "copyrighted content: 'yesterday'" in reason
        assert (await r.job(job_id)).failure_kind == "moderation"
        assert await r.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.REFUND, 10)]
        assert (await r.engine.quota(1, 100)).server_remaining == 1000


async def test_a_retired_operation_is_refunded_and_switched_off(db_path: Path) -> None:
    async with rig(db_path) as r:
        await r.admit(CreateMusic(sound="folk"))
        await r.notifier.wait_for(1)
        root = r.notifier.succeeded[0][1][0]
        r.sandbox.inject("retired", operation="cover")
        job_id = (await r.engine.admit(WHO, CoverMusic(clip_id=root.clip_id), parent_track_id=root.id)).job.id
        await r.notifier.wait_for(2)
        _, reason, refunded = r.notifier.failed[0]
        assert "retired by the provider" in reason and refunded == 10
        assert Operation.COVER not in r.engine.available_operations()
        with pytest.raises(OperationUnavailable, match="retired"):
            await r.engine.admit(WHO, CoverMusic(clip_id=root.clip_id), parent_track_id=root.id)
        assert (await r.job(job_id)).state is JobState.FAILED
    # Persisted: a new engine on the same file still refuses it, until an operator reinstates it.
    async with rig(db_path) as again:
        assert Operation.COVER not in again.engine.available_operations()
        assert await again.engine.reinstate(Operation.COVER)
        assert Operation.COVER in again.engine.available_operations()


async def test_server_errors_are_retried_until_they_pass(db_path: Path) -> None:
    async with rig(db_path) as r:
        r.sandbox.inject("server_error", count=2)
        await r.admit()
        await r.notifier.wait_for(1)
        assert len(r.notifier.succeeded) == 1


async def test_a_provider_that_stays_down_fails_the_job_with_credits_back(db_path: Path) -> None:
    config = EngineConfig(poll_interval=0.05, expected_render_s=0.1, deadline=0.5, submit_retry_base=0.1)
    async with rig(db_path, config=config) as r:
        r.sandbox.inject("server_error", count=1000)
        job_id = await r.admit()
        await r.notifier.wait_for(1)
        _, reason, refunded = r.notifier.failed[0]
        assert "down" in reason and refunded == 10
        assert (await r.job(job_id)).state is JobState.FAILED


async def test_the_deadline_gives_up_and_refunds(db_path: Path) -> None:
    config = EngineConfig(poll_interval=0.05, expected_render_s=0.1, deadline=0.3)
    async with rig(db_path, render=30, config=config) as r:
        job_id = await r.admit()
        await r.notifier.wait_for(1)
        _, reason, refunded = r.notifier.failed[0]
        assert "did not finish" in reason and refunded == 10
        assert (await r.job(job_id)).failure_kind == "timeout"


async def test_cancel_a_queued_job(db_path: Path) -> None:
    async with rig(db_path, concurrency=1, render=0.5) as r:
        first = await r.admit()
        second = await r.admit()
        cancelled = await r.engine.cancel(second, user_id=100, guild_id=1)
        assert cancelled.state is JobState.CANCELLED
        await r.notifier.wait_for(2)
        assert [j.id for j, _, _ in r.notifier.failed] == [second]
        assert [j.id for j, _ in r.notifier.succeeded] == [first]
        assert await r.ledger(second) == [(LedgerKind.RESERVE, -10), (LedgerKind.REFUND, 10)]
        assert r.sandbox.stats.submits == 1


async def test_the_queue_is_fair_across_servers(db_path: Path) -> None:
    async with rig(db_path, concurrency=1, render=0.05) as r:
        busy = [await r.admit(who=Requester(guild_id=1, channel_id=10, user_id=100 + i % 3)) for i in range(6)]
        quiet = await r.admit(who=Requester(guild_id=2, channel_id=20, user_id=200))
        await r.notifier.wait_for(7, timeout=30)
        order = [j.id for j, _ in r.notifier.succeeded]
        # The quiet server waited for the busy server's job in flight and at most one turn of it, not for all six.
        assert order.index(quiet) <= 2, order
        assert sorted(order) == sorted([*busy, quiet])


async def test_fuzz_posts_two_songs_and_polls_in_batches(db_path: Path) -> None:
    async with rig(db_path, provider="fuzz", concurrency=60, render=0.5, budget=10_000) as r:
        ids = [await r.admit(CreateMusic(sound=f"style {i}")) for i in range(30)]
        await r.notifier.wait_for(30, timeout=30)
        assert all(len(tracks) == 2 for _, tracks in r.notifier.succeeded)
        assert sorted(j.id for j, _ in r.notifier.succeeded) == ids
        # 30 tasks need 2 ids-lists per round at most; polling each on its own would be 30 a round.
        stats = r.sandbox.stats
        assert stats.poll_ids / stats.polls > 5, (stats.poll_ids, stats.polls)
        assert stats.polls < 30


async def test_fuzz_variation_is_emulated_by_resubmitting_the_parent(db_path: Path) -> None:
    from bot.domain.models import MusicVariation

    async with rig(db_path, provider="fuzz") as r:
        await r.admit(CreateMusic(sound="celtic folk", lyrics="[Verse]\nover the hills"))
        await r.notifier.wait_for(1)
        parent = r.notifier.succeeded[0][1][0]
        request = MusicVariation(clip_id=parent.clip_id, sound=parent.tags, lyrics=parent.lyrics)
        await r.engine.admit(WHO, request, parent_track_id=parent.id)
        await r.notifier.wait_for(2)
        variation = r.notifier.succeeded[1][1]
        assert len(variation) == 2 and all(t.operation is Operation.VARIATION for t in variation)


async def test_webhooks_complete_jobs_without_polling(db_path: Path) -> None:
    public = "https://tunesmith.example"
    # Polls would only come after a minute: any completion within the test came from the webhook.
    config = EngineConfig(poll_interval=60, webhook_url_base=public, safety_poll_interval=60, expected_render_s=60)
    async with (
        Sandbox(render_seconds=0.2, clip_seconds=0.5) as sandbox,
        rig(db_path, config=config, sandbox=sandbox, start=False) as r,
    ):
        web = WebServer(r.engine, parse_webhook)
        await web.start("127.0.0.1", 0)
        sandbox.webhook_base_rewrite = (public, f"http://127.0.0.1:{web.port}")
        sandbox.duplicate_webhooks = True
        try:
            await r.engine.start()
            ids = [await r.admit() for _ in range(3)]
            await r.notifier.wait_for(3)
            assert sorted(j.id for j, _ in r.notifier.succeeded) == ids
            assert sandbox.stats.polls == 0
            assert r.engine.metrics.get("tunesmith_webhooks_total", result="accepted") == 3
            # Each webhook was sent twice; the copies are verified, acknowledged and ignored.
            await wait_until(lambda: r.engine.metrics.get("tunesmith_webhooks_total", result="duplicate") == 3)
            assert len(r.notifier.succeeded) == 3
            async with httpx.AsyncClient() as client:
                metrics = (await client.get(f"http://127.0.0.1:{web.port}/metrics")).text
                health = (await client.get(f"http://127.0.0.1:{web.port}/healthz")).json()
            assert 'tunesmith_jobs_finished_total{state="succeeded"} 3.0' in metrics  # from memory, no table scan
            assert 'tunesmith_webhooks_total{result="accepted"} 3' in metrics
            assert health["status"] == "ok"
        finally:
            await web.stop()


async def test_restart_recovers_every_job_exactly_once(db_path: Path) -> None:
    """Kill the engine mid-flight: tasks still rendering, one finished but not delivered. A new engine on the
    same file finishes every job exactly once, with the right credits."""
    async with Sandbox(render_seconds=0.6, clip_seconds=0.5) as sandbox:
        first_notes = RecordingNotifier(fail_deliveries=100)  # Discord is down: the finished job stays undelivered
        async with rig(db_path, sandbox=sandbox, render=0.6, notifier=first_notes) as first:
            quick = await first.admit(CreateMusic(sound="quick"))
            await wait_until(lambda: any(p.state is JobState.SUBMITTED for j, p in first_notes.progress if j == quick))
            await asyncio.sleep(0.8)  # the quick task finishes and is stored, delivery fails
            slow = [await first.admit(CreateMusic(sound=f"slow {i}")) for i in range(3)]
            await wait_until(lambda: sandbox.stats.submits == 4)
            assert (await first.job(quick)).state is JobState.SUCCEEDED
            assert (await first.job(quick)).delivered_at is None
        # The engine is gone (stopped mid-flight); the slow tasks are still rendering in the sandbox.
        second_notes = RecordingNotifier()
        async with rig(db_path, sandbox=sandbox, notifier=second_notes) as second:
            await second_notes.wait_for(4)
            await asyncio.sleep(0.5)  # nothing more arrives
            assert sorted(second_notes.finished_ids) == sorted([quick, *slow])
            assert sandbox.stats.submits == 4  # nothing was submitted twice
            for job_id in [quick, *slow]:
                assert await second.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]
            assert (await second.engine.quota(1, 100)).server_remaining == 960


async def test_rate_limits_while_polling_are_honoured(db_path: Path) -> None:
    async with rig(db_path, render=0.3) as r:
        job_id = await r.admit()
        await wait_until(lambda: bool(r.engine._tracked))
        # More 429s than the client retries: the engine backs off for Retry-After, then the job still finishes.
        r.sandbox.inject("rate_limit", count=6, retry_after=0.4)
        await r.notifier.wait_for(1)
        assert [j.id for j, _ in r.notifier.succeeded] == [job_id]
        assert r.engine.metrics.get("tunesmith_provider_errors_total", kind="unavailable") >= 1
        assert r.engine._poll_not_before > 0


async def test_poll_interval_grows_with_age(db_path: Path) -> None:
    config = EngineConfig(poll_interval=5, max_poll_interval=30, expected_render_s=30)
    async with rig(db_path, config=config, start=False) as r:
        from bot.core.engine import _Tracked

        tracked = _Tracked(job_id=1, task_id="t", submitted_at=0.0, next_poll=0.0, webhook=False)
        first = r.engine._interval(tracked, now=0.0)
        assert first == pytest.approx(18.0)  # the first look near the expected end, not every 5 s from the start
        tracked.polls = 1
        intervals = [r.engine._interval(tracked, now=age) for age in (20, 60, 120, 600)]
        assert intervals == sorted(intervals) and intervals[0] >= 5 and intervals[-1] == 30
        tracked.webhook = True
        assert r.engine._interval(tracked, now=20) == config.safety_poll_interval
