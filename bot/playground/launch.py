"""``make run`` without a Discord token: the playground server, and the real bot connected to it.

The bot runs exactly as it would on Discord: its settings only point discord.py's REST and gateway URLs at the
playground, give it the playground's bot token and sync its commands at every start (harmless locally, and the
page's command list is then always current). The state lives beside the bot's database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from bot.config import Settings
from bot.playground.server import Playground

log = logging.getLogger(__name__)

STOP_TIMEOUT = 15.0  # seconds the bot gets to close after Ctrl-C before it is abandoned


def state_path(settings: Settings) -> Path:
    """``data/tunesmith.sqlite3`` → ``data/playground.sqlite3``."""
    return settings.database_path.with_name("playground.sqlite3")


def bot_settings(settings: Settings, playground: Playground) -> Settings:
    """The settings the bot runs with against the playground."""
    return settings.model_copy(
        update={
            "discord_token": SecretStr(playground.bot_token),
            "discord_api_url": playground.api_url,
            "discord_gateway_url": playground.gateway_url,
            "sync_commands": True,
        }
    )


@contextlib.asynccontextmanager
async def playground_for(settings: Settings) -> AsyncIterator[tuple[Playground, Settings]]:
    """A started playground for these settings, and the settings the bot should run with; stopped on exit."""
    playground = Playground(
        state_path=state_path(settings), host=settings.playground_host, port=settings.playground_port
    )
    try:
        await playground.start()
    except OSError as exc:
        # Most often the port is taken (another playground still running): one line, not a traceback.
        reason = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
        raise SystemExit(
            f"tunesmith: the playground cannot listen on {settings.playground_host}:{settings.playground_port} "
            f"({reason}); set TUNESMITH_PLAYGROUND_PORT to another port (0 = any free port) or stop what uses it"
        ) from None
    try:
        yield playground, bot_settings(settings, playground)
    finally:
        await playground.stop()


async def run_playground(
    settings: Settings, run_bot: Callable[[Settings], Awaitable[None]], *, out: TextIO | None = None
) -> None:
    """Run the playground and the bot until Ctrl-C or SIGTERM (or the bot stops), then shut both down cleanly.

    Prints one line on ``out`` (stdout): ``Tunesmith playground: <url>``.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not on this platform/thread
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        async with playground_for(settings) as (playground, settings_for_bot):
            bot = asyncio.ensure_future(run_bot(settings_for_bot))
            stream = out if out is not None else sys.stdout
            stream.write(f"Tunesmith playground: {playground.url}\n")
            stream.flush()
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({bot, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                if not bot.done():
                    log.info("stopping")
                    bot.cancel()
                    await asyncio.wait({bot}, timeout=STOP_TIMEOUT)
            if bot.done() and not bot.cancelled():
                bot.result()  # the bot's own error, if it stopped by itself
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
