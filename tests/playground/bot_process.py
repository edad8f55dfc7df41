"""The bot as ``python -m bot`` runs it in production (settings from the environment, logged in with a token),
with one knob a test needs and no setting offers: the render time core expects before its first poll
(``KILL_TEST_RENDER_S``), so a sandbox render of 0.3 s is not polled 18 s later.

:func:`run` is the entry point of the lives tests/forked.py forks; ``python -m tests.playground.bot_process`` runs
it in a new interpreter."""

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


def run() -> int:
    bot.app.jobs_config = _quick
    return main([])


if __name__ == "__main__":
    sys.exit(run())
