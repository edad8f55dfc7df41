"""The composition root: Settings → Database → provider client → services → Bot. Nothing else wires."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from bot.config import Settings
from bot.core.engine import Defaults, Engine, EngineConfig
from bot.core.studio import Studio
from bot.discord_endpoints import point_discord_at
from bot.domain.ports import MusicProvider
from bot.providers import make_http_client, make_provider
from bot.providers.producer import parse_webhook
from bot.sandbox import Sandbox
from bot.storage.database import Database
from bot.ui.client import Tunesmith
from bot.ui.notifier import DiscordAuditLog, DiscordNotifier
from bot.web.server import WebOptions, WebServer

log = logging.getLogger(__name__)


def webhook_key(settings: Settings) -> bytes | None:
    """The key per-job webhook secrets are derived from: the operator's, or one made once and kept in a file
    beside the database (never inside it, so a database dump cannot forge webhooks)."""
    if not settings.webhooks_enabled:
        return None
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value().encode()
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


def engine_config(settings: Settings) -> EngineConfig:
    return EngineConfig(
        webhook_key=webhook_key(settings),
        poll_interval=settings.poll_interval,
        max_poll_interval=max(settings.poll_interval * 6, settings.poll_interval),
        deadline=settings.job_deadline,
        webhook_url_base=settings.public_url if settings.webhooks_enabled else None,
        safety_poll_interval=settings.webhook_safety_poll,
        expected_render_s=settings.sandbox_render_seconds if settings.active_provider == "sandbox" else 30.0,
        status_grace_s=10.0,
    )


def defaults(settings: Settings) -> Defaults:
    return Defaults(
        budget=settings.default_server_budget,
        period=settings.default_period,
        member_cap=settings.default_member_cap,
        max_jobs_member=settings.max_jobs_per_member,
        max_jobs_server=settings.max_jobs_per_server,
        costs=settings.costs(),
    )


@dataclass
class App:
    """Everything the bot runs on, built from Settings, so tests can build the same thing."""

    settings: Settings
    db: Database
    http: httpx.AsyncClient
    provider: MusicProvider
    engine: Engine
    studio: Studio
    bot: Tunesmith
    notifier: DiscordNotifier
    web: WebServer
    sandbox: Sandbox | None


@contextlib.asynccontextmanager
async def build(settings: Settings, *, start_web: bool = True) -> AsyncIterator[App]:
    """Open the database, start the sandbox (when it is the provider) and the web server, and wire the bot.

    The engine is not started here: it runs outside the bot's own tasks (see :func:`run`).
    """
    point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
    async with contextlib.AsyncExitStack() as stack:
        db = await Database.open(settings.database_path)
        stack.push_async_callback(db.close)
        http = make_http_client(settings)
        stack.push_async_callback(http.aclose)
        sandbox: Sandbox | None = None
        if settings.active_provider == "sandbox":
            rewrite = None
            if settings.webhooks_enabled and settings.public_url:
                # The in-process sandbox cannot reach the public HTTPS URL; deliver straight to the web server.
                rewrite = (settings.public_url, f"http://{settings.web_host}:{settings.web_port}")
            sandbox = Sandbox(render_seconds=settings.sandbox_render_seconds, webhook_base_rewrite=rewrite)
            await sandbox.start()
            stack.push_async_callback(sandbox.stop)
            log.info("no provider key set: using the built-in sandbox provider at %s", sandbox.base_url)
        provider = make_provider(settings, http, sandbox_base_url=sandbox.base_url if sandbox else None)
        engine = Engine(
            uow=db.unit_of_work,
            provider=provider,
            notifier=None,  # type: ignore[arg-type]  # set below: the notifier needs the bot
            config=engine_config(settings),
            defaults=defaults(settings),
        )
        stack.push_async_callback(engine.stop)
        studio = Studio(engine, db.unit_of_work)
        bot = Tunesmith(studio, sync_commands=settings.sync_commands)
        notifier = DiscordNotifier(bot)
        stack.push_async_callback(notifier.close)
        bot.notifier = notifier
        engine.notifier = notifier
        studio.audit = DiscordAuditLog(bot)
        web = WebServer(engine, parse_webhook, options=WebOptions.from_settings(settings))
        if start_web:
            await web.start(settings.web_host, settings.web_port)
            stack.push_async_callback(web.stop)
        yield App(settings, db, http, provider, engine, studio, bot, notifier, web, sandbox)


async def run(settings: Settings) -> None:
    """Run the bot until it is stopped."""
    token = settings.discord_token
    assert token is not None
    async with build(settings) as app, app.bot:
        await app.bot.login(token.get_secret_value())
        # Started after login (the notifier needs the REST client) and outside the bot's tasks, so recovery
        # can post results while the gateway connects.
        await app.engine.start()
        await app.bot.connect(reconnect=True)
