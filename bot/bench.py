"""``python -m bot.bench``: the job engine under load, against the sandbox, next to a naive baseline.

It runs N jobs across G servers in each mode: FUZZ polling (batched status calls), Producer webhooks, and
optionally Producer polling; then a naive baseline that polls every task on its own every 5 s. The sandbox runs
in a child process, so the CPU and memory measured here are the engine's own (plus its database, HTTP client
and web server). Times are scaled by ``--time-scale`` (renders, poll intervals, deadlines alike), so request
ratios are measured on the same work in a fraction of the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.core.assembly import Core
from bot.core.jobs.config import JobsConfig
from bot.core.settings import Defaults
from bot.domain.audit import AuditEntry
from bot.domain.models import CreateMusic, Job, Operation, Period
from bot.domain.outcomes import Delivery, Failure, JobResult, Progress
from bot.domain.ports import MusicProvider
from bot.domain.requester import Requester
from bot.providers import FuzzClient, ProducerClient
from bot.providers.http import ProviderHttpClient
from bot.providers.producer import parse_webhook
from bot.storage.store import SqliteStore
from bot.web.server import WebServer

log = logging.getLogger(__name__)
PUBLIC_URL = "https://bench.tunesmith.invalid"  # never contacted: the sandbox rewrites it to the local server
BASELINE_INTERVAL = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def sandbox_process(render: float, webhook_target: str | None = None) -> AsyncIterator[str]:
    """Start ``python -m bot.sandbox`` in a child process; yield its base URL."""
    port = _free_port()
    args = [
        sys.executable,
        "-m",
        "bot.sandbox",
        "--port",
        str(port),
        "--render-seconds",
        f"{render}",
        "--clip-seconds",
        "1",
        "--log-level",
        "WARNING",
    ]
    if webhook_target:
        args += ["--webhook-rewrite", f"{PUBLIC_URL}={webhook_target}"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{base}/_sandbox/stats")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the sandbox did not start")
        yield base
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)


async def sandbox_stats(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        stats: dict[str, Any] = (await client.get(f"{base}/_sandbox/stats", params={"finished": "1"})).json()
        return stats


@dataclass
class BenchNotifier:
    """The Notifier port for the benchmark: records when each job reached it (and its task); posts nothing."""

    delivered: dict[int, float] = field(default_factory=dict)
    task_of: dict[int, str | None] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def job_progress(self, job: Job, progress: Progress) -> None:
        return None

    async def job_succeeded(self, result: JobResult) -> list[Delivery]:
        self._mark(result.job)
        return [
            Delivery(track_id=c.track.id, channel_id=c.track.channel_id, message_id=c.track.id) for c in result.cards
        ]

    async def job_failed(self, job: Job, failure: Failure, refunded: int) -> None:
        log.warning("job %d failed: %s %s", job.id, failure.kind.value, failure.detail or "")
        self._mark(job)

    async def audit(self, guild_id: int, channel_id: int, entry: AuditEntry) -> None:
        return None

    def _mark(self, job: Job) -> None:
        self.delivered[job.id] = time.monotonic()
        self.task_of[job.id] = job.task_id
        if len(self.delivered) >= self.expected:
            self.done.set()


@dataclass
class Result:
    name: str
    jobs: int
    completed: int
    submits: int
    polls: int
    wall_s: float
    cpu_ms_per_job: float
    latencies_ms: list[float]
    peak_rss_mb: float

    @property
    def requests(self) -> int:
        return self.submits + self.polls

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, round(q * (len(data) - 1)))]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


async def run_engine(
    name: str, *, provider_kind: str, webhooks: bool, jobs: int, guilds: int, render: float, scale: float
) -> Result:
    web_port = _free_port()
    target = f"http://127.0.0.1:{web_port}" if webhooks else None
    async with sandbox_process(render, target) as base:
        with tempfile.TemporaryDirectory() as tmp:
            store = await SqliteStore.open(Path(tmp) / "bench.sqlite3")
            # The production client (httpx over aiohttp), so the CPU measured is what the bot spends.
            http = ProviderHttpClient(timeout=30, limits=httpx.Limits(max_connections=50))
            provider: MusicProvider
            if provider_kind == "fuzz":
                provider = FuzzClient(http, base_url=f"{base}/api/v2/fuzz", api_key="bench", max_concurrency=jobs)
            else:
                provider = ProducerClient(http, base_url=base, api_key="bench", max_concurrency=jobs, name="sandbox")
            notifier = BenchNotifier(expected=jobs)
            core = Core(
                store=store,
                provider=provider,
                config=JobsConfig(
                    poll_interval=5.0 * scale,
                    max_poll_interval=30.0 * scale,
                    deadline=600.0 * scale,
                    webhook_url_base=PUBLIC_URL if webhooks else None,
                    safety_poll_interval=60.0 * scale,
                    expected_render_s=30.0 * scale,
                    sweep_interval=min(1.0, 2.5 * scale),
                ),
                defaults=Defaults(budget=10**9, period=Period.MONTH, max_jobs_member=jobs, max_jobs_server=jobs),
            )
            web = WebServer(core.web, parse_webhook)
            await web.start("127.0.0.1", web_port)
            rng = random.Random(7)
            cpu0, wall0 = time.process_time(), time.monotonic()
            await core.runtime.start(notifier)
            for i in range(jobs):
                who = Requester(guild_id=1 + i % guilds, channel_id=1000 + i % guilds, user_id=rng.randrange(1, 200))
                await core.admission.admit(who, Operation.CREATE, {"sound": f"bench style {i}", "title": f"Bench {i}"})
            try:
                await asyncio.wait_for(notifier.done.wait(), timeout=max(120.0, render * 10))
            except TimeoutError:
                log.error("%s: only %d of %d jobs finished in time", name, len(notifier.delivered), jobs)
            cpu = time.process_time() - cpu0
            wall = time.monotonic() - wall0
            await core.runtime.stop()
            await web.stop()
            stats = await sandbox_stats(base)
            task_of = notifier.task_of
            await http.aclose()
            await store.close()
    finished = stats.get("finished_at", {})
    globals()["_last"] = (task_of, notifier.delivered, finished)
    latencies = [
        (delivered - finished[task_of[job_id]]) * 1000
        for job_id, delivered in notifier.delivered.items()
        if task_of.get(job_id) in finished
    ]
    return Result(
        name=name,
        jobs=jobs,
        completed=len(notifier.delivered),
        submits=int(stats["submits"]),
        polls=int(stats["polls"]),
        wall_s=wall,
        cpu_ms_per_job=cpu * 1000 / jobs,
        latencies_ms=latencies,
        peak_rss_mb=_peak_rss_mb(),
    )


async def run_baseline(*, jobs: int, render: float, scale: float) -> Result:
    """What a naive bot does: submit, then poll each task on its own every 5 s until it is done."""
    async with sandbox_process(render) as base:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as http:
            client = FuzzClient(http, base_url=f"{base}/api/v2/fuzz", api_key="bench")
            wall0 = time.monotonic()

            async def one(i: int) -> None:
                task_id = await client.submit(CreateMusic(sound=f"bench style {i}"))
                while True:
                    await asyncio.sleep(BASELINE_INTERVAL * scale)
                    status = (await client.fetch([task_id]))[0]
                    if status.state.finished:
                        return

            await asyncio.gather(*(one(i) for i in range(jobs)))
            wall = time.monotonic() - wall0
        stats = await sandbox_stats(base)
    return Result(
        "naive baseline (FUZZ, 1 id a poll, every 5 s)",
        jobs,
        jobs,
        int(stats["submits"]),
        int(stats["polls"]),
        wall,
        float("nan"),
        [],
        _peak_rss_mb(),
    )


def report(results: list[Result], baseline: Result | None, targets: bool) -> list[str]:
    lines = []
    header = (
        f"{'mode':<48} {'done':>9} {'submits/job':>11} {'polls/job':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cpu ms/job':>10} {'wall s':>7}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for r in [*results, *([baseline] if baseline else [])]:
        lines.append(
            f"{r.name:<48} {r.completed:>4}/{r.jobs:<4} {r.submits / r.jobs:>11.2f} {r.polls / r.jobs:>9.2f} "
            f"{r.pct(0.5):>8.1f} {r.pct(0.99):>8.1f} {r.cpu_ms_per_job:>10.2f} {r.wall_s:>7.1f}"
        )
    lines.append(f"peak memory (RSS of the engine process): {max(r.peak_rss_mb for r in results):.0f} MB")
    if baseline:
        for r in results:
            lines.append(
                f"{r.name}: provider requests {r.requests} vs baseline {baseline.requests} "
                f"= {r.requests / baseline.requests:.3f} (status polls alone: {r.polls}/{baseline.polls} "
                f"= {r.polls / max(baseline.polls, 1):.3f})"
            )
    if targets:
        lines.append("")
        lines.extend(check_targets(results, baseline))
    return lines


def check_targets(results: list[Result], baseline: Result | None) -> list[str]:
    out = []

    def mark(ok: bool, text: str) -> None:
        out.append(f"{'PASS' if ok else 'FAIL'}  {text}")

    for r in results:
        mark(r.completed == r.jobs, f"{r.name}: every job completed ({r.completed}/{r.jobs})")
        mark(r.cpu_ms_per_job < 2.0, f"{r.name}: under 2 ms of engine CPU per job ({r.cpu_ms_per_job:.2f})")
        if "FUZZ" in r.name and baseline:
            ratio = r.polls / max(baseline.polls, 1)
            mark(ratio <= 0.1, f"{r.name}: status polls at most 1/10 of the baseline's ({ratio:.3f})")
        if "webhook" in r.name:
            mark(r.polls == 0, f"{r.name}: no polling beyond the safety net ({r.polls} polls)")
            mark(r.pct(0.99) < 200, f"{r.name}: p99 delivery under 200 ms ({r.pct(0.99):.1f} ms)")
    peak = max(r.peak_rss_mb for r in results)
    mark(peak < 200, f"peak memory under 200 MB ({peak:.0f} MB)")
    return out


async def main_async(args: argparse.Namespace) -> int:
    render = args.render * args.time_scale
    modes = {
        "fuzz-polling": ("FUZZ polling (batched, 25 ids a call)", "fuzz", False),
        "producer-webhook": ("Producer webhooks (polling = safety net)", "producer", True),
        "producer-polling": ("Producer polling (1 id a call)", "producer", False),
    }
    chosen = args.mode or ["fuzz-polling", "producer-webhook"]
    results = []
    for mode in chosen:
        name, kind, webhooks = modes[mode]
        log.info("running %s: %d jobs over %d servers, render %.1fs", name, args.jobs, args.guilds, render)
        results.append(
            await run_engine(
                name,
                provider_kind=kind,
                webhooks=webhooks,
                jobs=args.jobs,
                guilds=args.guilds,
                render=render,
                scale=args.time_scale,
            )
        )
    baseline = None
    if not args.no_baseline:
        log.info("running the naive baseline")
        baseline = await run_baseline(jobs=args.jobs, render=render, scale=args.time_scale)
    lines = report(results, baseline, targets=True)
    sys.stdout.write("\n".join(lines) + "\n")
    args.results = results
    return 0 if all(line.startswith("PASS") for line in lines if line[:4] in ("PASS", "FAIL")) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", "-n", type=int, default=500, help="jobs per mode (default 500)")
    parser.add_argument("--guilds", "-g", type=int, default=50, help="servers they come from (default 50)")
    parser.add_argument("--render", type=float, default=30.0, help="provider render time in seconds (default 30)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.2,
        help="multiply every duration (render, intervals, deadline) by this (default 0.2)",
    )
    parser.add_argument(
        "--mode",
        action="append",
        choices=["fuzz-polling", "producer-webhook", "producer-polling"],
        help="a mode to run (repeatable; default: fuzz-polling and producer-webhook)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("TUNESMITH_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    code = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in args.results], default=str))
    return code


if __name__ == "__main__":
    sys.exit(main())
