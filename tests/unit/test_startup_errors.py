"""Issue 9.16: a wrong token or an unreachable Discord is one line on stderr and a non-zero exit, no traceback.

``python -m bot`` runs for real in a child process, pointed with TUNESMITH_DISCORD_API_URL at a local server that
answers 401 (what Discord says to a wrong token), at a server that answers 503, and at a closed port.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from bot.startup_errors import explain

ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def discord_answering(status: int) -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"message": f"{status}: Unauthorized", "code": 0}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/v10"
    finally:
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_bot(api_url: str, tmp_path: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNESMITH_")}
    env.update(
        {
            "TUNESMITH_DISCORD_TOKEN": "MTIz.not-a-real-token.abc",
            "TUNESMITH_DISCORD_API_URL": api_url,
            "TUNESMITH_DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway",
            "TUNESMITH_DATABASE_PATH": str(tmp_path / "tunesmith.sqlite3"),
            "TUNESMITH_WEB_PORT": "0",
            "TUNESMITH_SANDBOX_RENDER_SECONDS": "0.1",
            "PYTHONPATH": str(ROOT),
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,  # no developer .env is read
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        _stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stderr.decode()


def the_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("tunesmith: ")]
    assert len(lines) == 1, stderr
    return lines[0]


async def test_a_wrong_token_is_one_line(tmp_path: Path) -> None:
    async with discord_answering(401) as api_url:
        code, stderr = await run_bot(api_url, tmp_path)
    assert code != 0
    line = the_line(stderr)
    assert "refused the bot token" in line and "TUNESMITH_DISCORD_TOKEN" in line and "Reset Token" in line
    assert "not-a-real-token" not in stderr  # the token itself is never printed


async def test_an_unreachable_discord_is_one_line(tmp_path: Path) -> None:
    api_url = f"http://127.0.0.1:{closed_port()}/api/v10"
    code, stderr = await run_bot(api_url, tmp_path)
    assert code != 0
    line = the_line(stderr)
    assert line.startswith(f"tunesmith: Could not reach Discord at {api_url}") and "network" in line


async def test_discord_down_is_one_line(tmp_path: Path) -> None:
    async with discord_answering(503) as api_url:
        code, stderr = await run_bot(api_url, tmp_path)
    assert code != 0
    assert "answered HTTP 503" in the_line(stderr)


def test_an_unknown_error_is_not_explained_away() -> None:
    assert explain(ValueError("a bug")) is None
    assert explain(PermissionError(13, "Permission denied", "/data/tunesmith.sqlite3")) is None
