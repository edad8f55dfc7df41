"""With FUZZ as the provider: two songs per task, each posted with its own buttons, and only honest buttons."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox import Sandbox
from tests.ui.conftest import running
from tests.ui.helpers import PNG, WAV, button_ids, files, submit, track_id


async def test_fuzz_posts_both_songs_and_offers_only_what_it_can_do(tmp_path: Path) -> None:
    async with (
        Sandbox(render_seconds=0.3) as sandbox,
        # Core expects a real provider's 30 s render before its first poll; the sandbox takes 0.3 s.
        running(
            tmp_path, provider="fuzz", fuzz_api_key="sandbox-key", fuzz_base_url=sandbox.fuzz_base_url, render_s=0.3
        ) as studio,
    ):
        result = await studio.ana.slash(studio.channel, "music create", prompt="city pop", title="Two Takes")
        posts = await studio.wait_for_posts(2)
        assert posts[0].id == result.response.id  # the first song replaces the status message ...
        assert len(studio.messages()) == 2  # ... and the second is posted after it
        ids = sorted(track_id(p) for p in posts)
        assert ids == [1, 2]
        for post in posts:
            number = track_id(post)
            assert post.embeds[0].title == "Two Takes" and post.embeds[0].footer.text == f"Track #{number} · fuzz"
            attached = await files(post)
            assert attached[f"cover-{number}.png"].startswith(PNG)
            assert attached[f"two-takes-{number}.wav"].startswith(WAV)
            # No cover, swaps, section replace or download with FUZZ: those buttons are left out.
            assert button_ids(post) == [
                f"tunesmith:track:extend:{number}",
                f"tunesmith:track:variation:{number}",
                f"tunesmith:track:delete:{number}",
            ]
        assert await studio.credits() == 990  # one task, one charge

        refused = await studio.bo.slash(studio.channel, "music cover", track=1, prompt="jazz")
        assert refused.ephemeral
        assert refused.response.content == "Cover isn't offered by the current music provider (fuzz)."
        assert await studio.bo.autocomplete(studio.channel, "music create", "model", "") == []

        # Variation is emulated (the parent's style and lyrics again): two more songs in the remix thread.
        shown = await studio.bo.click(posts[0], custom_id=f"tunesmith:track:variation:{track_id(posts[0])}")
        await submit(studio.bo, shown)
        [thread] = studio.channel.threads
        remixes = await studio.wait_for_posts(2, thread)
        for remix in remixes:
            assert (remix.embeds[0].description or "").startswith(f"Variation of *Two Takes* by <@{studio.ana.id}>")
        assert await studio.credits() == 980
