"""Running at scale: the sharded client, and what many processes on PostgreSQL need of the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from discord.ext import commands

from bot.app import webhook_key
from bot.client import ShardedTunesmith, Tunesmith, make_bot
from bot.config import load_settings
from bot.domain.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("TUNESMITH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_a_shard_count_makes_a_sharded_bot_on_this_processes_shards() -> None:
    services, files = cast(Any, object()), cast(Any, object())
    plain = make_bot(services, files)
    assert type(plain) is Tunesmith and not isinstance(plain, commands.AutoShardedBot)
    sharded = make_bot(services, files, shard_count=4, shard_ids=[2, 3])
    assert isinstance(sharded, ShardedTunesmith) and isinstance(sharded, commands.AutoShardedBot)
    assert sharded.shard_count == 4 and sharded.shard_ids == [2, 3]
    everything = make_bot(services, files, shard_count=2)
    assert isinstance(everything, commands.AutoShardedBot) and everything.shard_ids == [0, 1]


def test_webhooks_on_postgresql_need_the_same_key_in_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_PUBLIC_URL", "https://bot.example")
    monkeypatch.setenv("TUNESMITH_DATABASE_URL", "postgresql://u@db/tunesmith")
    with pytest.raises(ConfigError, match="TUNESMITH_WEBHOOK_SECRET"):
        webhook_key(load_settings())
    monkeypatch.setenv("TUNESMITH_WEBHOOK_SECRET", "shared")
    assert webhook_key(load_settings()) == b"shared"
