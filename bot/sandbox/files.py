"""``GET /files/{clip_id}.{ext}``: a clip's audio (synthesised WAV or the uploaded bytes) and its PNG cover.

Audio is rendered from the clip's song on first request (in a worker thread, so the event loop, which the bot
may share in-process, keeps answering polls) and the most recent renders are cached by :class:`Songs`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from bot.sandbox.art import render_png

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
            plan = self.sandbox.songs.plan(clip)
            mood = (plan.style.name, plan.mode) if plan is not None else None
            body = await asyncio.to_thread(render_png, clip.art_key, clip.title, mood=mood)
            return web.Response(body=body, content_type="image/png")
        if extension.lower() == "mid":
            midi = await asyncio.to_thread(self.sandbox.songs.midi, clip)
            if midi is None:
                return web.json_response({"error": "File not found"}, status=404)
            return web.Response(body=midi, content_type="audio/midi")
        if clip.audio is not None:
            return web.Response(body=clip.audio, content_type=clip.content_type or "application/octet-stream")
        audio = await asyncio.to_thread(self.sandbox.songs.wav, clip)
        if audio is None:
            # An upload whose source is still being fetched, or could not be: there is nothing to serve.
            return web.json_response({"error": "File not found"}, status=404)
        return web.Response(body=audio, content_type="audio/wav")
