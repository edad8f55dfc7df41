"""``GET /files/{clip_id}.{ext}``: a clip's audio (synthesised WAV or the uploaded bytes) and its PNG cover.

Nothing is stored: each request renders from the clip's parameters, in a worker thread so the event loop (which
the bot may share in-process) keeps answering polls meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from bot.domain.models import Operation
from bot.sandbox.art import render_png
from bot.sandbox.audio import render_wav

if TYPE_CHECKING:
    from bot.sandbox.server import Sandbox


class FileRoutes:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/files/{name}", self.serve)

    async def serve(self, request: web.Request) -> web.Response:
        self.sandbox.stats.files += 1
        clip_id, _, extension = request.match_info["name"].rpartition(".")
        clip = self.sandbox.store.clips.get(clip_id)
        if clip is None:
            return web.json_response({"error": "File not found"}, status=404)
        if extension.lower() == "png":
            body = await asyncio.to_thread(render_png, clip.art_key, clip.title)
            return web.Response(body=body, content_type="image/png")
        if clip.audio is not None:
            return web.Response(body=clip.audio, content_type=clip.content_type or "application/octet-stream")
        if clip.operation is Operation.UPLOAD:
            # An upload whose source is still being fetched, or could not be: there is nothing to serve.
            return web.json_response({"error": "File not found"}, status=404)
        body = await asyncio.to_thread(render_wav, clip.audio_key, self.sandbox.clip_seconds)
        return web.Response(body=body, content_type="audio/wav")
