"""``python -m tests.playground.bot_process``: ``python -m bot`` as it runs in production (settings from the
environment, logged in with a token), with one knob a test needs and no setting offers: the render time core
expects before its first poll (``KILL_TEST_RENDER_S``), so a sandbox render of 0.3 s is not polled 18 s later."""

from __future__ import annotations

import dataclasses
import os
import sys

import bot.app
from bot.__main__ import main
from bot.config import Settings
from bot.core.jobs.config import JobsConfig

_jobs_config = bot.app.jobs_config


def _quick(settings: Settings) -> JobsConfig:
    return dataclasses.replace(_jobs_config(settings), expected_render_s=float(os.environ["KILL_TEST_RENDER_S"]))


if __name__ == "__main__":
    bot.app.jobs_config = _quick
    sys.exit(main())
