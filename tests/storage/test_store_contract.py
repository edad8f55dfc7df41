"""The store contract: what every store must do, whatever it keeps its data in.

Runs against every store in ``tests/storage/conftest.py: STORES`` (SQLite and the in-memory fake today), through
the Store port only, so a new store (PostgreSQL) passes the same suite unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.domain.errors import QuotaExceeded
from bot.domain.lyrics_timeline import AlignedWord, LyricsAlignment
from bot.domain.models import (
    Clip,
    DraftedLyrics,
    GuildSettings,
    Job,
    JobState,
    LedgerKind,
    Operation,
    Period,
)
from bot.domain.outcomes import Delivery, DeliveryClaim, Failure, FailureKind
from bot.domain.ports import AdmissionSnapshot, Completion, JobTicket, NewPersona, Store, WebhookReceipt
from bot.domain.requester import EVERYTHING, Visible

NOW = 1_800_000_000.0
PERIOD = "month:2027-01-01#0"


def ticket(
    *,
    guild_id: int = 1,
    channel_id: int = 3,
    user_id: int = 2,
    operation: Operation = Operation.CREATE,
    request: dict[str, Any] | None = None,
    parent_track_id: int | None = None,
    now: float = NOW,
    with_last_job: bool = False,
    period_key: str = PERIOD,
) -> JobTicket:
    return JobTicket(
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        operation=operation,
        request=request if request is not None else {"operation": operation.value, "sound": "jazz", "title": "T"},
        provider="sandbox",
        period_key=period_key,
        parent_track_id=parent_track_id,
        now=now,
        with_last_job=with_last_job,
    )


async def admit(store: Store, cost: int = 10, **changes: Any) -> Job:
    return await store.admit(ticket(**changes), lambda snapshot: cost)


def clip(n: int = 1, **changes: Any) -> Clip:
    values: dict[str, Any] = {
        "clip_id": f"c-{n}",
        "title": None,
        "audio_url": f"https://files.test/{n}.wav",
        "image_url": f"https://files.test/{n}.png",
        "duration_s": 12.5,
        "lyrics": "[Verse]\nla",
        "tags": "jazz",
        "model": "FUZZ-2.0",
    }
    values.update(changes)
    return Clip(**values)


async def finish(store: Store, job: Job, *clips: Clip, now: float = NOW + 10) -> dict[int, Any]:
    return await store.finish_jobs([Completion(job, clips or (clip(),))], [], now)


async def ledger(store: Store, job_id: int) -> list[tuple[LedgerKind, int]]:
    return [(e.kind, e.amount) for e in await store.ledger_of_job(job_id)]


# --- admission ----------------------------------------------------------------------------------------------------
async def test_admit_writes_the_job_with_its_reservation(store: Store) -> None:
    job = await admit(store, cost=10)
    assert job.state is JobState.QUEUED and job.cost == 10 and job.period_key == PERIOD
    assert job.created_at.timestamp() == NOW and job.request["sound"] == "jazz"
    assert await store.job(job.id) == job
    assert await ledger(store, job.id) == [(LedgerKind.RESERVE, -10)]
    free = await admit(store, cost=0)
    assert await ledger(store, free.id) == []  # a free job reserves nothing
    balances = await store.balances(1, 2, PERIOD)
    assert (balances.server_sum, balances.member_sum, balances.member_active, balances.server_active) == (
        -10,
        -10,
        2,
        2,
    )


async def test_admit_decides_on_a_snapshot_and_a_refusal_writes_nothing(store: Store) -> None:
    seen: list[AdmissionSnapshot] = []

    def refuse(snapshot: AdmissionSnapshot) -> int:
        seen.append(snapshot)
        raise QuotaExceeded("no")

    await admit(store, cost=10, now=NOW - 60)
    await store.ban(1, 2, reason="spam", banned_by=9, now=NOW)
    with pytest.raises(QuotaExceeded):
        await store.admit(ticket(with_last_job=True), refuse)
    [snapshot] = seen
    assert snapshot.balances.server_sum == -10 and snapshot.balances.member_active == 1
    assert snapshot.ban is not None and (snapshot.ban.reason, snapshot.ban.banned_by) == ("spam", 9)
    assert snapshot.last_job_at == NOW - 60
    assert len(await store.unfinished_jobs()) == 1
    assert (await store.balances(1, 2, PERIOD)).server_sum == -10
    # The latest job is only read when asked for, and lyrics drafts do not count for a cooldown.
    await admit(store, cost=1, operation=Operation.LYRICS, request={"operation": "lyrics", "idea": "x"}, now=NOW)
    for with_last_job in (False, True):
        with pytest.raises(QuotaExceeded):
            await store.admit(ticket(with_last_job=with_last_job), refuse)
    assert seen[1].last_job_at is None and seen[2].last_job_at == NOW - 60
    assert seen[2].balances.member_active == 2


async def test_concurrent_admissions_never_overspend(store: Store) -> None:
    budget, cost = 735, 10

    def within_budget(snapshot: AdmissionSnapshot) -> int:
        if budget + snapshot.balances.server_sum < cost:
            raise QuotaExceeded("no credits")
        return cost

    results = await asyncio.gather(
        *(store.admit(ticket(user_id=100 + i % 7), within_budget) for i in range(200)), return_exceptions=True
    )
    admitted = [r for r in results if isinstance(r, Job)]
    assert len(admitted) == 73 and all(isinstance(r, QuotaExceeded) for r in results if not isinstance(r, Job))
    assert len({job.id for job in admitted}) == 73
    assert (await store.balances(1, 100, PERIOD)).server_sum == -730


# --- a job's life ------------------------------------------------------------------------------------------------
async def test_submitted_and_running_only_move_a_waiting_job(store: Store) -> None:
    job = await admit(store)
    await store.attach_status_message(job.id, 555, channel_id=77)
    assert await store.mark_submitted(job.id, "task-1", NOW + 1)
    assert not await store.mark_submitted(job.id, "task-2", NOW + 2)
    assert await store.mark_running(job.id, 3)
    assert not await store.mark_running(job.id, 4)
    stored = await store.job(job.id)
    assert stored is not None and stored.state is JobState.RUNNING and stored.task_id == "task-1"
    assert (stored.status_message_id, stored.channel_id, stored.poll_count) == (555, 77, 3)
    assert stored.submitted_at is not None and stored.submitted_at.timestamp() == NOW + 1
    await store.end_job(job.id, JobState.CANCELLED, Failure(FailureKind.CANCELLED), NOW + 3)
    assert not await store.mark_running(job.id, 5)  # a late poll answer never revives an ended job
    assert (await store.job(job.id)).state is JobState.CANCELLED  # type: ignore[union-attr]


async def test_finish_jobs_stores_tracks_settles_and_remembers_webhooks(store: Store) -> None:
    first = await admit(store)
    second = await admit(store, user_id=5)
    two = (clip(1, title="Own title"), clip(2))
    receipts = [WebhookReceipt("evt-1", "task-1")]
    finished = await store.finish_jobs(
        [Completion(first, two), Completion(second, (clip(3),)), Completion(second, (clip(3),))], receipts, NOW + 10
    )
    assert sorted(finished) == [first.id, second.id]
    done = finished[first.id]
    assert done.job.state is JobState.SUCCEEDED and done.job.finished_at.timestamp() == NOW + 10  # type: ignore[union-attr]
    assert [t.title for t in done.tracks] == ["Own title", "T"]  # a clip without a title takes the request's
    track = done.tracks[1]
    assert (track.job_id, track.guild_id, track.channel_id, track.author_id) == (first.id, 1, 3, 2)
    assert (track.clip_id, track.duration_s, track.tags, track.model, track.operation) == (
        "c-2",
        12.5,
        "jazz",
        "FUZZ-2.0",
        Operation.CREATE,
    )
    assert track.message_id is None and not track.deleted
    assert await store.tracks_of_job(first.id) == list(done.tracks)
    assert await ledger(store, first.id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]
    assert len(finished[second.id].tracks) == 1  # reported twice in one batch, stored once
    # The webhook was remembered in the same write; a finished job is not finished again (a poll and a webhook raced).
    assert not await store.record_webhook(WebhookReceipt("evt-1", "task-1"), NOW + 11)
    assert await store.finish_jobs([Completion(first, (clip(9),))], [], NOW + 12) == {}
    assert len(await store.tracks_of_job(first.id)) == 2
    assert await store.unfinished_jobs() == []
    assert [j.id for j in await store.undelivered_jobs()] == [first.id, second.id]


async def test_a_download_keeps_its_link_instead_of_making_tracks(store: Store) -> None:
    job = await admit(store, cost=2, operation=Operation.DOWNLOAD, request={"operation": "download", "clip_id": "c"})
    finished = await finish(store, job, clip(1, audio_url="https://files.test/export.wav"))
    assert finished[job.id].tracks == () and finished[job.id].job.result_url == "https://files.test/export.wav"
    assert (await store.job(job.id)).result_url == "https://files.test/export.wav"  # type: ignore[union-attr]
    assert await store.tracks_of_job(job.id) == []


async def test_end_job_refunds_once(store: Store) -> None:
    job = await admit(store)
    ended = await store.end_job(job.id, JobState.FAILED, Failure(FailureKind.MODERATION, "Flagged."), NOW + 5)
    assert ended is not None and ended.state is JobState.FAILED
    assert (ended.failure_kind, ended.failure_message, ended.delivered_at) == ("moderation", "Flagged.", None)
    assert await store.job(job.id) == ended
    assert await store.end_job(job.id, JobState.CANCELLED, Failure(FailureKind.CANCELLED), NOW + 6) is None
    assert await ledger(store, job.id) == [(LedgerKind.RESERVE, -10), (LedgerKind.REFUND, 10)]
    assert (await store.balances(1, 2, PERIOD)).server_sum == 0
    quiet = await admit(store)
    told = await store.end_job(quiet.id, JobState.CANCELLED, Failure(FailureKind.NOT_STARTED), NOW + 7, delivered=True)
    assert told is not None and told.delivered_at is not None
    assert [j.id for j in await store.undelivered_jobs()] == [job.id]
    finished = await admit(store)
    await finish(store, finished)
    assert await store.end_job(finished.id, JobState.FAILED, Failure(FailureKind.TIMEOUT), NOW + 20) is None
    assert await ledger(store, finished.id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]


async def test_lyrics_are_completed_with_their_drafts(store: Store) -> None:
    job = await admit(store, cost=1, operation=Operation.LYRICS, request={"operation": "lyrics", "idea": "rain"})
    await store.complete_lyrics(job.id, [DraftedLyrics(title="Rain", lyrics="[Verse]\ndrip")], NOW + 1)
    done = await store.job(job.id)
    assert done is not None and done.state is JobState.SUCCEEDED and done.delivered_at is not None
    assert done.result_text is not None and "drip" in done.result_text
    assert await ledger(store, job.id) == [(LedgerKind.RESERVE, -1), (LedgerKind.COMMIT, 0)]


async def test_deliveries_are_recorded(store: Store) -> None:
    job = await admit(store)
    tracks = (await finish(store, job, clip(1), clip(2)))[job.id].tracks
    await store.record_deliveries([Delivery(tracks[0].id, 3, 901)], [], NOW + 20)
    assert [j.id for j in await store.undelivered_jobs()] == [job.id]  # only part of it went out
    await store.record_deliveries([Delivery(tracks[1].id, 3, 902, thread_id=44)], [job.id], NOW + 21)
    stored = await store.tracks_of_job(job.id)
    assert [(t.message_id, t.thread_id) for t in stored] == [(901, None), (902, 44)]
    assert (await store.job(job.id)).delivered_at.timestamp() == NOW + 21  # type: ignore[union-attr]
    assert await store.undelivered_jobs() == []


async def test_a_delivery_is_claimed_once_and_its_nonce_kept(store: Store) -> None:
    """The intent to post a track is recorded before the post: the first claim wins, whoever asks later (a retry, a
    restarted or another process) gets the same nonce back and is told an earlier attempt may have posted."""
    job = await admit(store)
    one, two = (t.id for t in (await finish(store, job, clip(1), clip(2)))[job.id].tracks)
    assert await store.claim_deliveries(job.id, {}, "host:1", NOW + 19) == []
    first = await store.claim_deliveries(job.id, {one: "n-first"}, "host:1", NOW + 20)
    assert first == [DeliveryClaim(job.id, one, "n-first", "host:1", NOW + 20, fresh=True)]
    # The retry claims both songs: the first keeps its claim (and nonce), the second is claimed now.
    again = await store.claim_deliveries(job.id, {two: "n-second", one: "n-other"}, "host:2", NOW + 30)
    assert again == [
        DeliveryClaim(job.id, two, "n-second", "host:2", NOW + 30, fresh=True),
        DeliveryClaim(job.id, one, "n-first", "host:1", NOW + 20, fresh=False),
    ]
    await store.record_deliveries([Delivery(one, 3, 901), Delivery(two, 3, 902)], [job.id], NOW + 40)
    late = await store.claim_deliveries(job.id, {one: "n-late", two: "n-late2"}, "host:3", NOW + 50)
    assert [(c.nonce, c.fresh) for c in late] == [("n-first", False), ("n-second", False)]  # kept once delivered


async def test_concurrent_claims_agree_on_one_nonce(store: Store) -> None:
    job = await admit(store)
    one, two = (t.id for t in (await finish(store, job, clip(1), clip(2)))[job.id].tracks)
    claims = await asyncio.gather(
        *(store.claim_deliveries(job.id, {one: f"a-{i}", two: f"b-{i}"}, f"host:{i}", NOW + i) for i in range(8))
    )
    for slot in (0, 1):
        assert len({c[slot].nonce for c in claims}) == 1
        assert sum(c[slot].fresh for c in claims) == 1


async def test_active_jobs_of_a_member(store: Store) -> None:
    ids = [(await admit(store)).id for _ in range(3)]
    await admit(store, user_id=9)
    await store.end_job(ids[0], JobState.CANCELLED, Failure(FailureKind.CANCELLED), NOW)
    assert [j.id for j in await store.active_jobs_of(1, 2)] == [ids[2], ids[1]]
    assert [j.id for j in await store.active_jobs_of(1, 2, limit=1)] == [ids[2]]
    assert await store.active_jobs_of(2, 2) == []
    assert [j.id for j in await store.unfinished_jobs()] == [*ids[1:], ids[2] + 1]


# --- tracks -------------------------------------------------------------------------------------------------------
async def _lineage(store: Store) -> list[int]:
    """root -> cover -> variation, and a deleted extension of the root."""
    root = await admit(store, request={"operation": "create", "sound": "folk", "title": "Root"})
    [root_track] = (await finish(store, root, clip(1, tags="folk")))[root.id].tracks
    ids = [root_track.id]
    for operation, title in ((Operation.COVER, "Cover"), (Operation.VARIATION, "Variation")):
        child = await admit(
            store,
            operation=operation,
            request={"operation": operation.value, "clip_id": "c", "title": title},
            parent_track_id=ids[-1],
        )
        ids.append((await finish(store, child, clip(len(ids) + 1)))[child.id].tracks[0].id)
    extension = await admit(
        store, operation=Operation.EXTEND, request={"operation": "extend", "clip_id": "c"}, parent_track_id=ids[0]
    )
    ids.append((await finish(store, extension, clip(9)))[extension.id].tracks[0].id)
    assert await store.delete_track(ids[-1])
    return ids


async def test_a_page_holds_only_the_tracks_a_member_may_see_and_counts_only_those(store: Store) -> None:
    """Pages filtered in the store: each is full and the number of pages counts what the member may see."""
    made: dict[tuple[int, int], list[int]] = {}  # (channel, author) -> track ids, oldest first
    for n, (channel, author) in enumerate([(3, 2), (5, 2), (7, 8), (3, 8), (5, 8), (9, 2)] * 3):
        job = await admit(store, channel_id=channel, user_id=author)
        [track] = (await finish(store, job, clip(n)))[job.id].tracks
        made.setdefault((channel, author), []).append(track.id)
    assert await store.track_channels(1) == {3, 5, 7, 9}
    assert await store.track_channels(1, 8) == {3, 5, 7}
    assert await store.track_channels(2) == set()

    def ids(*keys: tuple[int, int]) -> list[int]:
        return sorted((i for k in keys for i in made[k]), reverse=True)

    # Member 8 may view channel 3 only: #3's tracks and their own (in #5, #7), not #5/#9 tracks of member 2.
    seen = Visible(channel_ids=frozenset({3}), author_id=8)
    expected = ids((3, 2), (3, 8), (5, 8), (7, 8))
    pages = [await store.track_page(1, None, p, 5, visible=seen) for p in range(3)]
    assert [page.pages for page in pages] == [3, 3, 3]
    assert [[t.id for t in page.tracks] for page in pages] == [expected[:5], expected[5:10], expected[10:]]
    # One author's tracks, of those the member may see.
    page = await store.track_page(1, 2, 0, 10, visible=seen)
    assert ([t.id for t in page.tracks], page.pages) == (ids((3, 2)), 1)
    nothing = await store.track_page(1, None, 0, 5, visible=Visible(author_id=99))
    assert (nothing.tracks, nothing.page, nothing.pages) == ([], 0, 1)
    everything = await store.track_page(1, None, 0, 100, visible=EVERYTHING)
    assert len(everything.tracks) == 18 and everything.pages == 1


async def test_lineage_and_children(store: Store) -> None:
    root, cover, variation, extension = await _lineage(store)
    assert [t.id for t in await store.ancestors(variation)] == [cover, root]  # direct parent first
    assert [t.id for t in await store.ancestors(variation, limit=1)] == [cover]
    assert await store.ancestors(root) == []
    assert [t.id for t in await store.children(root)] == [cover]  # the deleted extension is not listed
    deleted = await store.track(extension)
    assert deleted is not None and deleted.deleted  # still there for what was made from it
    assert not await store.delete_track(extension)
    assert await store.track(999) is None


async def test_find_tracks_and_pages(store: Store) -> None:
    root, cover, variation, _ = await _lineage(store)
    assert [t.id for t in await store.find_tracks(1, "")] == [variation, cover, root]
    assert [t.id for t in await store.find_tracks(1, "vari")] == [variation]
    assert [t.id for t in await store.find_tracks(1, "FOLK")] == [root]  # by style, in any case
    assert [t.id for t in await store.find_tracks(1, str(cover))] == [cover]
    assert await store.find_tracks(1, "%") == [] and await store.find_tracks(1, "_") == []
    assert await store.find_tracks(2, "") == []
    assert [t.id for t in await store.find_tracks(1, "", limit=2)] == [variation, cover]
    page = await store.track_page(1, None, 0, 2, visible=EVERYTHING)
    assert ([t.id for t in page.tracks], page.page, page.pages) == ([variation, cover], 0, 2)
    page = await store.track_page(1, None, 7, 2, visible=EVERYTHING)  # past the end: the last page
    assert ([t.id for t in page.tracks], page.page, page.pages) == ([root], 1, 2)
    page = await store.track_page(1, 99, 0, 2, visible=EVERYTHING)
    assert (page.tracks, page.page, page.pages) == ([], 0, 1)
    await store.set_thread(root, 4242)
    assert (await store.track(root)).thread_id == 4242  # type: ignore[union-attr]


# --- credits and settings -----------------------------------------------------------------------------------------
async def test_member_grants_do_not_raise_the_server_balance(store: Store) -> None:
    await store.grant(1, 50, "p", member_id=None, actor_id=9, now=NOW)
    await store.grant(1, 5, "p", member_id=7, actor_id=9, now=NOW, note="well done")
    balances = await store.balances(1, 7, "p")
    assert (balances.server_sum, balances.member_sum, balances.member_cap) == (50, 5, None)
    assert (await store.balances(1, 7, "other period")).server_sum == 0
    await store.set_member_cap(1, 7, 25)
    assert (await store.balances(1, 7, "p")).member_cap == 25
    await store.set_member_cap(1, 7, 40)
    assert (await store.balances(1, 7, "p")).member_cap == 40
    await store.set_member_cap(1, 7, None)
    assert (await store.balances(1, 7, "p")).member_cap is None


async def test_settings_round_trip_and_a_reset_is_one_write(store: Store) -> None:
    assert await store.guild_settings(1) is None
    settings = GuildSettings(
        guild_id=1,
        budget=500,
        period=Period.WEEK,
        member_cap=20,
        costs={Operation.CREATE: 3},
        allowed_channel_ids=[10, 11],
        required_role_id=5,
        remix_threads=False,
        audit_channel_id=6,
        default_model="FUZZ-2.0 Pro",
        cooldown_s=30.0,
        use_default_blocklist=False,
    )
    await store.save_settings(settings)
    assert await store.guild_settings(1) == settings
    reset = settings.model_copy(update={"reset_epoch": 1})
    await store.reset_period(reset, "week:2027-01-04#1", actor_id=9, now=NOW)
    assert await store.guild_settings(1) == reset
    assert (await store.balances(1, 2, "week:2027-01-04#1")).server_sum == 0
    assert await store.guild_settings(2) is None


# --- moderation and provider state --------------------------------------------------------------------------------
async def test_blocked_terms_and_bans(store: Store) -> None:
    assert await store.add_blocked_term(1, "kazoo", is_regex=False, added_by=9, now=NOW)
    assert not await store.add_blocked_term(1, "kazoo", is_regex=False, added_by=9, now=NOW)
    assert await store.add_blocked_term(1, r"kaz+oo\d+", is_regex=True, added_by=9, now=NOW)
    terms = await store.blocked_terms(1)
    assert [(t.pattern, t.is_regex) for t in terms] == [("kazoo", False), (r"kaz+oo\d+", True)]
    assert await store.blocked_terms(2) == []
    assert await store.remove_blocked_term(1, "kazoo")
    assert not await store.remove_blocked_term(1, "kazoo")
    assert [t.pattern for t in await store.blocked_terms(1)] == [r"kaz+oo\d+"]

    await store.ban(1, 7, reason="spam", banned_by=9, now=NOW)
    await store.ban(1, 7, reason="more spam", banned_by=8, now=NOW + 1)
    await store.ban(1, 8, reason=None, banned_by=9, now=NOW + 2)
    bans = await store.bans(1)
    assert [(b.user_id, b.reason, b.banned_by) for b in bans] == [(7, "more spam", 8), (8, None, 9)]
    assert await store.unban(1, 7) and not await store.unban(1, 7)
    assert [b.user_id for b in await store.bans(1)] == [8]


async def test_retired_operations_and_webhook_receipts(store: Store) -> None:
    await store.retire_operation("producer", Operation.COVER, message="Gone.", now=NOW)
    await store.retire_operation("producer", Operation.COVER, message="Again.", now=NOW + 1)  # the first one stays
    await store.retire_operation("producer", Operation.EXTEND, message=None, now=NOW)
    assert await store.retired_operations("producer") == {Operation.COVER: "Gone.", Operation.EXTEND: None}
    assert await store.retired_operations("fuzz") == {}
    assert await store.reinstate_operation("producer", Operation.EXTEND)
    assert not await store.reinstate_operation("producer", Operation.EXTEND)
    assert await store.retired_operations("producer") == {Operation.COVER: "Gone."}

    assert await store.record_webhook(WebhookReceipt("old", "t-1"), NOW - 8 * 86400)
    assert await store.record_webhook(WebhookReceipt("new", "t-2"), NOW)
    assert not await store.record_webhook(WebhookReceipt("new", "t-2"), NOW + 1)
    # Processed ids expire: the table cannot grow without bound (and an old id may be used again).
    assert await store.prune_webhooks(NOW - 7 * 86400) == 1
    assert await store.prune_webhooks(NOW - 7 * 86400) == 0
    assert not await store.record_webhook(WebhookReceipt("new", "t-2"), NOW + 2)
    assert await store.record_webhook(WebhookReceipt("old", "t-1"), NOW + 2)


# --- Sonic in Discord: two parents, follow-ups, tool results, timelines, personas, the confirmation threshold -------
async def test_a_mashup_keeps_both_parents_and_each_lists_it_as_a_child(store: Store) -> None:
    first, second = await admit(store), await admit(store)
    [a] = (await finish(store, first, clip(1)))[first.id].tracks
    [b] = (await finish(store, second, clip(2)))[second.id].tracks
    job = await store.admit(
        JobTicket(
            guild_id=1,
            channel_id=3,
            user_id=2,
            operation=Operation.MASHUP,
            request={"api": "sonic", "operation": "mashup", "clip_ids": ["c-1", "c-2"]},
            provider="sonic",
            period_key=PERIOD,
            parent_track_id=a.id,
            now=NOW,
            second_parent_track_id=b.id,
        ),
        lambda snapshot: 15,
    )
    assert job.second_parent_track_id == b.id and (await store.job(job.id)) == job
    [mashup] = (await finish(store, job, clip(3)))[job.id].tracks
    assert (mashup.parent_track_id, mashup.second_parent_track_id) == (a.id, b.id)
    assert [t.id for t in await store.children(a.id)] == [mashup.id]
    assert [t.id for t in await store.children(b.id)] == [mashup.id]
    assert [t.id for t in await store.ancestors(mashup.id)] == [a.id]


async def test_a_follow_up_is_recorded_and_its_partials_kept_as_the_full_songs_parents(store: Store) -> None:
    first = await admit(store)
    [root] = (await finish(store, first, clip(1)))[first.id].tracks
    job = await admit(store, cost=12, operation=Operation.EXTEND, parent_track_id=root.id)
    await store.mark_submitted(job.id, "t-1", NOW + 1)
    state = {"step": "concat", "takes": [{"clip_id": "x-1"}, {"clip_id": "x-2"}], "joined": []}
    assert await store.record_followup(job.id, "t-2", state, NOW + 2)
    stored = await store.job(job.id)
    assert stored is not None and stored.task_id == "t-2" and stored.followup == state
    assert [j.followup for j in await store.unfinished_jobs() if j.id == job.id] == [state]
    completion = Completion(stored, (clip(11), clip(12)), partials=(clip(21), clip(22)))
    done = (await store.finish_jobs([completion], [], NOW + 3))[job.id]
    takes = [t for t in done.tracks if t.operation is Operation.EXTEND]
    full = [t for t in done.tracks if t.operation is Operation.CONCAT]
    assert [t.clip_id for t in takes] == ["c-21", "c-22"] and [t.clip_id for t in full] == ["c-11", "c-12"]
    assert all(t.parent_track_id == root.id for t in takes)
    assert [t.parent_track_id for t in full] == [t.id for t in takes]
    assert [t.id for t in await store.tracks_of_job(job.id)] == sorted(t.id for t in done.tracks)
    assert await ledger(store, job.id) == [(LedgerKind.RESERVE, -12), (LedgerKind.COMMIT, 0)]
    # A job that ended refuses a follow-up.
    assert not await store.record_followup(job.id, "t-3", state, NOW + 4)


async def test_a_tool_job_keeps_its_result_instead_of_making_tracks(store: Store) -> None:
    first = await admit(store)
    [root] = (await finish(store, first, clip(1)))[first.id].tracks
    job = await admit(
        store,
        cost=20,
        operation=Operation.STEMS_BASIC,
        request={"tool": "stems_basic", "clip_id": "c-1", "options": {}},
        parent_track_id=root.id,
    )
    result = '[{"name": "Vocals", "url": "https://files.test/v.wav"}]'
    done = await store.finish_jobs([Completion(job, (clip(5),), result_text=result)], [], NOW + 5)
    assert done[job.id].tracks == () and done[job.id].job.result_text == result
    assert (await store.job(job.id)).result_text == result  # type: ignore[union-attr]
    assert await store.tracks_of_job(job.id) == []
    # A tool answered at once: settled with its answer, nothing left to deliver.
    quick = await admit(store, cost=1, operation=Operation.BPM, request={"tool": "bpm", "clip_id": "c-1"})
    assert await store.complete_at_once(quick.id, '{"avg": 120}', NOW + 6)
    stored = await store.job(quick.id)
    assert stored is not None and stored.state is JobState.SUCCEEDED and stored.delivered_at is not None
    assert stored.result_text == '{"avg": 120}'
    assert await ledger(store, quick.id) == [(LedgerKind.RESERVE, -1), (LedgerKind.COMMIT, 0)]
    assert not await store.complete_at_once(quick.id, "{}", NOW + 7)  # once


async def test_a_lyrics_timeline_is_kept_with_its_track(store: Store) -> None:
    words = (AlignedWord(word="la", start_s=1.0, end_s=1.5, line=0), AlignedWord(word="do", start_s=2.0, end_s=2.5))
    job = await admit(store)
    [with_words, without] = (
        await finish(store, job, clip(1, alignment=LyricsAlignment(words=words)), clip(2, alignment=None))
    )[job.id].tracks
    assert with_words.alignment == LyricsAlignment(words=words) and without.alignment is None
    assert (await store.track(with_words.id)).alignment == LyricsAlignment(words=words)  # type: ignore[union-attr]
    later = LyricsAlignment(words=(AlignedWord(word="mi", start_s=3.0, end_s=3.5),))
    await store.set_alignment(without.id, later)
    assert (await store.track(without.id)).alignment == later  # type: ignore[union-attr]


async def test_personas_are_kept_per_server_and_provider_one_name_each(store: Store) -> None:
    job = await admit(store, cost=10, operation=Operation.PERSONA, request={"api": "sonic", "operation": "persona"})
    saved = await store.save_persona(job.id, NewPersona(1, "sonic", "Velvet", "p-1", None, 2), NOW)
    assert saved is not None and (saved.name, saved.persona_id, saved.created_by) == ("Velvet", "p-1", 2)
    stored = await store.job(job.id)
    assert stored is not None and stored.state is JobState.SUCCEEDED and stored.delivered_at is not None
    assert await ledger(store, job.id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]
    # The same name (in any case) in the same server and provider writes nothing and settles nothing.
    other = await admit(store, cost=10, operation=Operation.PERSONA, request={"api": "sonic", "operation": "persona"})
    assert await store.save_persona(other.id, NewPersona(1, "sonic", "VELVET", "p-2", None, 3), NOW) is None
    assert (await store.job(other.id)).state is JobState.QUEUED  # type: ignore[union-attr]
    assert await store.save_persona(other.id, NewPersona(2, "sonic", "Velvet", "p-3", None, 3), NOW) is not None
    await store.save_persona(job.id, NewPersona(1, "sonic", "Amber", "p-4", None, 2), NOW)
    await store.save_persona(job.id, NewPersona(1, "producer", "Zed", "p-5", None, 2), NOW)
    assert [p.name for p in await store.personas(1, "sonic")] == ["Amber", "Velvet"]
    assert await store.persona(saved.id) == saved
    assert await store.delete_persona(saved.id) and not await store.delete_persona(saved.id)
    assert await store.persona(saved.id) is None


async def test_the_confirmation_threshold_round_trips(store: Store) -> None:
    settings = GuildSettings(guild_id=7, budget=100, period=Period.WEEK, confirm_above=35)
    await store.save_settings(settings)
    assert (await store.guild_settings(7)) == settings
