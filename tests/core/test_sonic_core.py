"""Core with a provider like Sonic, on fakes: the full song after an extension (a follow-up step), mashups with
two parents, tools as jobs, personas, and the confirmation asked before an expensive job."""

from __future__ import annotations

import pytest

from bot.core.assembly import Core
from bot.core.confirmations import Confirmations
from bot.domain.audit import PersonaChanged, Refused, ToolUsed
from bot.domain.errors import (
    ConfirmationNeeded,
    ErrorKind,
    InvalidRequest,
    NotAllowed,
    NotFound,
    OperationUnavailable,
    ProviderError,
)
from bot.domain.models import JobState, LedgerKind, Operation
from bot.domain.outcomes import FailureKind
from bot.domain.requester import Requester
from bot.domain.sonic import SONIC_MODELS, Bpm, LyricsAlignment, SonicConcat, SonicCreate, Tool, UpsampledTags
from tests.core.rig import ADMIN, CONFIG, WHO, Rig, rig
from tests.fakes import FakeClock, FakeProvider, MemoryStore, RecordingNotifier

BO = Requester(guild_id=1, channel_id=10, user_id=200)


async def _song(r: Rig, title: str = "Root", who: Requester = WHO) -> int:
    """A finished track (its id)."""
    before = len(r.notifier.succeeded)
    await r.admit({"sound": "folk", "title": title}, who=who)
    await r.delivered(len(r.notifier.finished_ids) + 1)
    assert len(r.notifier.succeeded) == before + 1
    return r.notifier.succeeded[-1].cards[0].track.id


# --- the full song after an extension -----------------------------------------------------------------------------
async def test_an_extension_is_joined_into_the_full_song_and_its_takes_kept_in_the_lineage() -> None:
    async with rig(extensions_are_partial=True, clips_per_task=2) as r:
        root = await _song(r)
        root_clip = (await r.store.track(root)).clip_id  # type: ignore[union-attr]
        admitted = await r.admitted({"starts_at": 2}, operation=Operation.EXTEND, track_id=root)
        # The join is part of the price: an extension (10) and its concat (2).
        assert admitted.job.cost == 12
        await r.delivered(2)
        result = r.notifier.succeeded[-1]
        # Two takes, each joined (one at a time) into its full song: the full songs are posted.
        assert [c.track.operation for c in result.cards] == [Operation.CONCAT, Operation.CONCAT]
        assert all(c.parent is not None and c.parent.id == root for c in result.cards)
        tracks = await r.store.tracks_of_job(admitted.job.id)
        takes = [t for t in tracks if t.operation is Operation.EXTEND]
        full = [t for t in tracks if t.operation is Operation.CONCAT]
        assert len(takes) == 2 and len(full) == 2
        assert all(t.parent_track_id == root and t.message_id is None for t in takes)  # kept, never posted
        assert sorted(t.parent_track_id for t in full) == sorted(t.id for t in takes)
        concats = [t.request for t in r.provider.tasks.values() if isinstance(t.request, SonicConcat)]
        assert sorted(c.clip_id for c in concats) == sorted(t.clip_id for t in takes)
        assert root_clip not in {c.clip_id for c in concats}
        # The lineage shows the take between the song and its full version.
        lineage = await r.core.library.lineage(WHO, full[0].id)
        assert [a.id for a in lineage.ancestors] == [root, full[0].parent_track_id]
        assert await r.ledger(admitted.job.id) == [(LedgerKind.RESERVE, -12), (LedgerKind.COMMIT, 0)]
        joining = [p for jid, p in r.notifier.progress if jid == admitted.job.id and p.joining]
        assert joining  # the status message said it was joining the full song


