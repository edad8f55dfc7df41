from __future__ import annotations

from pathlib import Path

from tests.ui.conftest import running
from tests.ui.helpers import files


async def test_smoke(tmp_path: Path) -> None:
    async with running(tmp_path, provider="sonic", render_s=0.15) as studio:
        await studio.ana.slash(studio.channel, "music create", prompt="lofi beats, rain", title="Night")
        posts = await studio.wait_for_posts(2)
        r = await studio.bo.select(posts[0], ["midi"], custom_id="tunesmith:tools:menu:1")
        print("midi:", r.response.content if r.response else r)
        thread = await studio.until(lambda: studio.channel.threads and studio.channel.threads[0])
        await studio.until(lambda: studio.messages(thread))
        for m in studio.messages(thread):
            print("T:", m.content, list(await files(m)))
        r = await studio.bo.select(posts[0], ["bpm"], custom_id="tunesmith:tools:menu:1")
        r = await studio.bo.select(posts[0], ["lyrics_timeline"], custom_id="tunesmith:tools:menu:1")
        print("lrc:", r.response.content if r.response else r)
        r = await studio.bo.select(posts[0], ["stems_basic"], custom_id="tunesmith:tools:menu:1")
        print("stems:", r.response.content if r.response else r)
        r = await studio.bo.select(posts[0], ["stems_full"], custom_id="tunesmith:tools:menu:1")
        print("stems full:", r.response.content if r.response else r, r.response.components if r.response else None)
        await studio.until(lambda: any("Stems" in m.content and m.attachments for m in studio.messages(thread)), 30)
        for m in studio.messages(thread):
            print("T:", m.content[:200], list(await files(m)))
        r = await studio.ana.slash(studio.channel, "music mashup", track=1, other=2, prompt="disco")
        print("mashup:", r.response.content)
        r = await studio.ana.slash(studio.channel, "music persona save", track=1, name="Velvet")
        print("persona:", r.response.content)
        r = await studio.ana.slash(studio.channel, "music tools richer-style", style="lofi")
        print("style:", r.response.content, r.response.components)
        print(await studio.credits())
