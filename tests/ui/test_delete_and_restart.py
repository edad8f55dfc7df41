"""Who may delete a track post, and buttons and jobs that outlive a restart of the bot."""

from __future__ import annotations

from pathlib import Path

from bot.app import build
from tests.ui.conftest import Studio, running
from tests.ui.helpers import PNG, WAV, defaults, files, submit, track_id


async def test_the_author_or_a_moderator_can_delete_a_post_and_no_one_else(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="house", title="Ana's")
    await studio.bo.slash(studio.channel, "music create", prompt="techno", title="Bo's")
    posts = await studio.wait_for_posts(2)
    anas = next(p for p in posts if p.embeds[0].title == "Ana's")
    bos = next(p for p in posts if p.embeds[0].title == "Bo's")
    ana_track, bo_track = track_id(anas), track_id(bos)

    refused = await studio.bo.click(anas, custom_id=f"tunesmith:track:delete:{ana_track}")
    assert refused.ephemeral
    assert refused.response.content == "Only the track's author or a moderator (Manage Messages) can delete it."
    assert len(studio.track_posts()) == 2

    deleted = await studio.ana.click(anas, custom_id=f"tunesmith:track:delete:{ana_track}")
    assert deleted.ephemeral and deleted.response.content == "Deleted *Ana's*."
    assert [p.embeds[0].title for p in studio.track_posts()] == ["Bo's"]
    history = (await studio.bo.slash(studio.channel, "music history")).response.embeds[0].description or ""
    assert "Bo's" in history and "Ana's" not in history
    choices = await studio.bo.autocomplete(studio.channel, "music cover", "track", "")
    assert [c["value"] for c in choices] == [bo_track]
    gone = await studio.bo.slash(studio.channel, "music show", track=ana_track)
    assert gone.ephemeral and gone.response.content == f"There is no track #{ana_track} in this server."

    moderated = await studio.admin.click(bos, custom_id=f"tunesmith:track:delete:{bo_track}")
    assert moderated.ephemeral and moderated.response.content == "Deleted *Bo's*."
    assert studio.track_posts() == []
    history = (await studio.bo.slash(studio.channel, "music history")).response.embeds[0].description
    assert history == "No tracks yet. Make one with /music create!"


async def test_a_result_is_delivered_even_when_its_status_message_was_deleted(tmp_path: Path) -> None:
    async with running(tmp_path, provider_concurrency=1) as studio:
        await _deliver_despite_deleted_status_messages(studio)


async def _deliver_despite_deleted_status_messages(studio: Studio) -> None:
    studio.app.sandbox.render_seconds = 1.0  # time for a moderator to tidy up while it renders
    started = await studio.ana.slash(studio.channel, "music create", prompt="garage", title="Still Here")
    status_id = started.response.id
    await studio.admin.delete(started.response)
    assert started.response is None
    [post] = await studio.wait_for_posts(1)
    assert post.id != status_id and post.embeds[0].title == "Still Here"
    assert sorted(await files(post)) == ["cover-1.png", "still-here-1.wav"]

    # A download of a track deleted while the file was being made still reaches the member who paid for it, and
    # names it as a lineage does ("a deleted track"; it was ana's, not bo's).
    download = await studio.bo.slash(studio.channel, "music download", track=1, format="wav")
    await studio.ana.click(post, custom_id="tunesmith:track:delete:1")
    [done] = await studio.until(
        lambda: [m for m in studio.messages() if m.id == download.response.id and m.attachments]
    )
    assert done.content.startswith(f"⬇️ WAV of *a deleted track* for <@{studio.bo.id}>: http")
    [(name, data)] = (await files(done)).items()
    assert name == "download.wav" and data.startswith(WAV)

    # And a failure whose status message is gone is still told. The job waits behind another (one provider slot)
    # until its status message has been deleted, so the order does not depend on timing.
    studio.app.sandbox.render_seconds = 60
    blocker = await studio.bo.slash(studio.channel, "music create", prompt="drone", title="Blocker")
    await studio.until(lambda: studio.app.core.web.in_flight() == 1)
    studio.app.sandbox.inject("moderation", message="Flagged: 'x'")
    started = await studio.ana.slash(studio.channel, "music create", prompt="garage", title="Refused")
    await studio.admin.delete(started.response)
    assert "job #3" in blocker.response.content
    await studio.bo.slash(studio.channel, "music cancel", job=3)
    [failed] = await studio.until(lambda: [m for m in studio.messages() if "❌" in m.content])
    assert failed.content.endswith("Flagged: 'x' Your 10 credits were returned.")


async def test_buttons_and_jobs_survive_a_restart(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="chiptune", title="Before")
    [old_post] = await studio.wait_for_posts(1)
    # A job still rendering when the bot goes down.
    studio.app.sandbox.render_seconds = 1.5
    pending = await studio.ana.slash(studio.channel, "music create", prompt="chiptune", title="In Flight")

    async def submitted() -> bool:
        job = await studio.app.store.job(2)
        return job is not None and job.task_id is not None

    await studio.until(submitted)

    # A new process: a new App on the same database file. The provider outlives the bot: the new bot talks to
    # the same sandbox, which still has the task rendering.
    await studio.app.core.runtime.stop()
    await studio.app.store.close()  # the old process is gone, and with it its hold on the database
    async with build(studio.app.settings, start_web=False, sandbox=studio.app.sandbox) as app:
        await app.core.runtime.start(app.notifier)
        await studio.env.restart_bot(app.bot)
        try:
            # The job that was in flight is finished by the new bot, into its own status message, once.
            posts = await studio.wait_for_posts(2)
            assert posts[1].id == pending.response.id and posts[1].embeds[0].title == "In Flight"
            assert sorted(await files(posts[1])) == ["cover-2.png", "in-flight-2.wav"]

            # A button on a post made before the restart still works: form, job, post in the remix thread.
            shown = await studio.bo.click(old_post, custom_id="tunesmith:track:variation:1")
            assert shown.modal is not None and shown.modal["title"] == "Variation: Before"
            await submit(studio.bo, shown, Seed="11")
            shown = await studio.bo.click(old_post, custom_id="tunesmith:track:extend:1")
            assert defaults(shown)["Style of the continuation"] == "chiptune"
            await submit(studio.bo, shown)
            [thread] = studio.channel.threads
            remixes = await studio.wait_for_posts(2, thread)
            lines = sorted((p.embeds[0].description or "").splitlines()[0] for p in remixes)
            assert lines == [
                f"Extension of *Before* by <@{studio.ana.id}>",
                f"Variation of *Before* by <@{studio.ana.id}>",
            ]
            for remix in remixes:
                attached = await files(remix)
                number = track_id(remix)
                assert attached[f"cover-{number}.png"].startswith(PNG)
                assert next(data for name, data in attached.items() if name.endswith(".wav")).startswith(WAV)
            assert len(studio.track_posts()) == 2
            quota = await app.services.credits.quota(studio.guild.id, studio.ana.id)  # the new process's view
            assert quota.server_remaining == 1000 - 4 * 10
        finally:
            await app.core.runtime.stop()
