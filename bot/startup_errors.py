"""One line instead of a traceback when the bot cannot start: what is wrong and what to do about it.

``python -m bot`` calls :func:`explain` on whatever stopped it; a known cause becomes one line on stderr and a
non-zero exit, anything else keeps its traceback (that one is a bug to report).
"""

from __future__ import annotations

import socket
import ssl

import aiohttp
import discord

_TOKEN_HELP = (
    "check TUNESMITH_DISCORD_TOKEN in .env: copy it again from https://discord.com/developers/applications "
    "(your application -> Bot -> Reset Token), with no quotes or spaces around it"
)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, what it was raised from, and the members of exception groups, outermost first."""
    found: list[BaseException] = []
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return found


def explain(exc: BaseException, *, api_url: str = "https://discord.com/api/v10") -> str | None:
    """A one-line explanation of a start-up failure, or None when it is not a known cause."""
    for cause in _causes(exc):
        if isinstance(cause, discord.LoginFailure):
            return f"Discord refused the bot token (HTTP 401 Unauthorized); {_TOKEN_HELP}."
        if isinstance(cause, discord.PrivilegedIntentsRequired):
            return (
                "Discord refused a privileged gateway intent; enable it for the bot at "
                "https://discord.com/developers/applications (your application -> Bot -> Privileged Gateway Intents)."
            )
        if isinstance(cause, discord.ConnectionClosed) and cause.code == 4004:
            return f"Discord's gateway refused the bot token (close code 4004); {_TOKEN_HELP}."
        if isinstance(cause, discord.HTTPException) and cause.status >= 500:
            return (
                f"Discord answered HTTP {cause.status} at {api_url}; it is having trouble, try again in a few minutes "
                "(https://discordstatus.com)."
            )
        if isinstance(cause, discord.GatewayNotFound):
            return f"Could not find Discord's gateway through {api_url}; check the network, then try again."
    for cause in _causes(exc):
        if isinstance(cause, aiohttp.ClientConnectorCertificateError | ssl.SSLCertVerificationError):
            return (
                f"Could not verify the TLS certificate of {api_url}; check the system clock and CA certificates "
                "(or a proxy that intercepts TLS)."
            )
        if isinstance(cause, aiohttp.ClientConnectorDNSError | socket.gaierror):
            return (
                f"Could not resolve the host of {api_url} (no DNS answer); check the network connection and "
                "TUNESMITH_DISCORD_API_URL."
            )
        if isinstance(cause, aiohttp.ClientConnectionError | ConnectionError | TimeoutError):
            return (
                f"Could not reach Discord at {api_url} ({_reason(cause)}); check the network connection, a firewall "
                "or proxy, and TUNESMITH_DISCORD_API_URL if you set it."
            )
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, OSError) and os_error.strerror:
        return os_error.strerror.lower()
    return type(exc).__name__
