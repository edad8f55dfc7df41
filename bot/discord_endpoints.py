"""Point discord.py at a Discord-compatible server other than discord.com (the playground, private gateways).

discord.py 2.7.1 has no public option for its endpoints, so this module sets the two class attributes that
every endpoint is derived from. It is called once at start-up with ``TUNESMITH_DISCORD_API_URL`` and
``TUNESMITH_DISCORD_GATEWAY_URL``; with the production defaults it changes nothing.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

_log = logging.getLogger(__name__)


def point_discord_at(api_url: str | None, gateway_url: str | None) -> None:
    """Send discord.py's REST calls to ``api_url`` and its gateway connection to ``gateway_url``.

    ``None`` leaves that endpoint as it is, so ``point_discord_at(None, None)`` is a no-op (the production
    default) and calling it twice with the same values is the same as calling it once.

    What is patched, and why nothing else needs to be:

    * ``discord.http.Route.BASE`` (class attribute, default ``https://discord.com/api/v10``). Every REST URL
      is ``Route.BASE + path``, computed when the ``Route`` is built, and that includes the interaction
      callback and webhook follow-up routes (``discord.webhook.async_`` and ``.sync`` import the same
      ``Route`` class). So login (``GET /users/@me``), ``GET /oauth2/applications/@me``, command sync,
      ``GET /gateway/bot`` and every message call go to ``api_url``.
    * ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (class attribute, a ``yarl.URL``). In 2.7.1 a
      plain ``Client``/``commands.Bot`` never calls ``GET /gateway/bot``: its first connection goes to
      ``DEFAULT_GATEWAY`` plus ``?v=10&encoding=json&compress=zlib-stream`` (``zstd-stream`` when zstandard
      is installed), and it falls back to ``DEFAULT_GATEWAY`` when a session is invalidated.

    The other two gateway URLs come from the server, so the server decides them. Resuming connects to
    ``resume_gateway_url`` from READY, and ``AutoShardedClient`` connects to the ``url`` that
    ``GET /gateway/bot`` answers (on ``api_url``). A Discord-compatible server, such as the playground
    (``bot.playground``), answers its own address in both places. They are deliberately not overridden here,
    because pinning them would break a real deployment that hands out regional resume URLs.

    Attachment and CDN URLs are not patched either. ``Attachment.read()`` fetches the absolute ``url`` the
    server put in the message, so a Discord-compatible server serves its own files. ``discord.Asset.BASE``
    (cdn.discordapp.com) only builds avatar and icon URLs that the bot never fetches.
    """
    # Both are checked before either is set, so a typo never leaves discord.py half pointed elsewhere.
    base = None if api_url is None else _checked(api_url, schemes=("http", "https"), what="API URL").rstrip("/")
    gateway = (
        None if gateway_url is None else yarl.URL(_checked(gateway_url, schemes=("ws", "wss"), what="gateway URL"))
    )

    if base is not None and base != Route.BASE:
        _log.info("Discord REST API: %s", base)
        Route.BASE = base
    if gateway is not None and gateway != DiscordWebSocket.DEFAULT_GATEWAY:
        _log.info("Discord gateway: %s", gateway)
        DiscordWebSocket.DEFAULT_GATEWAY = gateway


def _checked(url: str, *, schemes: tuple[str, ...], what: str) -> str:
    # A typo would otherwise surface much later as an opaque aiohttp error on the first request.
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"Discord {what} must be a {' or '.join(schemes)} URL, got {url!r}")
    return url
