"""Admission: every rule in one place, the reservation with the job, and nothing spent on a refusal."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.admission import content_of
from bot.core.blocklist import file_name_text
from bot.domain.audit import Refused
from bot.domain.errors import (
    Blocked,
    ConfirmationNeeded,
    CreditsExhausted,
    InvalidRequest,
    MissingRole,
    NotAllowed,
    NotFound,
    OperationUnavailable,
    QuotaExceeded,
    WrongChannel,
)
from bot.domain.models import GuildSettings, Operation, Period
from bot.domain.requester import Requester
from bot.domain.sonic import SONIC_MODELS
from tests.core.rig import ADMIN, WHO, Rig, rig
from tests.fakes import MemoryStore


async def _admit_many(r: Rig, count: int, *, members: int = 1) -> list[object]:
    return await asyncio.gather(
        *(
            r.core.admission.admit(Requester(1, 2, 100 + i % members), Operation.CREATE, {"sound": "jazz"})
            for i in range(count)
        ),
        return_exceptions=True,
    )


async def test_200_concurrent_admissions_never_overspend() -> None:
    async with rig(budget=735, max_jobs_member=1000, max_jobs_server=1000, start=False) as r:  # 73 creates of 10
        results = await _admit_many(r, 200, members=7)
        admitted = [x for x in results if not isinstance(x, BaseException)]
        refused = [x for x in results if isinstance(x, QuotaExceeded)]
        assert len(admitted) == 73 and len(refused) == 127
        quota = await r.core.credits.quota(1, 100)
        assert quota.server_remaining == 5
        assert "5 credits left" in str(refused[0])
        assert len(await r.store.unfinished_jobs()) == 73


async def test_member_cap_applies_inside_the_server_budget() -> None:
    async with rig(budget=1000, member_cap=25, max_jobs_member=1000, start=False) as r:
        results = await _admit_many(r, 10, members=1)
        assert sum(not isinstance(x, BaseException) for x in results) == 2
        quota = await r.core.credits.quota(1, 100)
        assert (quota.server_remaining, quota.member_remaining) == (980, 5)
        with pytest.raises(QuotaExceeded, match="You have 5 of your 25 credits left") as refused:
            await r.core.admission.admit(Requester(1, 2, 100), Operation.CREATE, {"sound": "more"})
        assert isinstance(refused.value, CreditsExhausted) and refused.value.resets_at == quota.resets_at


async def test_in_flight_limits() -> None:
    async with rig(max_jobs_member=2, max_jobs_server=3, start=False) as r:
        await r.admit({"sound": "a"})
        await r.admit({"sound": "b"})
        with pytest.raises(QuotaExceeded, match="already have 2 song"):
            await r.admit({"sound": "c"})
        await r.admit({"sound": "d"}, who=Requester(1, 10, 200))
        with pytest.raises(QuotaExceeded, match="This server already has 3 songs"):
            await r.admit({"sound": "e"}, who=Requester(1, 10, 300))
        # A refusal costs nothing.
        assert await r.remaining() == 970


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(0, 400), cost=st.integers(1, 40), count=st.integers(1, 60), members=st.integers(1, 5))
async def test_any_budget_admits_exactly_what_it_covers(budget: int, cost: int, count: int, members: int) -> None:
    async with rig(budget=budget, max_jobs_member=1000, max_jobs_server=1000, confirm_above=100, start=False) as r:
        await r.core.credits.set_cost(ADMIN, Operation.CREATE, cost)
        results = await _admit_many(r, count, members=members)
        admitted = sum(not isinstance(x, BaseException) for x in results)
        assert admitted == min(count, budget // cost)
        assert await r.remaining() == budget - admitted * cost >= 0


async def test_blocked_content_is_refused_before_any_database_lock_and_audited() -> None:
    async with rig() as r:
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        await r.core.studio.block_add(ADMIN, "kazoo", is_regex=False)
        before = r.store.calls["admit"]
        with pytest.raises(Blocked, match="Your style contains a blocked word"):
            await r.admit({"sound": "k a z o o anthem"})
        # The content check ran before the store's admission transaction was even opened (9.10).
        assert r.store.calls["admit"] == before
        assert await r.remaining() == 1000
        refused = [e for _, channel, e in r.notifier.audits if isinstance(e, Refused)]
        assert len(refused) == 1 and refused[0].error.rule == "word: kazoo"  # type: ignore[attr-defined]


async def test_bans_channels_roles_and_cooldown() -> None:
    async with rig(start=False) as r:
        await r.core.studio.update_settings(ADMIN, allowed_channel_ids=[10], required_role_id=5, cooldown_s=30)
        with pytest.raises(WrongChannel) as wrong:
            await r.admit(who=Requester(1, 11, 100, role_ids=frozenset({5})))
        assert wrong.value.allowed_channel_ids == (10,)
        # A thread belongs to its channel.
        threaded = Requester(1, 99, 100, role_ids=frozenset({5}), parent_channel_id=10)
        with pytest.raises(MissingRole) as role:
            await r.admit(who=Requester(1, 10, 100))
        assert role.value.role_id == 5
        await r.admit(who=threaded)
        with pytest.raises(NotAllowed, match=r"Slow down a little: you can start another song in 30 s\."):
            await r.admit(who=threaded)
        await r.clock.advance(20.0)
        with pytest.raises(NotAllowed, match=r"in 10 s\."):
            await r.admit(who=threaded)
        await r.clock.advance(11.0)
        await r.admit(who=threaded)
        # Admins are held to none of these.
        await r.admit(who=Requester(1, 42, 900, is_admin=True))
        await r.admit(who=Requester(1, 42, 900, is_admin=True))
        await r.core.studio.ban(ADMIN, 100, "spamming")
        with pytest.raises(NotAllowed, match=r"banned from making music in this server\. Reason: spamming"):
            await r.admit(who=threaded)
        assert await r.remaining() == 1000 - 4 * 10


async def test_unavailable_operations_and_missing_tracks_are_refused_for_free() -> None:
    async with rig(start=False, operations=frozenset({Operation.CREATE, Operation.EXTEND})) as r:
        with pytest.raises(OperationUnavailable, match="isn't offered by the current music provider"):
            await r.admit({}, operation=Operation.COVER, track_id=1)
        with pytest.raises(NotFound, match=r"There is no track #42 in this server\."):
            await r.admit({}, operation=Operation.EXTEND, track_id=42)
        with pytest.raises(InvalidRequest, match="Pick a track"):
            await r.admit({}, operation=Operation.EXTEND)
        with pytest.raises(InvalidRequest, match="Describe a style"):
            await r.admit({})
        assert r.store.calls["admit"] == 0 and await r.remaining() == 1000


async def test_the_server_s_default_model_is_used_when_none_is_picked() -> None:
    async with rig(start=False) as r:
        await r.core.studio.update_settings(ADMIN, default_model="fuzz-2.0 pro")
        assert (await r.core.studio.settings(1)).default_model == "FUZZ-2.0 Pro"
        job_id = await r.admit({"sound": "lofi"})
        assert (await r.store.job(job_id)).request["model"] == "FUZZ-2.0 Pro"  # type: ignore[union-attr]
        job_id = await r.admit({"sound": "lofi", "model": "FUZZ-2.0"})
        assert (await r.store.job(job_id)).request["model"] == "FUZZ-2.0"  # type: ignore[union-attr]


async def test_the_first_place_in_line_is_what_the_member_sees() -> None:
    async with rig(start=False, max_concurrency=1) as r:
        positions = [(await r.admitted(who=Requester(1, 10, 100 + i))).position for i in range(3)]
        assert positions == [1, 2, 3]
    assert await WHO.can_moderate(10) is False and await ADMIN.can_moderate(10) is True


# --- what each refusal says, exactly (a changed word is a changed message to the member) -------------------------
async def test_a_ban_without_a_reason_says_only_that() -> None:
    async with rig(start=False) as r:
        await r.core.studio.ban(ADMIN, 100, None)
        with pytest.raises(NotAllowed) as banned:
            await r.admit()
        assert str(banned.value) == "You are banned from making music in this server."


async def test_the_cooldown_ends_exactly_when_it_says() -> None:
    async with rig(start=False) as r:
        await r.core.studio.update_settings(ADMIN, cooldown_s=30)
        await r.admit()
        await r.clock.advance(29.5)
        with pytest.raises(NotAllowed, match=r"^Slow down a little: you can start another song in 0 s\.$"):
            await r.admit()
        await r.clock.advance(0.5)  # exactly 30 s after the last one
        await r.admit()
        # A one-second cooldown is a cooldown too.
        await r.core.studio.update_settings(ADMIN, cooldown_s=1)
        with pytest.raises(NotAllowed, match=r"in 1 s\.$"):
            await r.admit()
        assert await r.remaining() == 980


async def test_credit_refusals_name_the_operation_and_its_cost() -> None:
    async with rig(budget=25, start=False) as r:
        await r.admit()
        await r.admit()
        with pytest.raises(CreditsExhausted) as server:
            await r.admit()
        assert (server.value.remaining, server.value.cost, server.value.operation) == (5, 10, "create")
        assert str(server.value).startswith("This server has 5 credits left and create costs 10.")
    async with rig(member_cap=25, start=False) as r:
        await r.admit()
        await r.admit()
        with pytest.raises(CreditsExhausted) as member:
            await r.admit()
        assert (member.value.remaining, member.value.cost, member.value.operation) == (5, 10, "create")
        assert str(member.value).startswith("You have 5 of your 25 credits left and create costs 10.")


async def test_exactly_enough_credits_is_enough() -> None:
    async with rig(member_cap=20, start=False) as r:
        first = await r.admitted()
        assert first.remaining == 10
        second = await r.admitted()
        assert second.remaining == 0
        with pytest.raises(CreditsExhausted):
            await r.admit()
    async with rig(budget=20, start=False) as r:
        await r.admit()
        assert (await r.admitted()).remaining == 0


async def test_exact_texts_of_track_refusals() -> None:
    async with rig(start=False) as r:
        with pytest.raises(InvalidRequest) as missing:
            await r.admit({}, operation=Operation.EXTEND)
        assert str(missing.value) == "Pick a track to start from."
    async with rig() as r:
        await r.admit()
        await r.delivered(1)
        with pytest.raises(InvalidRequest) as one:
            await r.core.admission.admit(WHO, Operation.MASHUP, {}, track_id=1)
        assert str(one.value) == "A mashup takes two tracks: pick the second one too."
        with pytest.raises(InvalidRequest) as same:
            await r.core.admission.admit(WHO, Operation.MASHUP, {}, track_id=1, second_track_id=1)
        assert str(same.value) == "A mashup needs two different tracks."
        with pytest.raises(NotFound) as persona:
            await r.core.admission.admit(WHO, Operation.CREATE, {"sound": "jazz"}, persona=77)
        assert str(persona.value) == "That persona isn't saved in this server; pick one from the list."
        assert await r.remaining() == 990


# --- what admission hands on: the request, the parents, the place in line, what is left ---------------------------
async def test_blank_values_are_left_out_of_the_request() -> None:
    async with rig(start=False) as r:
        await r.core.studio.update_settings(ADMIN, default_model="fuzz-2.0 pro")
        admitted = await r.admitted({"sound": "lofi", "title": "", "model": "", "seed": None})
        assert admitted.job.request["model"] == "FUZZ-2.0 Pro"  # blank: the server's default, not ""
        assert admitted.job.request.get("title") is None and admitted.job.request.get("seed") is None


async def test_requests_without_a_model_are_admitted_when_the_server_has_a_default() -> None:
    async with rig(start=False) as r:
        await r.core.studio.update_settings(ADMIN, default_model="fuzz-2.0 pro")
        lyrics = await r.admitted({"idea": "a lighthouse"}, operation=Operation.LYRICS)
        assert "model" not in lyrics.job.request
        upload = await r.admitted({"audio_url": "https://example.com/a.mp3"}, operation=Operation.UPLOAD)
        assert "model" not in upload.job.request


async def test_jobs_answered_at_once_take_no_place_in_line() -> None:
    async with rig(start=False, max_concurrency=1) as r:
        assert (await r.admitted()).position == 1
        lyrics = await r.admitted({"idea": "a lighthouse"}, operation=Operation.LYRICS)
        assert lyrics.position is None
        assert (await r.admitted()).position == 2  # the lyrics job never joined the queue


async def test_a_remix_carries_its_parent_s_style_and_lyrics_unless_given_its_own() -> None:
    async with rig() as r:
        await r.admit({"sound": "folk", "title": "Root", "lyrics": "[Verse]\nrain on the roof"})
        await r.delivered(1)
        parent = await r.store.track(1)
        assert parent is not None and parent.tags and parent.lyrics
        variation = await r.admitted({}, operation=Operation.VARIATION, track_id=1)
        assert variation.parent is not None and variation.parent.id == 1 and variation.second_parent is None
        assert variation.job.parent_track_id == 1
        assert variation.job.request["sound"] == parent.tags
        assert variation.job.request["lyrics"] == parent.lyrics
        own = await r.admitted({"sound": "metal", "lyrics": "[Verse]\nmine"}, operation=Operation.VARIATION, track_id=1)
        assert (own.job.request["sound"], own.job.request["lyrics"]) == ("metal", "[Verse]\nmine")
        extension = await r.admitted({}, operation=Operation.EXTEND, track_id=1)
        assert extension.job.request["sound"] == parent.tags
        assert extension.job.request.get("lyrics") is None  # an extension's lyrics are the new part's own
        assert extension.remaining == 1000 - 4 * 10


async def test_a_mashup_hands_on_both_parents() -> None:
    async with rig() as r:
        await r.admit({"sound": "folk", "title": "One"})
        await r.admit({"sound": "jazz", "title": "Two"})
        await r.delivered(2)
        mashup = await r.core.admission.admit(WHO, Operation.MASHUP, {"tags": "disco"}, track_id=1, second_track_id=2)
        assert mashup.parent is not None and mashup.parent.id == 1
        assert mashup.second_parent is not None and mashup.second_parent.id == 2


async def test_sonic_extends_and_covers_an_upload_with_its_own_task_types() -> None:
    async with rig(request_dialect="sonic", models=SONIC_MODELS) as r:
        await r.admit({"audio_url": "https://example.com/a.mp3", "title": "Demo"}, operation=Operation.UPLOAD)
        await r.admit({"sound": "folk", "title": "Made"})
        await r.delivered(2)
        upload, made = (await r.store.track(1)), (await r.store.track(2))
        assert upload is not None and upload.operation is Operation.UPLOAD and made is not None
        for operation in (Operation.EXTEND, Operation.COVER):
            values = {"sound": "rock"}
            assert (await r.admitted(values, operation=operation, track_id=1)).job.request["uploaded"] is True
            assert (await r.admitted(values, operation=operation, track_id=2)).job.request.get("uploaded") is False
    async with rig() as r:  # the generic vocabulary has no such flag
        await r.admit({"audio_url": "https://example.com/a.mp3", "title": "Demo"}, operation=Operation.UPLOAD)
        await r.delivered(1)
        assert "uploaded" not in (await r.admitted({}, operation=Operation.EXTEND, track_id=1)).job.request


async def test_a_refusal_is_audited_with_who_what_and_the_request() -> None:
    async with rig() as r:
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        await r.core.studio.block_add(ADMIN, "kazoo", is_regex=False)
        with pytest.raises(Blocked):
            await r.admit({"sound": "jazz", "title": "kazoo time"})
        [refused] = [e for _, _, e in r.notifier.audits if isinstance(e, Refused)]
        assert refused.actor_id == WHO.user_id and refused.operation is Operation.CREATE
        assert refused.request is not None and refused.request.title == "kazoo time"  # type: ignore[attr-defined]
        assert refused.error.field == "title"  # type: ignore[attr-defined]


async def test_an_upload_s_file_name_is_checked_by_the_content_filter() -> None:
    async with rig(start=False) as r:
        await r.core.studio.block_add(ADMIN, "kazoo", is_regex=False)
        with pytest.raises(Blocked) as blocked:
            await r.admitted(
                {"audio_url": "https://example.com/a.mp3", "title": "Demo"},
                operation=Operation.UPLOAD,
                filename="kazoo_solo.wav",
            )
        assert blocked.value.field == "filename"
        assert await r.remaining() == 1000


def test_the_content_filter_reads_every_field_a_member_writes_in_the_order_a_refusal_names_them() -> None:
    everything = SimpleNamespace(
        sound="S", description="D", negative_tags="N", lyrics="L", title="T", name="Nm", styles="St", idea="I"
    )
    read = content_of(everything, "my song.wav")  # type: ignore[arg-type]
    assert list(read) == [
        "style",
        "description",
        "styles to avoid",
        "lyrics",
        "filename",
        "title",
        "name",
        "styles",
        "idea",
    ]
    assert read == {
        "style": "S",
        "description": "D",
        "styles to avoid": "N",
        "lyrics": "L",
        "filename": file_name_text("my song.wav"),
        "title": "T",
        "name": "Nm",
        "styles": "St",
        "idea": "I",
    }
    # A style is a sound, or (Sonic) tags, or a tool's tags option.
    assert content_of(SimpleNamespace(tags="Tg"), None)["style"] == "Tg"  # type: ignore[arg-type]
    assert content_of(SimpleNamespace(options={"tags": "Op"}), None)["style"] == "Op"  # type: ignore[arg-type]
    assert content_of(SimpleNamespace(sound="S", tags="Tg"), None)["style"] == "S"  # type: ignore[arg-type]
    empty = content_of(SimpleNamespace(), None)  # type: ignore[arg-type]
    assert set(empty.values()) == {None} and len(empty) == 9


async def test_a_default_model_is_not_sent_to_a_provider_without_a_choice_of_models() -> None:
    # Set while the server's provider had models; the operator then moved to one with none.
    store = MemoryStore()
    await store.save_settings(GuildSettings(guild_id=1, budget=1000, period=Period.MONTH, default_model="FUZZ-2.0 Pro"))
    async with rig(store=store, start=False, models=()) as r:
        admitted = await r.admitted({"sound": "lofi"})
        assert admitted.job.request.get("model") is None


async def test_asking_to_confirm_names_the_operation_its_cost_and_what_is_left() -> None:
    async with rig(confirm_above=20) as r:
        await r.core.credits.set_cost(ADMIN, Operation.COVER, 30)
        await r.admit({"sound": "folk", "title": "Root"})
        await r.delivered(1)
        with pytest.raises(ConfirmationNeeded) as asked:
            await r.admit({"sound": "rock"}, operation=Operation.COVER, track_id=1)
        assert (asked.value.operation, asked.value.cost, asked.value.remaining) == ("Cover", 30, 990)
        assert str(asked.value) == "This costs 30 credits (you have 990 left)."
        assert await r.remaining() == 990  # nothing reserved until the member confirms


async def test_an_early_reset_starts_fresh_credits_for_the_jobs_after_it() -> None:
    async with rig(budget=30, start=False) as r:
        await r.admit()
        await r.admit()
        assert await r.remaining() == 10
        await r.core.credits.reset_period(ADMIN)
        assert await r.remaining() == 30
        after = await r.admitted()
        assert after.remaining == 20 and await r.remaining() == 20  # charged to the new period, not the old one
        await r.admit()
        await r.admit()
        with pytest.raises(CreditsExhausted):
            await r.admit()
