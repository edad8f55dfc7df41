"""``python -m bot`` without a token (or ``--playground``): the playground, the bot in it, one line, a clean stop."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.playground.launch import run_playground
from tests.playground.driver import Member, members

START_TIMEOUT = 60.0  # a fresh interpreter imports discord.py, the bot and the sandbox


@pytest.mark.parametrize(
    ("how", "stop"),
    [("no token", signal.SIGINT), ("--playground", signal.SIGTERM)],
    ids=["no-token-then-ctrl-c", "forced-then-sigterm"],
)
async def test_make_run_without_a_token_runs_the_playground(tmp_path: Path, how: str, stop: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNESMITH_")}
    env.update(
        TUNESMITH_DATABASE_PATH=str(tmp_path / "data" / "tunesmith.sqlite3"),
        TUNESMITH_PLAYGROUND_PORT="0",
        TUNESMITH_WEB_PORT="0",
        TUNESMITH_SANDBOX_RENDER_SECONDS="0.3",
    )
    if how == "--playground":
        env["TUNESMITH_DISCORD_TOKEN"] = "a-real-token-that-is-not-used-in-playground-mode"
    args = ["--playground"] if how == "--playground" else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=tmp_path,
        env=env,  # cwd: no developer .env is read
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    log = io.StringIO()
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)).decode()
        match = re.fullmatch(r"Tunesmith playground: (http://127\.0\.0\.1:\d+)\n", line)
        assert match is not None, line
        url = match[1]

        async def until_logged_in() -> None:
            while True:
                text = (await process.stderr.readline()).decode()  # type: ignore[union-attr]
                assert text, f"the process ended early:\n{log.getvalue()}"
                log.write(text)
                if "logged in as" in text:
                    return

        await asyncio.wait_for(until_logged_in(), START_TIMEOUT)  # READY and GUILD_CREATE reached the bot
        ana = (await members(url))["ana"]
        async with Member(url, ana) as member:  # a member's session, as the page opens one
            index = await member.command_index()
            names = {c["name"] for c in index["application_commands"]}
        assert {"music", "quota"} <= names  # the bot synced its commands to the playground
        assert (tmp_path / "data" / "playground.sqlite3").exists()  # beside the bot's database
        process.send_signal(stop)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log.write(err.decode())
    assert process.returncode == 0, log.getvalue()
    assert out == b""  # the one line was all
    assert "Traceback" not in log.getvalue()
    if how == "--playground":
        assert "a-real-token" not in log.getvalue()


async def test_run_playground_runs_the_bot_with_the_playgrounds_settings(
    tmp_path: Path, restore_discord_endpoints: None
) -> None:
    settings = Settings(_env_file=None, database_path=tmp_path / "db.sqlite3", playground_port=0)  # type: ignore[call-arg]
    seen: list[Settings] = []

    async def fake_bot(bot_settings: Settings) -> None:
        seen.append(bot_settings)  # and return: the bot stopped by itself

    out = io.StringIO()
    await run_playground(settings, fake_bot, out=out)
    (given,) = seen
    url = out.getvalue().removeprefix("Tunesmith playground: ").strip()
    assert out.getvalue().count("\n") == 1 and url.startswith("http://127.0.0.1:")
    assert (
        given.discord_api_url == f"{url}/api/v10"
        and given.discord_gateway_url == url.replace("http", "ws") + "/gateway"
    )
    assert given.sync_commands is True and given.discord_token is not None
    assert given.discord_token.get_secret_value().startswith("playground-bot.")


async def test_a_port_in_use_is_one_clear_line(tmp_path: Path, restore_discord_endpoints: None) -> None:
    async def never(_: Settings) -> None:
        raise AssertionError("the bot must not start")

    first = Settings(_env_file=None, database_path=tmp_path / "a" / "db.sqlite3", playground_port=0)  # type: ignore[call-arg]
    out = io.StringIO()

    async def occupy(bot_settings: Settings) -> None:
        port = int(out.getvalue().rsplit(":", 1)[1])
        second = Settings(_env_file=None, database_path=tmp_path / "b" / "db.sqlite3", playground_port=port)  # type: ignore[call-arg]
        with pytest.raises(SystemExit, match=rf"cannot listen on 127\.0\.0\.1:{port} \(address already in use\)"):
            await run_playground(second, never, out=io.StringIO())

    await run_playground(first, occupy, out=out)
