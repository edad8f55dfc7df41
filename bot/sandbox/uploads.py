"""Fetching an upload's source audio, within the limits a hosted service would apply."""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import urlsplit

import aiohttp

FETCH_TIMEOUT_S = 5.0
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_CHUNK = 64 * 1024
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


class FetchError(Exception):
    """The source could not be fetched; the text becomes the task's failure message."""


async def fetch_audio(session: aiohttp.ClientSession, url: str) -> tuple[bytes, str]:
    """The body and content type at ``url``; raises FetchError when unreachable, not 2xx or too large."""
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    try:
        async with session.get(url, timeout=timeout) as response:
            if response.status >= 300:
                raise FetchError(f"the audio URL answered HTTP {response.status}")
            if (response.content_length or 0) > MAX_UPLOAD_BYTES:
                raise FetchError("the audio file is larger than 20 MiB")
            chunks: list[bytes] = []
            size = 0
            # Read in chunks so an endless or lying source cannot fill memory past the limit.
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise FetchError("the audio file is larger than 20 MiB")
                chunks.append(chunk)
            content_type = response.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
    if size == 0:
        raise FetchError("the audio file is empty")
    return b"".join(chunks), content_type


def extension_for(url: str, content_type: str) -> str:
    """The file extension to serve an upload under: the source's own, else one matching its content type."""
    found = _EXTENSION.search(urlsplit(url).path)
    if found:
        return found.group(1).lower()
    guessed = mimetypes.guess_extension(content_type or "")
    return guessed.lstrip(".") if guessed else "bin"
