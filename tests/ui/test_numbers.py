"""Numbers a member types in a form are finite and in range, or refused at once with a sentence (nothing is spent,
no job is left behind): before, ``inf`` in the Replace section form left a job queued for ever, its credits held."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ui.conftest import Studio, running
from tests.ui.helpers import submit


@pytest.fixture
async def studio(tmp_path: Path) -> AsyncIterator[Studio]:
    async with running(tmp_path, render_s=0.15) as world:
        yield world


@pytest.mark.parametrize("typed", ["inf", "nan", "1e999", "-inf", "Infinity"])
async def test_a_number_no_provider_can_take_is_refused_in_the_forms(studio: Studio, typed: str) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="dream pop", title="Glass")
    [post] = await studio.wait_for_posts(1)
    assert await studio.credits() == 990

    replace = await studio.bo.click(post, custom_id="tunesmith:track:replace:1")
    answer = await submit(studio.bo, replace, **{"Section start (seconds)": typed})
    assert answer.ephemeral
    assert answer.response.content == f"Section start (seconds) must be a number, not “{typed}”."

    extend = await studio.bo.click(post, custom_id="tunesmith:track:extend:1")
    answer = await submit(studio.bo, extend, **{"Continue from (seconds)": typed})
    assert answer.ephemeral
    assert answer.response.content == f"Continue from (seconds) must be a number, not “{typed}”."

    # Nothing was admitted, nothing is held: the credits are whole and no job is in the works.
    assert await studio.credits() == 990
    assert await studio.app.services.jobs.active_jobs(studio.guild.id, studio.bo.id) == []
    assert len(studio.messages()) == 1


async def test_a_time_past_an_hour_is_refused_with_its_range(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="dream pop", title="Glass")
    [post] = await studio.wait_for_posts(1)
    replace = await studio.bo.click(post, custom_id="tunesmith:track:replace:1")
    answer = await submit(studio.bo, replace, **{"Section start (seconds)": "1e300"})
    assert answer.ephemeral and answer.response.content == "Start must be at most 3600."
    assert await studio.credits() == 990
    assert await studio.app.services.jobs.active_jobs(studio.guild.id, studio.bo.id) == []
