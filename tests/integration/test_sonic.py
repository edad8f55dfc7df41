"""Sonic end to end without Discord: the real Sonic client against the sandbox's Sonic API, core on SQLite. A stored
Sonic request is submitted after a restart, an extension is joined into the full song across a restart, and the
sandbox's signed webhook, read by Sonic's parser, finishes a job."""

from __future__ import annotations

from pathlib import Path

from bot.core.jobs.config import JobsConfig
from bot.domain.models import JobState, LedgerKind, Operation
from bot.domain.sonic import SonicCreate
from bot.providers.sonic import parse_webhook
from bot.sandbox import Sandbox
from bot.web.server import WebServer
from tests.integration.rig import WHO, live, wait_until

PUBLIC = "https://tunesmith.example"


async def test_a_stored_sonic_request_and_a_join_in_progress_survive_restarts(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite3"
    async with Sandbox(render_seconds=0.3, clip_seconds=None) as sandbox:
        # Admitted, then the bot stops before submitting: the request waits in the database.
        async with live(db, provider="sonic", sandbox=sandbox, start=False) as r:
            job_id = await r.admit({"sound": "sea shanty", "lyrics": "[Verse]\nHome, home", "model": "sonic-v4-5"})
            stored = await r.job(job_id)
            assert stored.request["api"] == "sonic" and stored.request["model"] == "sonic-v4-5"
        async with live(db, provider="sonic", sandbox=sandbox) as r:
            await r.notifier.wait_for(1)
            [result] = r.notifier.succeeded
            assert len(result.cards) == 2 and {c.track.model for c in result.cards} == {"sonic-v4-5"}
            root = result.cards[0].track
            extension = await r.core.admission.admit(WHO, Operation.EXTEND, {"starts_at": 12}, track_id=root.id)
            assert extension.job.cost == 12
            # Stop once the first join is on its way.
            await wait_until(lambda: _joining(r, extension.job.id), timeout=30)
        async with live(db, provider="sonic", sandbox=sandbox) as r:
            await r.notifier.wait_for(1, timeout=30)
            [result] = r.notifier.succeeded
            assert [c.track.operation for c in result.cards] == [Operation.CONCAT, Operation.CONCAT]
            takes = [t for t in await r.store.tracks_of_job(extension.job.id) if t.operation is Operation.EXTEND]
            assert len(takes) == 2 and all(t.parent_track_id == root.id for t in takes)
            assert await r.ledger(extension.job.id) == [(LedgerKind.RESERVE, -12), (LedgerKind.COMMIT, 0)]


async def _joining(r: object, job_id: int) -> bool:
    job = await r.store.job(job_id)  # type: ignore[attr-defined]
    return job is not None and job.followup is not None


async def test_sonics_webhook_finishes_a_job(tmp_path: Path) -> None:
    config = JobsConfig(poll_interval=60, webhook_url_base=PUBLIC, safety_poll_interval=60, expected_render_s=60)
    async with (
        Sandbox(render_seconds=0.3, clip_seconds=0.5) as sandbox,
        live(tmp_path / "t.sqlite3", provider="sonic", config=config, sandbox=sandbox) as r,
    ):
        web = WebServer(r.core.web, parse_webhook)
        await web.start("127.0.0.1", 0)
        sandbox.webhook_base_rewrite = (PUBLIC, f"http://127.0.0.1:{web.port}")
        try:
            job_id = await r.admit({"sound": "city pop", "lyrics": "[Verse]\nNeon", "title": "Neon"})
            await r.notifier.wait_for(1)
            # The first poll was a minute away: the job finished because the signed webhook arrived.
            assert sandbox.stats.polls == 0
            job = await r.job(job_id)
            assert job.state is JobState.SUCCEEDED and job.request["api"] == "sonic"
            assert [c.track.title for c in r.notifier.succeeded[0].cards] == ["Neon", "Neon"]
            assert isinstance(SonicCreate.model_validate(job.request), SonicCreate)
        finally:
            await web.stop()
