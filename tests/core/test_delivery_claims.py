"""Posted exactly once: every post is claimed (with its nonce) before it is made, and an attempt after a kill, a
failure or in another process sends the same nonce and looks for the post first (core on fakes)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.core.jobs.delivery import new_nonce
from bot.domain.outcomes import Delivery, JobResult
from tests.core.rig import config, rig
from tests.fakes import FakeClock, MemoryStore, RecordingNotifier


@dataclass
class ClaimsFirst(RecordingNotifier):
    """Checks that every card's claim is in the store before anything is posted."""

    store: MemoryStore | None = None

    async def job_succeeded(self, result: JobResult) -> list[Delivery]:
        assert self.store is not None
        for card in result.cards:
            assert card.claim is not None
            assert self.store.claims[(result.job.id, card.track.id)].nonce == card.claim.nonce
        return await super().job_succeeded(result)


@dataclass
class KilledAfterPosting(RecordingNotifier):
    """Posts, then the process dies before the posts are recorded: the call never returns."""

    async def job_succeeded(self, result: JobResult) -> list[Delivery]:
        await super().job_succeeded(result)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_a_nonce_fits_discord_and_is_new_every_time() -> None:
    nonces = {new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000 and all(len(n) <= 25 for n in nonces)


async def test_every_post_is_claimed_in_the_store_before_it_is_made() -> None:
    store = MemoryStore()
    notifier = ClaimsFirst(store=store)
    async with rig(store=store, notifier=notifier, clips_per_task=2) as r:
        job_id = await r.admit({"sound": "city pop"})
        await r.until(lambda: store.jobs[job_id].delivered_at is not None)
    [result] = notifier.succeeded
    claims = [c.claim for c in result.cards]
    assert [(c.slot, c.fresh, c.owner) for c in claims if c] == [(1, True, "tunesmith"), (2, True, "tunesmith")]
    assert not any(c.look_first for c in result.cards)  # nothing can have been posted: no history is read
    assert notifier.posts == 2


async def test_a_post_made_before_a_kill_is_found_after_the_restart_not_made_again() -> None:
    store, clock = MemoryStore(), FakeClock()
    discord: dict[str, int] = {}  # what Discord keeps across the restart
    killed = KilledAfterPosting(by_nonce=discord)
    async with rig(store=store, clock=clock, notifier=killed, clips_per_task=2) as r:
        job_id = await r.admit({"sound": "city pop"})
        await r.delivered(1)
    assert store.jobs[job_id].delivered_at is None and killed.posts == 2  # posted, never recorded
    restarted = RecordingNotifier(by_nonce=discord)
    async with rig(store=store, clock=clock, notifier=restarted, clips_per_task=2) as again:
        await again.until(lambda: store.jobs[job_id].delivered_at is not None)
    [before], [after] = killed.succeeded, restarted.succeeded
    assert all(c.claim and c.claim.fresh for c in before.cards)
    assert all(c.look_first for c in after.cards)
    assert [c.claim.nonce for c in after.cards if c.claim] == [c.claim.nonce for c in before.cards if c.claim]
    assert restarted.posts == 0
    assert {t.message_id for t in await store.tracks_of_job(job_id)} == set(discord.values())


async def test_a_retry_after_discord_failed_sends_the_same_nonce_and_looks_first() -> None:
    notifier = RecordingNotifier(fail_deliveries=1)
    async with rig(notifier=notifier, jobs=config(delivery_retry_base=1.0)) as r:
        job_id = await r.admit()
        await r.until(lambda: r.store.jobs[job_id].delivered_at is not None)
        [retry] = notifier.succeeded
        [card] = retry.cards
        assert card.look_first and card.claim is not None
        assert r.store.claims[(job_id, card.track.id)].nonce == card.claim.nonce
        assert notifier.posts == 1 and r.store.calls["claim_deliveries"] == 2


async def test_a_second_process_delivering_the_same_job_reuses_the_first_ones_claim() -> None:
    """Two processes on one database (a lease lost to a pause, say): the claim is shared, so the second sends the
    first one's nonce and looks first; Discord and the history search keep it to one post."""
    store, clock = MemoryStore(), FakeClock()
    discord: dict[str, int] = {}
    first = KilledAfterPosting(by_nonce=discord)  # still "sending" when the other process takes over
    async with rig(store=store, clock=clock, notifier=first, jobs=config(owner="host-a:1")) as a:
        job_id = await a.admit()
        await a.delivered(1)
        other = RecordingNotifier(by_nonce=discord)
        async with rig(store=store, clock=clock, notifier=other, jobs=config(owner="host-b:2")) as b:
            await b.until(lambda: store.jobs[job_id].delivered_at is not None)
    [card] = other.succeeded[0].cards
    assert card.claim is not None and (card.claim.owner, card.look_first) == ("host-a:1", True)
    assert first.posts + other.posts == 1
