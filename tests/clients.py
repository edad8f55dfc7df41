"""HTTP clients for the tests, which speak plain HTTP to servers on 127.0.0.1.

httpx builds a certificate-verifying TLS context for every client it makes, and reading the CA bundle costs about
30 ms of CPU; the suite makes hundreds of clients, so they share the process's one, as the bot's clients do."""

from __future__ import annotations

from typing import Any

import httpx

from bot.providers.http import verifying_context


def http_client(**kwargs: Any) -> httpx.AsyncClient:
    """``httpx.AsyncClient(**kwargs)`` with the process's one TLS context."""
    return httpx.AsyncClient(verify=verifying_context(), **kwargs)
