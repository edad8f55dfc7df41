"""Run the sandbox provider on its own: ``python -m bot.sandbox --port 8765``; Ctrl-C stops it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from bot.sandbox.server import Sandbox
from bot.sandbox.store import STARTING_CREDITS

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--render-seconds", type=float, default=3.0, help="time a task takes to finish")
    parser.add_argument(
        "--clip-seconds",
        type=float,
        default=None,
        help="force every clip to this length (default: each song's own, 20-30 s)",
    )
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any non-empty key)")
    parser.add_argument("--legacy-signatures", action="store_true", help="sign webhooks with X-Signature")
    parser.add_argument("--duplicate-webhooks", action="store_true", help="send every webhook twice")
    parser.add_argument(
        "--webhook-rewrite",
        default=None,
        metavar="PUBLIC=LOCAL",
        help="deliver webhooks for URLs starting with PUBLIC to LOCAL instead (a TLS proxy's job)",
    )
    parser.add_argument(
        "--credits", type=int, default=STARTING_CREDITS, help=f"the account's credits (default {STARTING_CREDITS:,})"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    rewrite = None
    if args.webhook_rewrite:
        public, sep, local = args.webhook_rewrite.partition("=")
        if not sep:
            raise SystemExit("--webhook-rewrite takes PUBLIC=LOCAL")
        rewrite = (public, local)
    sandbox = Sandbox(
        render_seconds=args.render_seconds,
        clip_seconds=args.clip_seconds,
        api_key=args.api_key,
        webhook_base_rewrite=rewrite,
        legacy_signatures=args.legacy_signatures,
        duplicate_webhooks=args.duplicate_webhooks,
        credits=args.credits,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not every platform lets the loop own signals; Ctrl-C then arrives as KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await sandbox.start(args.host, args.port)
    log.info("Producer base URL: %s  (clients add /api/v1/...)", sandbox.base_url)
    log.info("FUZZ base URL:     %s  (clients add /task)", sandbox.fuzz_base_url)
    log.info(
        "control: POST %s/_sandbox/inject, POST %s/_sandbox/clear, GET %s/_sandbox/stats",
        sandbox.base_url,
        sandbox.base_url,
        sandbox.base_url,
    )
    try:
        await stop.wait()
    finally:
        log.info("stopping the sandbox")
        await sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
