from tests.ui.conftest import Studio


async def test_status_deleted(studio: Studio) -> None:
    studio.app.sandbox.render_seconds = 1.0
    started = await studio.ana.slash(studio.channel, "music create", prompt="x", title="Gone")
    await studio.admin.delete(started.response)
    posts = await studio.wait_for_posts(1, timeout=6)
    print(posts)


async def test_download_of_deleted(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="x", title="Base")
    [post] = await studio.wait_for_posts(1)
    studio.app.sandbox.render_seconds = 1.0
    started = await studio.ana.slash(studio.channel, "music download", track=1, format="wav")
    await studio.ana.click(post, custom_id="tunesmith:track:delete:1")
    await studio.until(lambda: [m for m in studio.messages() if m.id == started.response.id and m.attachments], timeout=6)
