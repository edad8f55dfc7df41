"""``python -m bot.sandbox`` runs the sandbox on its own and stops cleanly on a signal."""

from __future__ import annotations

import asyncio
import re
import sys

from tests.clients import http_client


async def test_module_runs_standalone() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox",
        "--port",
        "0",
        "--render-seconds",
        "0.1",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        base = None
        while base is None:
            line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
            assert line, "the sandbox exited before logging its URL"
            found = re.search(r"Producer base URL: (http://\S+)", line)
            base = found.group(1) if found else None
        async with http_client(base_url=base) as client:
            credits = await client.get("/api/v1/get-credits", headers={"Authorization": "Bearer k"})
            assert credits.json() == {"credits": 10_000, "extra_credits": 0}
            fuzz = await client.post("/api/v2/fuzz/task", headers={"api-key": "k"}, json={"lyrics": "", "tags": "x"})
            assert fuzz.json()["success"] is True
    finally:
        if process.returncode is None:
            process.terminate()
        code = await asyncio.wait_for(process.wait(), 20)
    assert code == 0
