"""Every word a member or an admin reads is made in bot/ui/render.py, from the structured values core returns:
failure reasons, refusals with mentions and Discord timestamps, audit lines, the provider page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.catalog import OperationInfo, ProviderInfo
from bot.domain import audit
from bot.domain.errors import Blocked, CreditsExhausted, InvalidRequest, MissingRole, WrongChannel
from bot.domain.models import CreateMusic, Job, JobState, Operation, Period, Track
from bot.domain.outcomes import Delivery, Failure, FailureKind, JobOutcome
from bot.ui import render

NOW = datetime(2027, 1, 5, 12, 0, tzinfo=UTC)


def job(**changes: object) -> Job:
    values: dict[str, object] = {
        "id": 7,
        "guild_id": 1,
        "channel_id": 2,
        "user_id": 3,
        "operation": Operation.CREATE,
        "request": {"operation": "create", "sound": "lofi beats", "title": "Night"},
        "provider": "sandbox",
        "state": JobState.FAILED,
        "cost": 10,
        "period_key": "p",
        "created_at": NOW,
    }
    values.update(changes)
    return Job.model_validate(values)


def track(track_id: int = 4, title: str = "Night") -> Track:
    return Track(
        id=track_id,
        job_id=7,
        guild_id=1,
        channel_id=2,
        author_id=3,
        provider="sandbox",
        clip_id="c",
        title=title,
        created_at=NOW,
    )


@pytest.mark.parametrize(
    ("failure", "text"),
    [
        (
            Failure(FailureKind.MODERATION, "Artist names: 'X'"),
            "The provider's content filter refused this: Artist names: 'X'",
        ),
        (
            Failure(FailureKind.MODERATION, "The provider's content filter flagged this request (moderation)."),
            "The provider's content filter flagged this request (moderation).",
        ),
        (
            Failure(FailureKind.RETIRED, "Gone."),
            "This operation was retired by the provider, so it's switched off for now.",
        ),
        (Failure(FailureKind.UNAVAILABLE, "GPU node lost"), "The music provider is down right now."),
        (Failure(FailureKind.AUTH), "The music provider refused the bot's account; an admin has to fix it."),
        (Failure(FailureKind.CREDITS), "The music provider refused the bot's account; an admin has to fix it."),
        (
            Failure(FailureKind.TIMEOUT, deadline_s=600.0),
            "The music provider did not finish within 10 minutes, so the job was given up.",
        ),
        (
            Failure(FailureKind.TIMEOUT, deadline_s=1.0),
            "The music provider did not finish within 1 second, so the job was given up.",
        ),
        (
            Failure(FailureKind.TIMEOUT, deadline_s=45.0),
            "The music provider did not finish within 45 seconds, so the job was given up.",
        ),
        (
            Failure(FailureKind.TIMEOUT, deadline_s=90.0),
            "The music provider did not finish within 1.5 minutes, so the job was given up.",
        ),
        (
            Failure(FailureKind.TIMEOUT, deadline_s=3600.0),
            "The music provider did not finish within 1 hour, so the job was given up.",
        ),
        (Failure(FailureKind.CANCELLED), "Cancelled."),
        (Failure(FailureKind.NOT_STARTED), "Could not start."),
        (Failure(FailureKind.REJECTED, "The style is too long."), "The style is too long."),
        (Failure.of("something new", "Odd."), "Odd."),
    ],
)
def test_failure_reasons_in_plain_words(failure: Failure, text: str) -> None:
    assert render.failure_reason(failure) == text


def test_a_failed_job_s_status_message() -> None:
    failed = render.failure_text(job(), Failure(FailureKind.UNAVAILABLE), 10)
    assert failed == (
        "🎵 <@3> · **Create** · “Night” · job #7\n"
        "❌ The music provider is down right now. Your 10 credits were returned."
    )
    cancelled = render.failure_text(job(state=JobState.CANCELLED), Failure(FailureKind.CANCELLED), 10)
    assert cancelled.endswith("\n🚫 Cancelled. Your 10 credits were returned.")


def test_refusals_name_channels_roles_and_the_reset_in_the_member_s_time() -> None:
    assert render.refusal(WrongChannel([10, 11])) == "Music can't be made in this channel. Try <#10>, <#11>."
    assert render.refusal(MissingRole(5)) == "You need the <@&5> role to make music here."
    resets = datetime(2027, 2, 1, tzinfo=UTC)
    server = CreditsExhausted(remaining=5, cost=10, operation="create", resets_at=resets)
    assert render.refusal(server) == (
        f"This server has 5 credits left and create costs 10. Credits reset <t:{int(resets.timestamp())}:R>, "
        "or an admin can grant more."
    )
    member = CreditsExhausted(remaining=-3, cost=10, operation="cover", resets_at=resets, member_cap=25)
    assert render.refusal(member).startswith("You have 0 of your 25 credits left and cover costs 10.")
    # Core's own text for the same errors carries no Discord markup.
    assert "<" not in str(server) + str(member) + str(WrongChannel([10])) + str(MissingRole(5))
    assert render.refusal(InvalidRequest("Pick a track to start from.")) == "Pick a track to start from."


def test_audit_lines() -> None:
    posted = JobOutcome(
        job=job(state=JobState.SUCCEEDED),
        tracks=(track(4), track(5, "Night (2)")),
        deliveries=(Delivery(4, 2, 900), Delivery(5, 2, 901)),
    )
    assert render.audit_line(audit.JobFinished(3, posted)) == (
        "<@3> **create finished** · job #7 · lofi beats → track #4 *Night*, track #5 *Night (2)* (-10 credits) "
        "https://discord.com/channels/1/2/900"
    )
    failed = JobOutcome(job=job(), failure=Failure(FailureKind.UNAVAILABLE), refunded=10)
    assert render.audit_line(audit.JobFinished(3, failed)) == (
        "<@3> **create finished** · job #7 · lofi beats → failed: The music provider is down right now. "
        "(10 credits returned)"
    )
    download = JobOutcome(
        job=job(
            operation=Operation.DOWNLOAD,
            state=JobState.SUCCEEDED,
            cost=2,
            request={"operation": "download", "clip_id": "c", "format": "wav"},
        )
    )
    assert render.audit_line(audit.JobFinished(3, download)).endswith("→ WAV delivered (-2 credits)")
    blocked = Blocked(
        "Your style contains a blocked word or phrase, so nothing was generated or charged.",
        rule="word: kazoo",
        field="style",
    )
    refused = audit.Refused(3, Operation.CREATE, CreateMusic(sound="kazoo"), blocked)
    assert render.audit_line(refused) == (
        "<@3> **refused** · Create: kazoo → Your style contains a blocked word or phrase, so nothing was generated "
        "or charged. [rule hit: word: kazoo]"
    )
    lines = [
        render.audit_line(entry)
        for entry in (
            audit.SettingsChanged.of(9, {"remix_threads": False, "cooldown_s": 5.0, "allowed_channel_ids": [10]}),
            audit.SettingsChanged.of(9, {"audit_channel_id": None, "required_role_id": 5}),
            audit.BudgetChanged(9, 500, Period.WEEK),
            audit.CostChanged(9, Operation.CREATE, 5),
            audit.DefaultCapChanged(9, 20),
            audit.MemberCapChanged(9, 3, 15),
            audit.MemberCapChanged(9, 3, None),
            audit.Granted(9, 50, 3),
            audit.Granted(9, -20),
            audit.PeriodReset(9),
            audit.BlockRuleChanged(9, "kazoo", False, added=True),
            audit.BlockRuleChanged(9, "kazoo", False, added=False),
            audit.BanChanged(9, 3, banned=True, reason="spam"),
            audit.BanChanged(9, 3, banned=False),
            audit.JobCancelledByModerator(9, 7, 3),
            audit.TrackDeleted(9, 4, "Night"),
            audit.ModerationNote(3, 3, 600.0),
            audit.OperationReinstated(9, "sandbox", Operation.COVER),
            audit.LyricsDrafted(3, "rain on the window", job_id=8, drafts=2, cost=1),
            audit.LyricsDrafted(3, "rain", error="The provider is down."),
        )
    ]
    assert lines == [
        "<@9> **settings** · remix threads = off, cooldown = 5 s, allowed channels = <#10>",
        "<@9> **settings** · audit log = off, required role = <@&5>",
        "<@9> **settings** · server budget set to 500 per week",
        "<@9> **settings** · Create now costs 5",
        "<@9> **settings** · default member cap set to 20",
        "<@9> **member-cap** · cap of <@3> set to 15",
        "<@9> **member-cap** · cap of <@3> removed",
        "<@9> **grant** · to <@3> (+50 credits)",
        "<@9> **grant** · to the server (-20 credits)",
        "<@9> **reset** · credits reset to full budget",
        "<@9> **block** · added word: kazoo",
        "<@9> **block** · removed 'kazoo'",
        "<@9> **ban** · <@3> → spam",
        "<@9> **unban** · <@3>",
        "<@9> **cancel** · job #7 of <@3>",
        "<@9> **delete** · track #4 Night",
        "<@3> **moderation-note** · 3 requests refused by the provider's content filter in 10 minutes → worth a look",
        "<@9> **provider** · Cover switched back on (sandbox)",
        "<@3> **lyrics finished** · job #8 · rain on the window → 2 lyric draft(s) (-1 credits)",
        "<@3> **lyrics finished** · rain → failed: The provider is down. (credits returned)",
    ]


def test_the_provider_page_marks_retired_operations() -> None:
    info = ProviderInfo(
        "producer",
        (OperationInfo(Operation.CREATE), OperationInfo(Operation.COVER, retired=True, message="Gone.")),
        ("FUZZ-2.0",),
    )
    embed = render.provider_embed(info)
    assert embed.title == "Provider · producer"
    assert embed.description == ("✅ **Create** (`create`)\n⛔ **Cover** (`cover`): retired by the provider (Gone.)")
    assert embed.footer.text and "/studio provider reinstate" in embed.footer.text


def test_audit_lines_of_tools_personas_and_stems() -> None:
    assert render.audit_line(audit.ToolUsed(3, Operation.MIDI, track_id=4, job_id=9, cost=1)) == (
        "<@3> **midi finished** · job #9 · track #4 → midi delivered (-1 credits)"
    )
    assert render.audit_line(audit.ToolUsed(3, Operation.BPM, track_id=4, job_id=9, error="Not ready.")) == (
        "<@3> **bpm finished** · job #9 · track #4 → failed: Not ready. (credits returned)"
    )
    assert render.audit_line(audit.PersonaChanged(3, "Velvet", True, track_id=4, job_id=9, cost=10)) == (
        "<@3> **persona** · “Velvet” saved from track #4 (-10 credits)"
    )
    assert render.audit_line(audit.PersonaChanged(5, "Velvet", False)) == "<@5> **persona** · “Velvet” forgotten"
    stems = JobOutcome(
        job=job(
            operation=Operation.STEMS_FULL,
            state=JobState.SUCCEEDED,
            cost=50,
            request={"tool": "stems_full", "clip_id": "c", "options": {}},
        )
    )
    assert render.audit_line(audit.JobFinished(3, stems)).endswith("→ stems (every instrument) delivered (-50 credits)")


def test_a_lineage_line_names_neither_a_deleted_parent_nor_a_private_one() -> None:
    """A remix posted after its parent was deleted (or re-shown to a member who can't view the parent's channel)."""
    parent = track(1, "Glass")
    cover = track(2, "Glass (Cover)").model_copy(update={"operation": Operation.COVER, "parent_track_id": 1})
    assert render.lineage_line(cover, parent) == f"Cover of *Glass* by {render.user(parent.author_id)}"
    gone = parent.model_copy(update={"deleted": True})
    assert render.lineage_line(cover, gone) == "Cover of a deleted track"
    assert render.lineage_line(cover, parent, hidden=frozenset({1})) == "Cover of a track in a private channel"


def test_an_internal_failure_gives_the_member_its_reference() -> None:
    text = render.failure_text(job(), Failure(FailureKind.INTERNAL, "A1B2C3"), 10)
    assert "Something went wrong on our side" in text and "**A1B2C3**" in text
    assert text.endswith("Your 10 credits were returned.")