async def test_a_join_in_progress_carries_on_after_a_restart() -> None:
    clock, store, notifier = FakeClock(), MemoryStore(), RecordingNotifier()
    provider = FakeProvider(clock, extensions_are_partial=True, clips_per_task=2)
    async with rig(clock=clock, store=store, provider=provider, notifier=notifier) as r:
        root = await _song(r)
        job_id = await r.admit({"starts_at": 2}, operation=Operation.EXTEND, track_id=root)
        await r.until(lambda: any(isinstance(t.request, SonicConcat) for t in provider.tasks.values()))
        job = await store.job(job_id)
        assert job is not None and job.followup is not None and job.state is not JobState.SUCCEEDED
    submits = provider.submits
    # A new process on the same store: the job is tracked again, on its current (concat) task.
    async with rig(clock=clock, store=store, provider=provider, notifier=notifier) as r:
        await r.until(lambda: job_id in notifier.finished_ids)
        extension_tasks = [t for t in provider.tasks.values() if not isinstance(t.request, SonicConcat)]
        assert len(extension_tasks) == 2  # the song and the extension: nothing was submitted again
        assert provider.submits == submits + 1  # only the second take's join is left
        assert len(notifier.tracks(job_id)) == 2


async def test_a_join_that_fails_fails_the_job_and_refunds_it() -> None:
    async with rig(extensions_are_partial=True) as r:
        root = await _song(r)
        job_id = await r.admit({"starts_at": 2}, operation=Operation.EXTEND, track_id=root)
        await r.until(lambda: len(r.provider.tasks) == 2)
        r.provider.submit_errors.append(ProviderError(ErrorKind.RETIRED, "concat is gone"))
        await r.delivered(2)
        [(job, failure, refunded)] = r.notifier.failed
        assert job.id == job_id and refunded == 12 and failure.kind is FailureKind.RETIRED
        assert await r.ledger(job_id) == [(LedgerKind.RESERVE, -12), (LedgerKind.REFUND, 12)]
        # Without the join there is no full song to give: extending is switched off (nothing charged).
        with pytest.raises(OperationUnavailable, match="full-song join"):
            await r.admit({"starts_at": 2}, operation=Operation.EXTEND, track_id=root)
        assert await r.remaining() == 990


# --- mashups ------------------------------------------------------------------------------------------------------
async def test_a_mashup_has_two_parents_and_credits_both_authors() -> None:
    async with rig() as r:
        ana_song = await _song(r, "Ana's", WHO)
        bo_song = await _song(r, "Bo's", BO)
        with pytest.raises(InvalidRequest, match="two tracks"):
            await r.admitted({}, operation=Operation.MASHUP, track_id=ana_song)
        admitted = await r.core.admission.admit(
            WHO, Operation.MASHUP, {"tags": "disco"}, track_id=ana_song, second_track_id=bo_song
        )
        assert admitted.job.cost == 15
        assert (admitted.job.parent_track_id, admitted.job.second_parent_track_id) == (ana_song, bo_song)
        assert admitted.request.clip_ids == (  # type: ignore[union-attr]
            (await r.store.track(ana_song)).clip_id,  # type: ignore[union-attr]
            (await r.store.track(bo_song)).clip_id,  # type: ignore[union-attr]
        )
        await r.delivered(3)
        [card] = r.notifier.succeeded[-1].cards
        assert card.parent is not None and card.parent.author_id == WHO.user_id
        assert card.second_parent is not None and card.second_parent.author_id == BO.user_id
        mashup = card.track
        assert (mashup.parent_track_id, mashup.second_parent_track_id) == (ana_song, bo_song)
        # Both songs list the mashup among what came of them; its lineage names both.
        assert mashup.id in [c.id for c in (await r.core.library.lineage(WHO, bo_song)).children]
        assert mashup.id in [c.id for c in (await r.core.library.lineage(WHO, ana_song)).children]
        lineage = await r.core.library.lineage(WHO, mashup.id)
        assert [a.id for a in lineage.ancestors] == [ana_song] and lineage.second_parent.id == bo_song  # type: ignore[union-attr]
        shown = await r.core.library.show(WHO, mashup.id)
        assert shown.card.second_parent is not None and shown.card.second_parent.id == bo_song


