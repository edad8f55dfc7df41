"""The playground: a local Discord-compatible server and the web page that acts as a Discord client.

``make run`` without a token runs the real bot against it (see ``launch.py``); the wire tests run against it too.
"""

from bot.playground.server import Playground

__all__ = ["Playground"]
