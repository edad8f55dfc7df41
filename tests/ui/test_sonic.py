"""With Sonic as the provider (TUNESMITH_PROVIDER=sonic, its client against the sandbox's Sonic API): two takes per
song for one charge, sonic-* models and their limits, the full song after an extension, uploads extended with
their own task type, and Sonic's own remixes from the track post's menu and their commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.domain.models import Operation
from bot.providers import webhook_parser
from bot.providers.producer import parse_webhook as parse_producer_webhook
from bot.providers.sandbox import parse_sandbox_webhook
from bot.providers.sonic import parse_webhook as parse_sonic_webhook
from tests.ui.conftest import Studio, running
from tests.ui.helpers import WAV, button_ids, fields, files, form, menus, submit, track_id
from tests.ui.test_commands import wav_bytes

TRACK_BUTTONS = ["extend", "cover", "replace", "delete"]  # no variation, swaps or download with Sonic
REMIXES = ["Remaster", "Add vocals", "Add instrumental", "Sample", "Mashup", "Save voice as persona"]
TOOLS = [
    "Stems (vocals + instrumental)",
    "Stems (every instrument)",
    "WAV",
    "MIDI",
    "BPM",
    "Lyrics timeline",
    "Vocals excerpt",
]


@pytest.fixture
async def studio(tmp_path: Path) -> AsyncIterator[Studio]:
    # The sandbox's songs at their own length (20-30 s): an extension's new part is shorter than the full song.
    async with running(tmp_path, provider="sonic", render_s=0.15, clip_seconds=None) as world:
        yield world


async def two_takes(studio: Studio, member: Any = None, **options: Any) -> list[Any]:
    before = len(studio.track_posts())
    options = {"prompt": "sea shanty, accordion", "title": "Harbour", **options}
    await (member or studio.ana).slash(studio.channel, "music create", **options)
    return (await studio.wait_for_posts(before + 2))[before:]


async def test_a_song_is_two_takes_for_one_charge_with_sonic_models(studio: Studio) -> None:
    posts = await two_takes(studio, model="chirp-v4-5")
    assert await studio.credits() == 985  # Sonic's create costs 15, once for both takes
    numbers = sorted(track_id(p) for p in posts)
    assert numbers == [1, 2]
    for post in posts:
        number = track_id(post)
        embed = post.embeds[0]
        assert embed.footer.text == f"Track #{number} · sonic"
        assert fields(embed)["Model"] == "sonic-v4-5"  # asked in chirp-* spelling, reported as sonic-*
        assert any(name.endswith(f"-{number}.wav") for name in await files(post))
        assert button_ids(post) == [f"tunesmith:track:{a}:{number}" for a in TRACK_BUTTONS]
        assert menus(post) == {f"tunesmith:remix:menu:{number}": REMIXES, f"tunesmith:tools:menu:{number}": TOOLS}

    models = await studio.bo.autocomplete(studio.channel, "music create", "model", "v4")
    assert [c["value"] for c in models] == ["sonic-v4-5-plus", "sonic-v4-5", "sonic-v4"]
    refused = await studio.bo.slash(studio.channel, "music create", prompt="jazz", model="FUZZ-2.0")
    assert refused.ephemeral and refused.response.content.startswith(
        "Model: unknown model 'FUZZ-2.0'; choose one of: sonic-v5-5, sonic-v5"
    )
    # Limits follow the model: 200 characters of style on sonic-v4, 1000 from sonic-v4-5 on; a description 400.
    refused = await studio.bo.slash(studio.channel, "music compose", model="sonic-v4")
    refused = await submit(studio.bo, refused, Title="Long", Style="folk, " * 40, Lyrics="[Verse]\nla la")
    assert refused.ephemeral and "The style must be at most 200 characters with sonic-v4" in refused.response.content
    refused = await studio.bo.slash(studio.channel, "music create", prompt="a song about the sea " * 20)
    assert refused.ephemeral and "The description must be at most 400 characters" in refused.response.content
    assert await studio.credits() == 985  # refusals cost nothing


async def test_an_extension_posts_the_full_song_and_keeps_the_new_part_in_the_lineage(studio: Studio) -> None:
    [original, _] = await two_takes(studio)
    number = track_id(original)
    shown = await studio.bo.click(original, custom_id=f"tunesmith:track:extend:{number}")
    assert "Strength (0.2–1)" not in form(shown)  # no field Sonic has no use for
    started = await submit(studio.bo, shown, **{"Continue from (seconds)": "12", "Title": "Harbour, longer"})
    assert started.ephemeral and "for 12 credits" in started.response.content  # extend 10 + the join 2
    [thread] = studio.channel.threads
    full = await studio.wait_for_posts(2, thread, timeout=30)
    takes = [t for t in await studio.app.store.tracks_of_job(2) if t.operation is Operation.EXTEND]
    assert len(takes) == 2 and all(t.message_id is None for t in takes)  # kept in the lineage, never posted
    for post in full:
        embed = post.embeds[0]
        assert (embed.description or "").startswith(f"Extension of *Harbour* by <@{studio.ana.id}>")
        joined = await studio.app.services.library.track(studio.as_admin(), track_id(post))
        take = await studio.app.services.library.track(studio.as_admin(), joined.parent_track_id or 0)
        assert take.operation is Operation.EXTEND and take.parent_track_id == number
        # The posted song is the whole song: longer than the new part alone.
        assert joined.duration_s and take.duration_s and joined.duration_s > take.duration_s
        assert (await files(post))[f"harbour-longer-{joined.id}.wav"].startswith(WAV)
    tree = await studio.bo.slash(studio.channel, "music tree", track=track_id(full[0]))
    lines = (tree.response.embeds[0].description or "").splitlines()
    assert "`#1` Harbour" in lines[0] and "Harbour, longer" in lines[1] and f"**`#{track_id(full[0])}`" in lines[2]
    assert await studio.credits() == 985 - 12


async def test_an_uploaded_track_is_extended_and_covered_with_its_own_task_types(studio: Studio) -> None:
    async def from_discord_cdn(url: str) -> bytes | None:
        return studio.env.backend.cdn.get(url)

    assert studio.app.sandbox is not None
    studio.app.sandbox.upload_resolver = from_discord_cdn
    await studio.ana.slash(studio.channel, "music upload", file=("riff.wav", wav_bytes(3.0)), title="Riff")
    [upload] = await studio.wait_for_posts(1)
    assert await studio.credits() == 998  # Sonic's upload answers at once; 2 credits
    # The sandbox, like the service, refuses extend_music and cover_music for an uploaded clip: these only
    # succeed because the bot picked extend_upload_music and cover_upload_music.
    await studio.bo.slash(studio.channel, "music extend", track=1, at=1.0)
    await studio.bo.slash(studio.channel, "music cover", track=1, prompt="bossa nova")
    [thread] = studio.channel.threads
    posts = await studio.wait_for_posts(4, thread, timeout=30)
    assert {(p.embeds[0].description or "").split(" *")[0] for p in posts} == {"Extension of", "Cover of"}
    assert upload.embeds[0].title == "Riff"


async def test_sonic_remixes_from_the_menu_and_their_commands(studio: Studio) -> None:
    [ana_song, _] = await two_takes(studio)
    [bo_song, _] = await two_takes(studio, studio.bo, prompt="disco", title="Mirrorball")
    a, b = track_id(ana_song), track_id(bo_song)

    shown = await studio.bo.select(ana_song, ["remaster"], custom_id=f"tunesmith:remix:menu:{a}")
    assert shown.modal is not None and shown.modal["title"] == "Remaster: Harbour"
    await submit(studio.bo, shown, **{"How much (subtle, normal or high)": "high"})
    shown = await studio.bo.select(ana_song, ["mashup"], custom_id=f"tunesmith:remix:menu:{a}")
    await submit(studio.bo, shown, **{"The other track's number (#)": f"#{b}", "Style of the mashup": "disco"})
    await studio.ana.slash(studio.channel, "music sample", track=a, start=0.2, end=1.5, prompt="trip hop")
    await studio.ana.slash(studio.channel, "music add-instrumental", track=a, prompt="string quartet")
    # (a member has two jobs in the works at most: the admin sings this one)
    shown = await studio.admin.slash(studio.channel, "music add-vocals", track=b)
    await submit(studio.admin, shown, **{"Lyrics to sing": "[Verse]\nMirror, mirror"})
    [thread] = [t for t in studio.channel.threads if t.id == ana_song.id]
    remixes = await studio.wait_for_posts(8, thread, timeout=40)  # two takes each, four remixes of Harbour
    labels = sorted({(p.embeds[0].description or "").split(" *")[0] for p in remixes})
    assert labels == ["Backing added to", "Mashup of", "Remaster of", "Sampled from"]
    mashup = next(p for p in remixes if (p.embeds[0].description or "").startswith("Mashup of"))
    # Both authors are credited, on the post and in the lineage.
    assert (mashup.embeds[0].description or "").startswith(
        f"Mashup of *Harbour* by <@{studio.ana.id}> and *Mirrorball* by <@{studio.bo.id}>"
    )
    tree = await studio.ana.slash(studio.channel, "music tree", track=track_id(mashup))
    text = tree.response.embeds[0].description or ""
    assert f"`#{a}` Harbour · <@{studio.ana.id}>" in text and f"`#{b}` Mirrorball · <@{studio.bo.id}>" in text
    bo_tree = await studio.bo.slash(studio.channel, "music tree", track=b)
    assert "· Mashup ·" in (bo_tree.response.embeds[0].description or "")
    vocal_thread = next(t for t in studio.channel.threads if t.id == bo_song.id)
    sung = await studio.wait_for_posts(2, vocal_thread, timeout=30)
    assert (sung[0].embeds[0].description or "").startswith("Vocals added to *Mirrorball*")
    # create 15 twice, remaster 10, mashup 15, sample 15, add instrumental 10, add vocals 10
    assert await studio.credits() == 1000 - 30 - 10 - 15 - 15 - 10 - 10


def test_webhooks_are_read_by_the_active_providers_parser() -> None:
    def parser(provider: str) -> object:
        keys = {"producer_api_key": "k"} if provider == "sonic" else {}
        return webhook_parser(Settings(_env_file=None, provider=provider, **keys))  # type: ignore[call-arg]

    assert parser("sonic") is parse_sonic_webhook
    assert parser("sandbox") is parse_sandbox_webhook
    assert webhook_parser(Settings(_env_file=None, provider="producer", producer_api_key="k")) is (  # type: ignore[call-arg]
        parse_producer_webhook
    )