async def test_a_mashup_needs_two_different_tracks_of_the_server() -> None:
    async with rig() as r:
        song = await _song(r)
        with pytest.raises(InvalidRequest, match="two different tracks"):
            await r.core.admission.admit(WHO, Operation.MASHUP, {}, track_id=song, second_track_id=song)
        with pytest.raises(NotFound):
            await r.core.admission.admit(WHO, Operation.MASHUP, {}, track_id=song, second_track_id=99)
        assert await r.remaining() == 990


# --- the provider's vocabulary ------------------------------------------------------------------------------------
async def test_sonic_requests_use_sonic_models_and_limits_and_reload_after_a_restart() -> None:
    clock, store, notifier = FakeClock(), MemoryStore(), RecordingNotifier()
    provider = FakeProvider(clock, request_dialect="sonic", models=SONIC_MODELS, render_s=30.0)
    async with rig(clock=clock, store=store, provider=provider, notifier=notifier, start=False) as r:
        with pytest.raises(InvalidRequest, match=r"unknown model 'FUZZ-2\.0'; choose one of: sonic-v5-5"):
            await r.admit({"sound": "jazz", "model": "FUZZ-2.0"})
        # Limits per model: 3000 characters of lyrics on sonic-v4, 5000 from sonic-v4-5 on.
        lyrics = "la " * 1100
        with pytest.raises(InvalidRequest, match="at most 3000 characters with sonic-v4"):
            await r.admit({"sound": "jazz", "lyrics": lyrics, "model": "sonic-v4"})
        admitted = await r.admitted({"sound": "jazz", "lyrics": lyrics, "model": "chirp-v5", "title": "Long"})
        assert isinstance(admitted.request, SonicCreate) and admitted.request.model == "sonic-v5"
        assert admitted.request.tags == "jazz" and admitted.request.custom_mode
        assert await r.remaining() == 990  # the refusals cost nothing
        job_id = admitted.job.id
    async with rig(clock=clock, store=store, provider=provider, notifier=notifier) as r:
        # The stored Sonic request is read back and submitted after the restart.
        await r.delivered(1)
        [task] = provider.tasks.values()
        assert isinstance(task.request, SonicCreate) and task.request.lyrics == lyrics.strip()
        assert notifier.succeeded[0].job.id == job_id


# --- studio tools -------------------------------------------------------------------------------------------------
async def test_a_tool_answered_at_once_is_charged_audited_and_refunded_on_failure() -> None:
    async with rig() as r:
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        song = await _song(r)
        answer = await r.core.tools.run(WHO, Tool.BPM, track_id=song)
        assert answer.result == Bpm(avg=120.0, min=118.0, max=122.0) and answer.cost == 1
        assert await r.ledger(answer.job.id) == [(LedgerKind.RESERVE, -1), (LedgerKind.COMMIT, 0)]  # type: ignore[union-attr]
        r.provider.tool_errors.append(ProviderError(ErrorKind.UNAVAILABLE, "The MIDI is still being made."))
        with pytest.raises(ProviderError, match="still being made"):
            await r.core.tools.run(WHO, Tool.MIDI, track_id=song)
        assert await r.remaining() == 1000 - 10 - 1
        used = [e for _, _, e in r.notifier.audits if isinstance(e, ToolUsed)]
        assert [(e.operation, e.cost, e.error) for e in used] == [
            (Operation.BPM, 1, None),
            (Operation.MIDI, 0, "The MIDI is still being made."),
        ]


async def test_a_lyrics_timeline_is_kept_and_answered_again_for_free() -> None:
    async with rig() as r:
        song = await _song(r)
        first = await r.core.tools.run(WHO, Tool.LYRICS_TIMELINE, track_id=song)
        assert isinstance(first.result, LyricsAlignment) and first.cost == 1
        again = await r.core.tools.run(BO, Tool.LYRICS_TIMELINE, track_id=song)
        assert again.result == first.result and again.cost == 0 and again.job is None
        assert [c[0] for c in r.provider.tool_calls] == [Tool.LYRICS_TIMELINE]  # asked of the provider once
        assert (await r.store.track(song)).alignment == first.result  # type: ignore[union-attr]


