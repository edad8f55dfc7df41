"""A plain FileFetcher on the provider HTTP client: provider files come through the same stack as provider calls.

An interim implementation until the address-guarded fetcher (bot/providers/files.py) is wired in its place: it
checks the scheme and the size, not the address.
"""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)


class HttpFileFetcher:
    """The FileFetcher port: ``fetch(url, limit=...)`` -> bytes, or None when missing, unreachable or too big."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def fetch(self, url: str, *, limit: int) -> bytes | None:
        if not url or not url.startswith(("http://", "https://")):
            return None
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    log.warning("file download answered HTTP %d", response.status_code)
                    return None
                length = response.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > limit:
                    return None
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > limit:
                        return None
                return bytes(data)
        except httpx.HTTPError:
            log.warning("file download failed", exc_info=True)
            return None
