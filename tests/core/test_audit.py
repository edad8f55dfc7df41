"""The audit recorder: one entry per job once its member was told, per refusal and per admin change, and a note
when the provider's content filter keeps refusing one member; nothing when a server has no audit channel."""

from __future__ import annotations

from bot.domain import audit
from bot.domain.models import Operation, TaskFailure
from bot.domain.outcomes import FailureKind
from tests.core.rig import ADMIN, WHO, rig


async def test_one_entry_per_job_with_its_outcome_and_nothing_without_an_audit_channel() -> None:
    async with rig(clips_per_task=2) as r:
        await r.admit()
        await r.delivered(1)
        assert r.notifier.audits == []  # no audit channel: nothing written
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        job_id = await r.admit()
        await r.delivered(2)
        entries = [e for _, _, e in r.notifier.audits if isinstance(e, audit.JobFinished)]
        assert len(entries) == 1  # one per job, however many songs it made
        [entry] = entries
        assert entry.actor_id == WHO.user_id and entry.outcome.job.id == job_id
        assert len(entry.outcome.tracks) == 2 and len(entry.outcome.deliveries) == 2
        assert all(channel == 77 for _, channel, _ in r.notifier.audits)
        settings = [e for _, _, e in r.notifier.audits if isinstance(e, audit.SettingsChanged)]
        assert settings == [audit.SettingsChanged(ADMIN.user_id, (("audit_channel_id", 77),))]


async def test_switching_the_audit_log_off_is_written_in_the_old_channel() -> None:
    async with rig() as r:
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        await r.core.studio.update_settings(ADMIN, audit_channel_id=None)
        await r.core.credits.grant(ADMIN, 50)
        assert [(channel, type(e).__name__) for _, channel, e in r.notifier.audits] == [
            (77, "SettingsChanged"),
            (77, "SettingsChanged"),
        ]


async def test_repeated_provider_moderation_raises_one_note_per_burst() -> None:
    async with rig() as r:
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        r.provider.task_failures.extend([TaskFailure(kind="moderation", message="Artist names")] * 7)
        for n in range(1, 8):
            await r.admit({"sound": f"take {n}"})
            await r.delivered(n)
        notes = [e for _, _, e in r.notifier.audits if isinstance(e, audit.ModerationNote)]
        assert [(n.actor_id, n.strikes) for n in notes] == [(WHO.user_id, 3), (WHO.user_id, 3)]
        failed = [e for _, _, e in r.notifier.audits if isinstance(e, audit.JobFinished)]
        assert len(failed) == 7 and all(e.outcome.failure.kind is FailureKind.MODERATION for e in failed)  # type: ignore[union-attr]
        # Outside the window, the count starts again.
        await r.clock.advance(700.0)
        r.provider.task_failures.extend([TaskFailure(kind="moderation", message="Artist names")] * 2)
        for n in (8, 9):
            await r.admit({"sound": f"take {n}"})
            await r.delivered(n)
        assert len([e for _, _, e in r.notifier.audits if isinstance(e, audit.ModerationNote)]) == 2


async def test_a_moderator_cancelling_someone_else_s_job_is_its_own_entry() -> None:
    async with rig(render_s=600.0) as r:
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        job_id = await r.admit()
        await r.core.jobs.cancel(ADMIN, job_id)
        await r.delivered(1)
        kinds = [type(e).__name__ for _, _, e in r.notifier.audits]
        assert kinds == ["SettingsChanged", "JobCancelledByModerator", "JobFinished"]
        assert r.notifier.audits[1][2] == audit.JobCancelledByModerator(ADMIN.user_id, job_id, WHO.user_id)


async def test_deleting_a_track_and_reinstating_an_operation_are_audited() -> None:
    async with rig() as r:
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        await r.admit()
        await r.delivered(1)
        track = r.notifier.tracks(1)[0]
        await r.core.library.delete(ADMIN, track.id)
        await r.core.catalog.retire(Operation.COVER, "Gone.")
        assert await r.core.studio.reinstate(ADMIN, Operation.COVER)
        entries = [e for _, _, e in r.notifier.audits][-2:]
        assert entries == [
            audit.TrackDeleted(ADMIN.user_id, track.id, "Night"),
            audit.OperationReinstated(ADMIN.user_id, "fake", Operation.COVER),
        ]