async def test_a_tool_the_provider_lacks_is_refused_without_charge() -> None:
    async with rig(tools=frozenset(), operations=frozenset(Operation) - {o for o in Operation if o.is_tool}) as r:
        song = await _song(r)
        assert r.core.tools.offered(await r.store.track(song)) == ()
        with pytest.raises(OperationUnavailable, match="MIDI isn't offered by the current music provider"):
            await r.core.tools.run(WHO, Tool.MIDI, track_id=song)
        with pytest.raises(OperationUnavailable, match="isn't offered"):
            await r.core.admission.admit(WHO, Operation.STEMS_BASIC, {}, track_id=song)
        assert await r.remaining() == 990


async def test_stems_run_as_a_job_and_their_files_come_back_with_the_result() -> None:
    async with rig() as r:
        song = await _song(r)
        admitted = await r.core.admission.admit(WHO, Operation.STEMS_BASIC, {}, track_id=song)
        assert admitted.job.cost == 20 and admitted.position == 1
        await r.delivered(2)
        result = r.notifier.succeeded[-1]
        assert result.job.operation is Operation.STEMS_BASIC and result.source is not None
        assert result.source.id == song and result.cards == ()
        stored = await r.store.job(admitted.job.id)
        assert stored is not None and stored.result_text is not None
        assert '"name": "Vocals"' in stored.result_text and '"name": "Instrumental"' in stored.result_text
        assert await r.ledger(admitted.job.id) == [(LedgerKind.RESERVE, -20), (LedgerKind.COMMIT, 0)]


async def test_upsample_tags_need_no_track_and_the_suggestion_is_kept() -> None:
    async with rig() as r:
        answer = await r.core.tools.run(WHO, Tool.UPSAMPLE_TAGS, options={"tags": "lofi"})
        assert answer.result == UpsampledTags(tags="lofi, warm pads, 90 bpm")
        assert await r.core.tools.suggestion(1, answer.job.id) == "lofi, warm pads, 90 bpm"  # type: ignore[union-attr]
        with pytest.raises(InvalidRequest):
            await r.core.tools.suggestion(2, answer.job.id)  # type: ignore[union-attr]  # another server's


# --- personas -----------------------------------------------------------------------------------------------------
async def test_personas_are_saved_per_server_and_sing_later_songs() -> None:
    async with rig() as r:
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        song = await _song(r)
        persona, cost = await r.core.personas.save(WHO, song, "Velvet", description="smoky alto")
        assert cost == 10 and persona.name == "Velvet" and persona.persona_id == "persona-1"
        with pytest.raises(InvalidRequest, match="already has a persona named “velvet”"):
            await r.core.personas.save(BO, song, "velvet")
        assert [p.name for p in await r.core.personas.find(1, "vel")] == ["Velvet"]
        admitted = await r.core.admission.admit(WHO, Operation.CREATE, {"sound": "jazz"}, persona=persona.id)
        assert admitted.job.request["persona_id"] == "persona-1"
        with pytest.raises(NotFound):
            await r.core.admission.admit(Requester(2, 10, 100), Operation.CREATE, {"sound": "x"}, persona=persona.id)
        with pytest.raises(NotAllowed):
            await r.core.personas.forget(BO, persona.id)
        await r.core.personas.forget(WHO, persona.id)
        assert await r.core.personas.of_server(1) == []
        saved = [e for _, _, e in r.notifier.audits if isinstance(e, PersonaChanged)]
        assert [(e.saved, e.cost) for e in saved] == [(True, 10), (False, 0)]


