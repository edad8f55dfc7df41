"""The composition root: Settings → store → provider → core → Services → Bot → notifier. Nothing else wires.

Everything is built once, in dependency order, with no cycle: core does not know the bot; the bot gets the
Services; the Discord notifier gets the bot; and the job runtime runs with the notifier while the bot is connected
(``core.runtime.start(notifier)``), so results and audit lines reach Discord without core holding a reference
to it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from bot.client import Tunesmith, make_bot
from bot.config import TOKEN_HELP, Settings
from bot.core.assembly import Core
from bot.core.clock import SystemClock
from bot.core.jobs.cluster import ClusterConfig, new_worker_id
from bot.core.jobs.config import JobsConfig
from bot.core.settings import Defaults
from bot.discord_endpoints import point_discord_at
from bot.domain.errors import ConfigError
from bot.domain.ports import Clock, MusicProvider, Store
from bot.providers import make_http_client, make_provider, webhook_parser
from bot.providers.files import GuardedFileFetcher
from bot.services import Services
from bot.storage.factory import open_store
from bot.ui.notifier import DiscordNotifier
from bot.web.server import WebOptions, WebServer

if TYPE_CHECKING:
    # Loaded only when it is the provider (numpy, Pillow and its music): a bot on a real provider starts sooner.
    from bot.sandbox import Sandbox

log = logging.getLogger(__name__)


def webhook_key(settings: Settings) -> bytes | None:
    """The key per-job webhook secrets are derived from: the operator's, or one made once and kept in a file
    beside the database (never inside it, so a database dump cannot forge webhooks)."""
    if not settings.webhooks_enabled:
        return None
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value().encode()
    if settings.database.kind == "postgresql":
        # A webhook may reach any process: every one must derive the same per-job secrets.
        raise ConfigError(
            "webhooks with PostgreSQL (many processes) need TUNESMITH_WEBHOOK_SECRET, the same in every process"
        )
    path = settings.database_path.with_name(settings.database_path.name + ".webhook-key")
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    log.info("created the webhook signing key at %s", path)
    return key


def jobs_config(settings: Settings) -> JobsConfig:
    return JobsConfig(
        webhook_key=webhook_key(settings),
        poll_interval=settings.poll_interval,
        max_poll_interval=max(settings.poll_interval * 6, settings.poll_interval),
        min_poll_gap=min(1.0, settings.poll_interval),
        deadline=settings.job_deadline,
        webhook_url_base=settings.public_url if settings.webhooks_enabled else None,
        safety_poll_interval=settings.webhook_safety_poll,
        max_retry_after=settings.max_retry_after,
        expected_render_s=settings.sandbox_render_seconds if settings.active_provider == "sandbox" else 30.0,
        status_grace_s=10.0,
        owner=f"{socket.gethostname()}:{os.getpid()}",
    )


def trusted_file_hosts(settings: Settings) -> list[str]:
    """Addresses provider files may come from although they are private: the configured provider's own host, when
    the operator wrote it as an address (a provider or proxy on the local network). Nothing else internal."""
    urls = {"producer": settings.producer_base_url, "sonic": settings.producer_base_url, "fuzz": settings.fuzz_base_url}
    base = urls.get(settings.active_provider)
    host = urlsplit(base).hostname if base else None
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return []
    return [f"{address}/{address.max_prefixlen}"]


def defaults(settings: Settings) -> Defaults:
    return Defaults(
        budget=settings.default_server_budget,
        period=settings.default_period,
        member_cap=settings.default_member_cap,
        max_jobs_member=settings.max_jobs_per_member,
        max_jobs_server=settings.max_jobs_per_server,
        costs=settings.costs(),
        confirm_above=settings.default_confirm_above,
    )


@dataclass(frozen=True)
class App:
    """Everything the bot runs on, built from Settings, so tests can build the same thing."""

    settings: Settings
    store: Store
    http: httpx.AsyncClient
    provider: MusicProvider
    core: Core
    services: Services
    bot: Tunesmith
    notifier: DiscordNotifier
    web: WebServer
    sandbox: Sandbox | None


@contextlib.asynccontextmanager
async def build(
    settings: Settings,
    *,
    start_web: bool = True,
    clock: Clock | None = None,
    jobs: JobsConfig | None = None,
    sandbox: Sandbox | None = None,
) -> AsyncIterator[App]:
    """Open the store, start the sandbox (when it is the provider) and the web server, and wire the bot.

    ``clock`` and ``jobs`` replace the real clock and the job settings derived from ``settings``; ``sandbox`` is a
    sandbox already running to use as the provider (tests and tools; it is left running on exit).
    The job runtime is not started here: it runs with the notifier once the bot has logged in (see :func:`run`).
    """
    clock = clock or SystemClock()
    async with contextlib.AsyncExitStack() as stack:
        # First: a second bot on the same database stops here, with one line, before anything else starts.
        # TUNESMITH_DATABASE_URL picks the store (SQLite by default, PostgreSQL for scale).
        store = await open_store(settings.database)
        stack.push_async_callback(store.close)
        point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
        http = make_http_client(settings)
        stack.push_async_callback(http.aclose)
        if sandbox is None and settings.active_provider == "sandbox":
            rewrite = None
            if settings.webhooks_enabled and settings.public_url:
                # The in-process sandbox cannot reach the public HTTPS URL; deliver straight to the web server.
                rewrite = (settings.public_url, f"http://{settings.web_host}:{settings.web_port}")
            from bot.sandbox import Sandbox

            sandbox = Sandbox(render_seconds=settings.sandbox_render_seconds, webhook_base_rewrite=rewrite)
            await sandbox.start()
            stack.push_async_callback(sandbox.stop)
            log.info("no provider key set: using the built-in sandbox provider at %s", sandbox.base_url)
        provider = make_provider(settings, http, sandbox_base_url=sandbox.base_url if sandbox else None)
        # On PostgreSQL this process is one worker of many: jobs are leased, the queue and the provider's slots
        # are shared, caches follow the others (bot/core/jobs/cluster.py). SQLite serves one process alone.
        cluster = None
        if settings.database.kind == "postgresql":
            from bot.storage.postgres import PostgresStore  # already loaded by open_store: asyncpg only when used

            assert isinstance(store, PostgresStore)
            cluster = (store, ClusterConfig(worker=new_worker_id(), takeover_s=settings.takeover_seconds))
        core = Core(
            store=store,
            provider=provider,
            clock=clock,
            config=jobs or jobs_config(settings),
            defaults=defaults(settings),
            cluster=cluster,
        )
        stack.push_async_callback(core.runtime.stop)
        services = Services.of(core)
        # Provider files come through the provider HTTP stack, from public addresses only (the built-in sandbox
        # lives on loopback, so it alone may be fetched from there).
        files = GuardedFileFetcher(
            allow_private=settings.active_provider == "sandbox", allowed_networks=trusted_file_hosts(settings)
        )
        stack.push_async_callback(files.aclose)
        bot = make_bot(
            services,
            files,
            sync_commands=settings.sync_commands,
            shard_count=settings.shard_count,
            shard_ids=settings.shards,
        )
        edits = cluster[0] if cluster is not None else None
        spacing = settings.channel_edit_spacing

        async def channel_budget(channel_id: int) -> float:
            assert edits is not None
            return await edits.claim_channel_edit(channel_id, clock.now(), spacing)

        notifier = DiscordNotifier(bot, clock=clock, channel_budget=channel_budget if edits is not None else None)
        stack.push_async_callback(notifier.close)
        web = WebServer(core.web, webhook_parser(settings), options=WebOptions.from_settings(settings))
        if start_web:
            await web.start(settings.web_host, settings.web_port)
            stack.push_async_callback(web.stop)
        yield App(settings, store, http, provider, core, services, bot, notifier, web, sandbox)


async def run(settings: Settings) -> None:
    """Run the bot until it is stopped."""
    token = settings.discord_token
    if token is None:
        # Without a token `python -m bot` starts the playground (bot/playground/launch.py), which calls this with
        # its own URLs and bot token.
        raise ConfigError(TOKEN_HELP)
    async with build(settings) as app, app.bot:
        await app.bot.login(token.get_secret_value())
        # Started after login (the notifier needs the REST client) and outside the bot's tasks, so recovery can
        # post results while the gateway connects.
        await app.core.runtime.start(app.notifier)
        await app.bot.connect(reconnect=True)
