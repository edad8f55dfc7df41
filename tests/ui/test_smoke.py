from tests.ui.conftest import Studio


async def test_create_posts_a_track(studio: Studio) -> None:
    result = await studio.ana.slash(studio.channel, "music create", prompt="lofi beats", title="Night Drive")
    assert result.response is not None
    print(result.response.content)
    posts = await studio.wait_for_posts(1)
    post = posts[0]
    print(post.embeds[0].to_dict(), [a.filename for a in post.attachments], post.components)
