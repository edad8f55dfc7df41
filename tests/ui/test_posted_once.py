"""Posted exactly once, on Discord's side: a post made by an attempt that died before recording it is found in
the channel (by its footer: Discord does not return a nonce in the history) instead of being posted again."""

from __future__ import annotations

import time
from pathlib import Path

from bot.domain.outcomes import DeliveryClaim, JobResult, TrackCard
from bot.sandbox import Sandbox
from tests.ui.conftest import running
from tests.ui.helpers import track_id


async def test_a_post_made_before_a_restart_is_found_and_a_show_is_not_taken_for_it(tmp_path: Path) -> None:
    async with (
        Sandbox(render_seconds=0.3) as sandbox,
        running(
            tmp_path, provider="fuzz", fuzz_api_key="sandbox-key", fuzz_base_url=sandbox.fuzz_base_url, render_s=0.3
        ) as studio,
    ):
        await studio.ana.slash(studio.channel, "music create", prompt="city pop", title="Two Takes")
        first, second = await studio.wait_for_posts(2)
        app = studio.app
        job = await app.store.job(1)
        assert job is not None and job.delivered_at is not None
        tracks = {t.id: t for t in await app.store.tracks_of_job(job.id)}
        # A member shows the second song again (a command's answer, with the same footer) before the retry.
        await studio.bo.slash(studio.channel, "music show", track=track_id(second))
        assert len(studio.track_posts()) == 3

        def retry(fresh: bool) -> JobResult:
            claim = DeliveryClaim(job.id, track_id(second), "ts0123456789abcdef", "host:1", time.time() - 5, fresh)
            card = TrackCard(track=tracks[track_id(second)], claim=claim)
            return JobResult(job=job, cards=(card,), actions=app.core.catalog.available(), first_replaces_status=False)

        # The retry of a claim made before: the post is found (not the show), nothing is posted.
        [found] = await app.notifier.job_succeeded(retry(fresh=False))
        assert found.message_id == second.id and found.track_id == track_id(second)
        assert len(studio.track_posts()) == 3
        # Gone (a moderator deleted it): the show is not taken for it, so the song is posted again, once.
        await studio.admin.delete(second)
        [posted] = await app.notifier.job_succeeded(retry(fresh=False))
        shown = [p for p in studio.track_posts() if p.interaction_metadata is not None and p.id != first.id]
        assert posted.message_id not in (second.id, shown[0].id) and len(studio.track_posts()) == 3
