"""The built-in sandbox music provider: both providers' wire formats on loopback, with real audio and art."""

from bot.sandbox.server import Sandbox, SandboxStats

__all__ = ["Sandbox", "SandboxStats"]
