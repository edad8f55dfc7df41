"""HTTP clients for the tests, which speak plain HTTP to servers on 127.0.0.1.

httpx builds a certificate-verifying TLS context for every client it makes, and reading the CA bundle costs about
30 ms of CPU; the suite makes hundreds of clients, so they share one (the product does the same:
``bot/providers/http.py``)."""

from __future__ import annotations

from typing import Any

import httpx

_TLS = httpx.create_ssl_context()


def http_client(**kwargs: Any) -> httpx.AsyncClient:
    """``httpx.AsyncClient(**kwargs)`` with the run's one TLS context."""
    return httpx.AsyncClient(verify=_TLS, **kwargs)