async def test_a_retired_persona_call_is_refunded_and_switched_off() -> None:
    async with rig() as r:
        song = await _song(r)
        r.provider.tool_errors.append(ProviderError(ErrorKind.RETIRED, "Personas are no longer available."))
        with pytest.raises(ProviderError):
            await r.core.personas.save(WHO, song, "Velvet")
        assert await r.remaining() == 990
        assert Operation.PERSONA not in r.core.catalog.available()
        with pytest.raises(OperationUnavailable, match="retired"):
            await r.core.personas.save(WHO, song, "Velvet")


# --- confirmation -------------------------------------------------------------------------------------------------
async def test_a_job_over_the_threshold_asks_first_and_reserves_nothing_until_confirmed() -> None:
    async with rig() as r:
        song = await _song(r)
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        with pytest.raises(ConfirmationNeeded) as asked:
            await r.core.admission.admit(WHO, Operation.STEMS_FULL, {}, track_id=song)
        assert (asked.value.cost, asked.value.remaining) == (50, 990)
        assert str(asked.value) == "This costs 50 credits (you have 990 left)."
        assert await r.remaining() == 990 and len(await r.store.unfinished_jobs()) == 0
        assert not [e for _, _, e in r.notifier.audits if isinstance(e, Refused)]  # a question, not a refusal
        # Confirmed: admitted at that price.
        admitted = await r.core.admission.admit(WHO, Operation.STEMS_FULL, {}, track_id=song, confirmed_cost=50)
        assert admitted.job.cost == 50 and await r.remaining() == 940
        # A price raised since the question asks again, rather than charging more than was confirmed.
        await r.core.credits.set_cost(ADMIN, Operation.STEMS_FULL, 60)
        with pytest.raises(ConfirmationNeeded) as again:
            await r.core.admission.admit(WHO, Operation.STEMS_FULL, {}, track_id=song, confirmed_cost=50)
        assert again.value.cost == 60
        # At or under the threshold (20 by default; a per-server setting), nothing is asked.
        await r.core.admission.admit(WHO, Operation.STEMS_BASIC, {}, track_id=song)
        await r.core.studio.update_settings(ADMIN, confirm_above=10)
        await r.core.admission.admit(WHO, Operation.CREATE, {"sound": "jazz"})  # 10 is not more than 10
        await r.core.studio.update_settings(ADMIN, confirm_above=9)
        with pytest.raises(ConfirmationNeeded):
            await r.core.admission.admit(WHO, Operation.CREATE, {"sound": "jazz"})


async def test_a_refusal_wins_over_the_question() -> None:
    async with rig(budget=30) as r:
        song = await _song(r)
        with pytest.raises(Exception, match="This server has 20 credits left and stems"):
            await r.core.admission.admit(WHO, Operation.STEMS_FULL, {}, track_id=song)


async def test_confirmations_are_for_their_member_once_and_expire() -> None:
    clock = FakeClock()
    held = Confirmations(clock, ttl_s=600)
    first = held.hold(WHO, operation="Stems", cost=50, remaining=990, action="job", args={"n": 1})
    with pytest.raises(NotAllowed):
        held.take(first.token, BO)
    assert held.take(first.token, WHO).args == {"n": 1}
    with pytest.raises(NotFound, match="expired"):
        held.take(first.token, WHO)  # used
    late = held.hold(WHO, operation="Stems", cost=50, remaining=990, action="job", args={})
    await clock.advance(601)
    with pytest.raises(NotFound, match="expired"):
        held.take(late.token, WHO)
    assert held.cancel(held.hold(WHO, operation="x", cost=1, remaining=1, action="job", args={}).token, WHO)
    assert len(held) == 0


def test_core_exposes_the_new_services() -> None:
    clock = FakeClock()
    core = Core(store=MemoryStore(), provider=FakeProvider(clock), clock=clock, config=CONFIG)
    assert core.tools.offered() and core.confirmations is not None and core.personas is not None
