"""``python -m bot``: read settings, explain what is missing, and run Tunesmith."""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.config import TOKEN_HELP, load_settings
from bot.domain.errors import AlreadyRunning, ConfigError, DatabaseUnavailable


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"tunesmith: configuration error: {exc}\n")
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # httpx logs every request URL at INFO; keep the log about the bot.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from bot.app import run  # imported late: a config error should not need discord.py to load

    try:
        if settings.discord_token is None or settings.playground or "--playground" in args:
            # No token: the playground (a local Discord in the browser) instead of Discord.
            from bot.playground.launch import run_playground

            if settings.discord_token is None:
                logging.getLogger("bot").info("running the playground; to run on Discord instead: %s", TOKEN_HELP)

            asyncio.run(run_playground(settings, run))
        else:
            asyncio.run(run(settings))
    except KeyboardInterrupt:
        logging.getLogger("bot").info("stopped")
    except AlreadyRunning as exc:  # a second bot on the same database: one line, not a traceback
        sys.stderr.write(f"tunesmith: {exc}\n")
        return 2
    except DatabaseUnavailable as exc:  # PostgreSQL down or refusing us: one line, without the password
        sys.stderr.write(f"tunesmith: {exc}\n")
        return 1
    except Exception as exc:  # a known cause (wrong token, Discord unreachable) is one line, not a traceback
        from bot.startup_errors import explain

        line = explain(exc, api_url=settings.discord_api_url)
        if line is None:
            raise
        sys.stderr.write(f"tunesmith: {line}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
