"""``python -m bot.bench``: the job engine under load, against the sandbox, next to a naive baseline.

It runs N jobs across G servers in each mode: FUZZ polling (batched status calls), Producer webhooks, and
optionally Producer polling; then a naive baseline that polls every task on its own every 5 s. The sandbox runs
in a child process, so the CPU and memory measured here are the engine's own (plus its database, HTTP client
and web server). Times are scaled by ``--time-scale`` (renders, poll intervals, deadlines alike), so request
ratios are measured on the same work in a fraction of the wall time. The engine starts out assuming the
production render time (30 s, scaled) and learns the sandbox's.

Only jobs delivered count as done; failed ones are listed apart with their reasons (the bench's sandbox has
credits for every job of the run, ``--sandbox-credits`` to change that). Each mode runs ``--rounds`` times and CPU
per job is the median of the rounds, so another process's burst moves it little; ``--jobs 250,1000,2000`` runs each
size and shows how the cost grows. Figures are printed with their targets beside them; a missed target is an
error (exit 1) only with ``--check``.

Admissions are measured apart: many members of many servers asking at once through core's real admission (rules,
content filter, the store's atomic reservation) against budgets that cover only part of the demand, reporting
admissions per second and checking that no server spent a credit more than its budget (0 overspend).

``--database URL`` runs both on that database instead of a temporary SQLite file: ``postgresql://...`` uses a
schema of its own (``tunesmith_bench_<pid>_<n>``), dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.core.admission import check_quota, check_rules
from bot.core.assembly import Core
from bot.core.credits import period_key, quota_of
from bot.core.jobs.config import JobsConfig
from bot.core.settings import Defaults
from bot.database_url import DatabaseTarget, parse_database_url
from bot.domain.audit import AuditEntry
from bot.domain.errors import ProviderError, QuotaExceeded
from bot.domain.models import (
    DEFAULT_COSTS,
    CreateMusic,
    GuildSettings,
    Job,
    Operation,
    Period,
    TaskState,
    build_request,
)
from bot.domain.outcomes import Delivery, Failure, JobResult, Progress
from bot.domain.ports import AdmissionDecision, AdmissionSnapshot, JobTicket, MusicProvider, Store
from bot.domain.requester import Requester
from bot.providers import FuzzClient, ProducerClient
from bot.providers.http import ProviderHttpClient
from bot.providers.producer import parse_webhook
from bot.storage.postgres import PostgresStore
from bot.storage.store import SqliteStore
from bot.web.server import WebServer

log = logging.getLogger(__name__)
PUBLIC_URL = "https://bench.tunesmith.invalid"  # never contacted: the sandbox rewrites it to the local server
BASELINE_INTERVAL = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class BenchDatabase:
    """Where a run keeps its data: a temporary SQLite file, or a PostgreSQL schema of its own."""

    target: DatabaseTarget
    schema: str | None = None  # PostgreSQL: the run's schema

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.target.kind == "postgresql" else "SQLite"

    async def open(self, *, lock: bool = False) -> Store:
        """A store on this database. Many may be open at once (``lock=False``): admission workers share it."""
        if self.target.kind == "postgresql":
            assert self.target.dsn is not None
            return await PostgresStore.open(self.target.dsn, schema=self.schema, lock=lock, min_size=1, max_size=10)
        assert self.target.path is not None
        return await SqliteStore.open(self.target.path, lock=lock)


_schemas = iter(range(1, 10**6))


@contextlib.asynccontextmanager
async def bench_database(url: str | None) -> AsyncIterator[BenchDatabase]:
    """A fresh database for one run: a SQLite file in a temporary folder (no URL), or a new PostgreSQL schema in the
    URL's database, dropped at the end (so runs never meet each other's data)."""
    if url is None or url.strip().lower().startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            path = parse_database_url(url, default_path=Path(tmp) / "bench.sqlite3").path
            yield BenchDatabase(DatabaseTarget("sqlite", path=path))
        return
    target = parse_database_url(url, default_path=Path("unused"))
    assert target.dsn is not None
    schema = f"tunesmith_bench_{os.getpid()}_{next(_schemas)}"
    try:
        yield BenchDatabase(target, schema)
    finally:
        import asyncpg  # only here: the bench drops its schema with a plain connection

        conn = await asyncpg.connect(target.dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def sandbox_process(render: float, webhook_target: str | None = None, *, credits: int) -> AsyncIterator[str]:
    """Start ``python -m bot.sandbox`` in a child process with ``credits`` on its account; yield its base URL."""
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
        "--credits",
        str(credits),
        "--log-level",
        "WARNING",
    ]
    if webhook_target:
        args += ["--webhook-rewrite", f"{PUBLIC_URL}={webhook_target}"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(400):
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


def credits_for(jobs: int) -> int:
    """The bench sandbox's credits: every job of a run paid for, however many (a sandbox task costs 10 at most)."""
    return max(10_000, jobs * 20)


@dataclass
class BenchNotifier:
    """The Notifier port for the benchmark: records when each job reached it, and why a job failed; posts nothing."""

    delivered: dict[int, float] = field(default_factory=dict)  # job id -> when its result reached the notifier
    failed: dict[int, str] = field(default_factory=dict)  # job id -> why
    task_of: dict[int, str | None] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def job_progress(self, job: Job, progress: Progress) -> None:
        return None

    async def job_succeeded(self, result: JobResult) -> list[Delivery]:
        self.delivered[result.job.id] = time.monotonic()
        self._ended(result.job)
        return [
            Delivery(track_id=c.track.id, channel_id=c.track.channel_id, message_id=c.track.id) for c in result.cards
        ]

    async def job_failed(self, job: Job, failure: Failure, refunded: int) -> None:
        self.failed[job.id] = f"{failure.kind.value}: {failure.detail or '(no detail)'}"
        self._ended(job)

    async def audit(self, guild_id: int, channel_id: int, entry: AuditEntry) -> None:
        return None

    def _ended(self, job: Job) -> None:
        self.task_of[job.id] = job.task_id
        if len(self.delivered) + len(self.failed) >= self.expected:
            self.done.set()


@dataclass
class Round:
    """One run of one mode: what the engine did with ``jobs`` jobs."""

    jobs: int
    delivered: int
    failures: Counter[str]
    submits: int
    polls: int
    wall_s: float
    cpu_ms_per_job: float  # nan: not measured (the baseline is not the engine)
    latencies_ms: list[float]  # completion (the sandbox's render end) -> the notifier has it
    peak_rss_mb: float
    unfinished: int = 0  # neither delivered nor failed when the run's time ran out


@dataclass
class Result:
    """A mode's rounds together: counts and delays over every round, CPU per job as the median of the rounds."""

    name: str
    rounds: list[Round]
    engine: bool = True  # False: the naive baseline (a plain client; its CPU and delays are not the engine's)
    polling: bool = False  # status polls are how results arrive (not webhooks)

    @property
    def jobs(self) -> int:
        return sum(r.jobs for r in self.rounds)

    @property
    def per_round(self) -> int:
        return self.rounds[0].jobs

    @property
    def delivered(self) -> int:
        return sum(r.delivered for r in self.rounds)

    @property
    def failures(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for r in self.rounds:
            total.update(r.failures)
        return total

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def unfinished(self) -> int:
        return sum(r.unfinished for r in self.rounds)

    @property
    def submits(self) -> int:
        return sum(r.submits for r in self.rounds)

    @property
    def polls(self) -> int:
        return sum(r.polls for r in self.rounds)

    @property
    def requests(self) -> int:
        return self.submits + self.polls

    @property
    def polls_per_job(self) -> float:
        return self.polls / max(self.jobs, 1)

    @property
    def requests_per_job(self) -> float:
        return self.requests / max(self.jobs, 1)

    @property
    def wall_s(self) -> float:
        return statistics.median(r.wall_s for r in self.rounds)

    @property
    def cpu_rounds(self) -> list[float]:
        return [r.cpu_ms_per_job for r in self.rounds if math.isfinite(r.cpu_ms_per_job)]

    @property
    def cpu_ms_per_job(self) -> float:
        cpu = self.cpu_rounds
        return statistics.median(cpu) if cpu else float("nan")

    @property
    def peak_rss_mb(self) -> float:
        return max(r.peak_rss_mb for r in self.rounds)

    def pct(self, q: float) -> float:
        data = sorted(x for r in self.rounds for x in r.latencies_ms)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, round(q * (len(data) - 1)))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "jobs": self.jobs,
            "rounds": len(self.rounds),
            "delivered": self.delivered,
            "failed": dict(self.failures),
            "unfinished": self.unfinished,
            "submits": self.submits,
            "polls": self.polls,
            "p50_ms": self.pct(0.5),
            "p99_ms": self.pct(0.99),
            "cpu_ms_per_job": self.cpu_ms_per_job,
            "cpu_ms_per_job_rounds": self.cpu_rounds,
            "peak_rss_mb": self.peak_rss_mb,
            "wall_s": self.wall_s,
        }


def _reset_peak_rss() -> None:
    """Start a new peak-memory measurement (Linux: the kernel's peak RSS of this process is reset)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    """Peak RSS since the last reset (VmHWM); where that cannot be read, the process's peak so far."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


@dataclass(frozen=True)
class EngineRun:
    """What one mode's run is made of."""

    provider_kind: str  # "fuzz" or "producer"
    webhooks: bool
    jobs: int
    guilds: int
    render: float  # seconds a sandbox render takes (already scaled)
    scale: float
    database: str | None = None
    credits: int | None = None  # the sandbox's; default: enough for every job


def engine_config(run: EngineRun) -> JobsConfig:
    """The engine's knobs, every duration scaled; the render time assumed beforehand is the production one (30 s),
    whatever the sandbox really takes: the engine learns it."""
    scale = run.scale
    return JobsConfig(
        poll_interval=5.0 * scale,
        max_poll_interval=30.0 * scale,
        min_poll_gap=1.0 * scale,
        deadline=600.0 * scale,
        webhook_url_base=PUBLIC_URL if run.webhooks else None,
        safety_poll_interval=60.0 * scale,
        expected_render_s=30.0 * scale,
        sweep_interval=min(1.0, 2.5 * scale),
    )


async def run_engine(run: EngineRun) -> Round:
    """One round: start the sandbox, the store, core and the web server; admit every job; wait until each one was
    delivered or failed; count what the sandbox saw."""
    jobs = run.jobs
    web_port = _free_port()
    target = f"http://127.0.0.1:{web_port}" if run.webhooks else None
    credits = run.credits if run.credits is not None else credits_for(jobs)
    _reset_peak_rss()
    async with sandbox_process(run.render, target, credits=credits) as base, bench_database(run.database) as db:
        store = await db.open(lock=True)
        # The production client (httpx over aiohttp), so the CPU measured is what the bot spends.
        http = ProviderHttpClient(timeout=30, limits=httpx.Limits(max_connections=50))
        provider: MusicProvider
        if run.provider_kind == "fuzz":
            provider = FuzzClient(http, base_url=f"{base}/api/v2/fuzz", api_key="bench", max_concurrency=jobs)
        else:
            provider = ProducerClient(http, base_url=base, api_key="bench", max_concurrency=jobs, name="sandbox")
        notifier = BenchNotifier(expected=jobs)
        core = Core(
            store=store,
            provider=provider,
            config=engine_config(run),
            defaults=Defaults(budget=10**9, period=Period.MONTH, max_jobs_member=jobs, max_jobs_server=jobs),
        )
        web = WebServer(core.web, parse_webhook)
        await web.start("127.0.0.1", web_port)
        rng = random.Random(7)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await core.runtime.start(notifier)
        for i in range(jobs):
            who = Requester(
                guild_id=1 + i % run.guilds, channel_id=1000 + i % run.guilds, user_id=rng.randrange(1, 200)
            )
            await core.admission.admit(who, Operation.CREATE, {"sound": f"bench style {i}", "title": f"Bench {i}"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(notifier.done.wait(), timeout=max(120.0, run.render * 10))
        cpu = time.process_time() - cpu0
        wall = time.monotonic() - wall0
        await core.runtime.stop()
        await web.stop()
        stats = await sandbox_stats(base)
        await http.aclose()
        await store.close()
    finished = stats.get("finished_at", {})
    task_of = notifier.task_of
    latencies = [
        (delivered - finished[task_of[job_id]]) * 1000
        for job_id, delivered in notifier.delivered.items()
        if task_of.get(job_id) in finished
    ]
    return Round(
        jobs=jobs,
        delivered=len(notifier.delivered),
        failures=Counter(notifier.failed.values()),
        submits=int(stats["submits"]),
        polls=int(stats["polls"]),
        wall_s=wall,
        cpu_ms_per_job=cpu * 1000 / jobs,
        latencies_ms=latencies,
        peak_rss_mb=_peak_rss_mb(),
        unfinished=jobs - len(notifier.delivered) - len(notifier.failed),
    )


async def run_baseline(*, jobs: int, render: float, scale: float, credits: int | None = None) -> Round:
    """What a naive bot does: submit, then poll each task on its own every 5 s until it is done."""
    _reset_peak_rss()
    failures: Counter[str] = Counter()
    delivered = 0
    async with sandbox_process(render, credits=credits if credits is not None else credits_for(jobs)) as base:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as http:
            client = FuzzClient(http, base_url=f"{base}/api/v2/fuzz", api_key="bench")
            wall0 = time.monotonic()

            async def one(i: int) -> None:
                nonlocal delivered
                try:
                    task_id = await client.submit(CreateMusic(sound=f"bench style {i}"))
                    while True:
                        await asyncio.sleep(BASELINE_INTERVAL * scale)
                        status = (await client.fetch([task_id]))[0]
                        if status.state.finished:
                            delivered += status.state is TaskState.SUCCEEDED
                            return
                except ProviderError as exc:
                    failures[f"{exc.kind.value}: {exc.message}"] += 1

            await asyncio.gather(*(one(i) for i in range(jobs)))
            wall = time.monotonic() - wall0
        stats = await sandbox_stats(base)
    return Round(
        jobs=jobs,
        delivered=delivered,
        failures=failures,
        submits=int(stats["submits"]),
        polls=int(stats["polls"]),
        wall_s=wall,
        cpu_ms_per_job=float("nan"),
        latencies_ms=[],
        peak_rss_mb=_peak_rss_mb(),
    )


@dataclass(frozen=True)
class AdmissionPlan:
    """Admissions asked for at once: ``attempts`` spread over ``guilds`` servers whose budgets cover ``coverage`` of
    the demand, so the last asks of every server are refused and any overspend would show."""

    guilds: int = 20
    attempts: int = 2400
    cost: int = 10
    coverage: float = 0.8
    concurrency: int = 64  # admissions in flight at once, per process
    members: int = 50  # members per server asking

    @property
    def per_guild(self) -> int:
        return max(1, self.attempts // self.guilds)

    @property
    def budget(self) -> int:
        return int(self.per_guild * self.coverage) * self.cost

    @property
    def admittable(self) -> int:
        return self.budget // self.cost * self.guilds

    def asks(self) -> list[tuple[int, int]]:
        """(guild, member) of every admission, servers interleaved as they would arrive."""
        return [(1 + g, 1000 + n % self.members) for n in range(self.per_guild) for g in range(self.guilds)]


@dataclass
class WorkerStats:
    admitted: int = 0
    refused: int = 0
    failed: int = 0
    cpu_s: float = 0.0
    periods: dict[int, str] = field(default_factory=dict)  # guild -> the period its credits were spent in


@dataclass
class AdmissionResult:
    database: str
    processes: int
    concurrency: int
    attempts: int
    admitted: int
    refused: int
    failed: int
    expected: int  # what the budgets cover
    overspend: int  # credits spent beyond a budget, over all servers (must be 0)
    wall_s: float
    cpu_ms_per_admission: float

    @property
    def rate(self) -> float:
        return self.attempts / self.wall_s if self.wall_s > 0 else float("nan")


def admission_rules(
    settings: GuildSettings, costs: dict[Operation, int], who: Requester, operation: Operation, now: float
) -> AdmissionDecision:
    """Core's admission decision, as ``Admission`` hands it to the store: the ban, channel, role and cooldown rules,
    the in-flight limits and the credits, over the snapshot read inside the store's transaction."""

    def decide(snapshot: AdmissionSnapshot) -> int:
        check_rules(who, settings, snapshot, now)
        quota = quota_of(settings, snapshot.balances, now=now, costs=costs)
        check_quota(quota, settings, snapshot, cost=costs[operation], operation=operation)
        return costs[operation]

    return decide


def create_ask(
    n: int, guild: int, member: int, defaults: Defaults, costs: dict[Operation, int], *, owner: str | None = None
) -> tuple[JobTicket, AdmissionDecision]:
    """The ``n``-th ask of an admission burst: a member's ``/music create`` validated as core validates it, as the
    ticket ``store.admit`` writes and core's rules that decide it inside the store's transaction."""
    who = Requester(guild_id=guild, channel_id=10_000 + guild, user_id=member)
    settings = defaults.settings_for(guild)
    request = build_request(Operation.CREATE, sound=f"bench style {n}", title=f"Bench {n}")
    now = time.time()
    ticket = JobTicket(
        guild_id=guild,
        channel_id=who.channel_id,
        user_id=member,
        operation=Operation.CREATE,
        request=request.model_dump(mode="json", exclude_none=True),
        provider="sandbox",
        period_key=period_key(now, settings.period, settings.reset_epoch),
        parent_track_id=None,
        now=now,
        owner=owner,
    )
    return ticket, admission_rules(settings, costs, who, Operation.CREATE, now)


async def admission_worker(db: BenchDatabase, plan: AdmissionPlan, asks: Sequence[tuple[int, int]]) -> WorkerStats:
    """One process's share of the admissions, on its own store: each one validated as core validates it, then
    ``store.admit`` with core's rules deciding inside the store's transaction.

    This is admission's atomic part, the part every process shares through the database. (Core's full
    ``Admission.admit`` also places the job in the in-memory fair queue, whose cost grows with the queue: here no
    job ever leaves it, so it would measure a queue of thousands, not the database.)
    A process of its own per worker (``--processes``, later) runs this same function on a share of the asks."""
    store = await db.open()
    defaults = Defaults(
        budget=plan.budget,
        period=Period.MONTH,
        max_jobs_member=10**6,
        max_jobs_server=10**6,
        costs={Operation.CREATE: plan.cost},
    )
    costs = {**DEFAULT_COSTS, Operation.CREATE: plan.cost}
    stats = WorkerStats()
    gate = asyncio.Semaphore(plan.concurrency)

    async def one(n: int, guild: int, member: int) -> None:
        async with gate:
            try:
                job = await store.admit(*create_ask(n, guild, member, defaults, costs))
            except QuotaExceeded:
                stats.refused += 1
            except Exception:
                log.exception("admission %d failed", n)
                stats.failed += 1
            else:
                stats.admitted += 1
                stats.periods[guild] = job.period_key

    cpu0 = time.process_time()
    try:
        await asyncio.gather(*(one(n, guild, member) for n, (guild, member) in enumerate(asks)))
    finally:
        stats.cpu_s = time.process_time() - cpu0
        await store.close()
    return stats


async def run_admissions(database: str | None, plan: AdmissionPlan) -> AdmissionResult:
    """Every admission at once against budgets that cover part of them; then the ledger is checked server by
    server: nobody spent a credit beyond a budget, and exactly what the budgets cover was admitted."""
    async with bench_database(database) as db:
        await (await db.open()).close()  # created and migrated before the clock starts
        asks = plan.asks()
        # One share per process. Today one process runs them all; with --processes N, each share would run
        # admission_worker in a child process of its own (started, then released at once) and report its stats.
        shares = [asks]
        wall0 = time.monotonic()
        stats: list[WorkerStats] = await asyncio.gather(*(admission_worker(db, plan, share) for share in shares))
        wall = time.monotonic() - wall0
        periods = {g: p for s in stats for g, p in s.periods.items()}
        store = await db.open()
        try:
            spent = [-(await store.balances(guild, 0, period)).server_sum for guild, period in periods.items()]
        finally:
            await store.close()
    cpu = sum(s.cpu_s for s in stats)
    return AdmissionResult(
        database=db.label,
        processes=len(shares),
        concurrency=plan.concurrency,
        attempts=len(asks),
        admitted=sum(s.admitted for s in stats),
        refused=sum(s.refused for s in stats),
        failed=sum(s.failed for s in stats),
        expected=plan.admittable,
        overspend=sum(max(0, amount - plan.budget) for amount in spent),
        wall_s=wall,
        cpu_ms_per_admission=cpu * 1000 / max(1, len(asks)),
    )


# The targets: admissions per second with 0 overspend (PostgreSQL's is for three processes together).
ADMISSION_TARGETS = {"SQLite": 2000.0, "PostgreSQL": 1000.0}
CPU_TARGET_MS = 2.0
MEMORY_TARGET_MB = 200.0
POLLING_P50_TARGET_MS = 2000.0
WEBHOOK_P99_TARGET_MS = 200.0
POLL_RATIO_TARGET = 0.1

EMPTY_CELLS = (
    "— in a cell: not measured for that row. The naive baseline is a plain client outside the engine: its CPU and "
    "its completion → post delay are not the engine's. A delay is also empty when no job of the row was delivered."
)


@dataclass(frozen=True)
class Target:
    figure: str
    value: str
    target: str
    met: bool | None  # None: cannot be judged (nothing measured)


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if math.isfinite(value) else "—"


def _cell(value: float, fmt: str) -> str:
    return format(value, fmt) if math.isfinite(value) else "—"


def _rounds_text(r: Result) -> str:
    cpu = r.cpu_rounds
    if not cpu:
        return "—"
    if len(cpu) == 1:
        return f"{cpu[0]:.2f}"
    return f"{r.cpu_ms_per_job:.2f} ({min(cpu):.2f}–{max(cpu):.2f})"


def jobs_table(results: Sequence[Result], baseline: Result | None) -> list[str]:
    header = (
        f"{'mode':<58} {'jobs':>6} {'delivered':>9} {'failed':>6} {'submits/job':>11} {'polls/job':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'CPU ms/job (range)':>19} {'peak MB':>7} {'wall s':>6}"
    )
    lines = [header, "-" * len(header)]
    for r in [*results, *([baseline] if baseline else [])]:
        lines.append(
            f"{r.name:<58} {r.jobs:>6} {r.delivered:>9} {r.failed + r.unfinished:>6} "
            f"{r.submits / max(r.jobs, 1):>11.2f} {r.polls_per_job:>9.2f} {_cell(r.pct(0.5), '.0f'):>7} "
            f"{_cell(r.pct(0.99), '.0f'):>7} {_rounds_text(r):>19} {r.peak_rss_mb:>7.0f} {r.wall_s:>6.1f}"
        )
    return lines


def failure_lines(results: Sequence[Result]) -> list[str]:
    """Jobs that were not delivered, apart, with their reasons (most frequent first)."""
    lines = []
    for r in results:
        if not r.failed and not r.unfinished:
            continue
        lines.append(f"not delivered in {r.name}: {r.failed + r.unfinished} of {r.jobs}")
        for reason, count in r.failures.most_common(5):
            lines.append(f"  {count:>6} × {reason}")
        if len(r.failures) > 5:
            lines.append(f"  {sum(c for _, c in r.failures.most_common()[5:]):>6} × other reasons")
        if r.unfinished:
            lines.append(f"  {r.unfinished:>6} × still in flight when the run's time ran out")
    return lines


def scaling_table(by_size: Sequence[tuple[int, Sequence[Result]]]) -> list[str]:
    """How cost grows with the work: each mode at each size, side by side."""
    modes = [r.name for r in by_size[0][1]]
    lines = ["How cost grows with the work (CPU per job: median of the rounds; peak RSS of the engine process):"]
    header = f"{'mode':<58} {'jobs':>6} {'CPU ms/job':>10} {'peak MB':>7} {'p99 ms':>7} {'delivered':>9}"
    lines += [header, "-" * len(header)]
    for index, name in enumerate(modes):
        for size, results in by_size:
            r = results[index]
            lines.append(
                f"{name:<58} {size:>6} {_cell(r.cpu_ms_per_job, '.2f'):>10} {r.peak_rss_mb:>7.0f} "
                f"{_cell(r.pct(0.99), '.0f'):>7} {r.delivered:>9}"
            )
    return lines


def targets(
    results: Sequence[Result], baseline: Result | None, admissions: Sequence[AdmissionResult] = ()
) -> list[Target]:
    out: list[Target] = []
    for a in admissions:
        name = f"admissions on {a.database}"
        out.append(Target(f"{name}: overspend", f"{a.overspend} credits", "0", a.overspend == 0))
        out.append(
            Target(
                f"{name}: admitted",
                f"{a.admitted} of {a.expected} ({a.failed} failed)",
                "exactly what the budgets cover",
                a.admitted == a.expected and a.failed == 0,
            )
        )
        goal = ADMISSION_TARGETS[a.database]
        out.append(Target(f"{name}: rate", f"{a.rate:,.0f}/s", f"at least {goal:,.0f}/s", a.rate >= goal))
    for r in results:
        out.append(Target(f"{r.name}: delivered", f"{r.delivered}/{r.jobs}", "every job", r.delivered == r.jobs))
        cpu = r.cpu_ms_per_job
        out.append(
            Target(
                f"{r.name}: engine CPU per job",
                f"{cpu:.2f} ms" if math.isfinite(cpu) else "—",
                f"under {CPU_TARGET_MS:g} ms",
                cpu < CPU_TARGET_MS if math.isfinite(cpu) else None,
            )
        )
        p50, p99 = r.pct(0.5), r.pct(0.99)
        if r.polling:
            out.append(
                Target(
                    f"{r.name}: completion → post p50",
                    _ms(p50),
                    f"under {POLLING_P50_TARGET_MS:,.0f} ms",
                    p50 < POLLING_P50_TARGET_MS if math.isfinite(p50) else None,
                )
            )
            if baseline is not None and "FUZZ" in r.name:
                ratio = poll_ratio(r, baseline)
                out.append(
                    Target(
                        f"{r.name}: status polls vs the baseline's",
                        f"{r.polls_per_job:.2f}/{baseline.polls_per_job:.2f} a job = {ratio:.3f}",
                        f"at most {POLL_RATIO_TARGET:g}",
                        ratio <= POLL_RATIO_TARGET,
                    )
                )
        else:
            out.append(Target(f"{r.name}: status polls", f"{r.polls}", "0 (the safety net never fires)", r.polls == 0))
            out.append(
                Target(
                    f"{r.name}: completion → post p99",
                    _ms(p99),
                    f"under {WEBHOOK_P99_TARGET_MS:,.0f} ms",
                    p99 < WEBHOOK_P99_TARGET_MS if math.isfinite(p99) else None,
                )
            )
    if results:
        peak = max(r.peak_rss_mb for r in results)
        out.append(
            Target(
                "peak memory of the engine",
                f"{peak:.0f} MB",
                f"under {MEMORY_TARGET_MB:,.0f} MB",
                peak < MEMORY_TARGET_MB,
            )
        )
    return out


def poll_ratio(result: Result, baseline: Result) -> float:
    """Status polls a job against the baseline's (per job: the modes run several rounds, the baseline one)."""
    return result.polls_per_job / max(baseline.polls_per_job, 1e-9)


def target_lines(found: Sequence[Target]) -> list[str]:
    width = max((len(t.figure) for t in found), default=0)
    value_width = max((len(t.value) for t in found), default=0)
    lines = ["Figures and their targets:"]
    for t in found:
        verdict = "met" if t.met else "not judged (nothing measured)" if t.met is None else "MISSED"
        lines.append(f"  {t.figure:<{width}}  {t.value:>{value_width}}  target: {t.target:<32} {verdict}")
    return lines


def report(
    results: list[Result],
    baseline: Result | None,
    admissions: Sequence[AdmissionResult] = (),
    *,
    heading: str = "",
) -> list[str]:
    lines = []
    for a in admissions:
        lines.append(
            f"admissions on {a.database} ({a.processes} process{'es' if a.processes > 1 else ''}, {a.concurrency} at "
            f"once): {a.rate:,.0f}/s; {a.attempts} asked, {a.admitted} admitted (the budgets cover {a.expected}), "
            f"{a.refused} refused, {a.failed} failed; overspend {a.overspend} credits; "
            f"{a.cpu_ms_per_admission:.2f} ms CPU each; {a.wall_s:.2f} s"
        )
    if results:
        if lines:
            lines.append("")
        if heading:
            lines.append(heading)
        lines.extend(jobs_table(results, baseline))
        if baseline is not None or any(not math.isfinite(r.pct(0.5)) for r in results):
            lines.append(EMPTY_CELLS)
        lines.extend(failure_lines([*results, *([baseline] if baseline else [])]))
    if baseline:
        for r in results:
            lines.append(
                f"{r.name}: provider requests a job {r.requests_per_job:.2f} vs the baseline's "
                f"{baseline.requests_per_job:.2f} = {r.requests_per_job / max(baseline.requests_per_job, 1e-9):.3f} "
                f"(status polls alone: {r.polls_per_job:.2f} vs {baseline.polls_per_job:.2f} = "
                f"{poll_ratio(r, baseline):.3f})"
            )
    return lines


MODES = {
    "fuzz-polling": ("FUZZ polling (batched, 25 ids a call)", "fuzz", False),
    "producer-webhook": ("Producer webhooks (polling = safety net)", "producer", True),
    "producer-polling": ("Producer polling (1 id a call)", "producer", False),
}


async def run_mode(mode: str, args: argparse.Namespace, jobs: int, label: str) -> Result:
    name, kind, webhooks = MODES[mode]
    run = EngineRun(
        provider_kind=kind,
        webhooks=webhooks,
        jobs=jobs,
        guilds=args.guilds,
        render=args.render * args.time_scale,
        scale=args.time_scale,
        database=args.database,
        credits=args.sandbox_credits,
    )
    rounds = []
    for n in range(args.rounds):
        log.info("running %s, round %d of %d: %d jobs over %d servers", name, n + 1, args.rounds, jobs, args.guilds)
        rounds.append(await run_engine(run))
    return Result(f"{name} on {label}", rounds, polling=not webhooks)


async def main_async(args: argparse.Namespace) -> int:
    render = args.render * args.time_scale
    label = "PostgreSQL" if args.database and not args.database.lower().startswith("sqlite") else "SQLite"
    admissions = []
    if args.admissions > 0:
        plan = AdmissionPlan(guilds=args.guilds, attempts=args.admissions, concurrency=args.admission_concurrency)
        log.info("running %d admissions over %d servers on %s", plan.attempts, plan.guilds, label)
        admissions.append(await run_admissions(args.database, plan))
    chosen = [] if args.no_jobs else args.mode or ["fuzz-polling", "producer-webhook"]
    lines: list[str] = []
    found: list[Target] = []
    by_size: list[tuple[int, list[Result]]] = []
    args.results = [a.__dict__ for a in admissions]
    for index, size in enumerate(args.jobs if chosen else []):
        results = [await run_mode(mode, args, size, label) for mode in chosen]
        baseline = None
        if not args.no_baseline:
            log.info("running the naive baseline with %d jobs", size)
            base_round = await run_baseline(
                jobs=size, render=render, scale=args.time_scale, credits=args.sandbox_credits
            )
            baseline = Result("naive baseline (FUZZ, 1 id a poll, every 5 s)", [base_round], engine=False, polling=True)
        heading = (
            f"Jobs end to end on {label}: {size} jobs a round over {args.guilds} servers, renders of {render:g} s "
            f"(the engine assumes {30 * args.time_scale:g} s until it has learned), {args.rounds} round"
            f"{'s' if args.rounds > 1 else ''} per mode; CPU per job is the median of the rounds (their range in "
            "brackets), delays and counts are over every round."
        )
        if lines:
            lines.append("")
        lines.extend(report(results, baseline, admissions if index == 0 else (), heading=heading))
        found.extend(targets(results, baseline, admissions if index == 0 else ()))
        by_size.append((size, results))
        args.results += [r.as_dict() for r in [*results, *([baseline] if baseline else [])]]
    if not by_size:
        lines.extend(report([], None, admissions))
        found.extend(targets([], None, admissions))
    if len(by_size) > 1:
        lines += ["", *scaling_table(by_size)]
    lines += ["", *target_lines(found)]
    lines.extend(verdict_lines(found, check=args.check))
    sys.stdout.write("\n".join(lines) + "\n")
    return exit_code(found, check=args.check)


def verdict_lines(found: Sequence[Target], *, check: bool) -> list[str]:
    missed = sum(t.met is False for t in found)
    if not missed:
        return []
    how = "." if check else " (for information: only --check makes that an error; see README → Benchmark)."
    return [f"{missed} target{'s' if missed > 1 else ''} missed{how}"]


def exit_code(found: Sequence[Target], *, check: bool) -> int:
    """0 unless ``--check`` was given and a figure missed its target (a busy machine is no failure of the code)."""
    return 1 if check and any(t.met is False for t in found) else 0


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of jobs or a list such as 250,1000,2000: {text!r}"
        ) from None
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"every number of jobs must be at least 1: {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.bench", description=__doc__.split("\n\n")[0])
    work = parser.add_argument_group("the work")
    work.add_argument(
        "--jobs",
        "-n",
        type=_sizes,
        default=[500],
        help="jobs per mode and round; a list such as 250,1000,2000 runs each size and compares them (default 500)",
    )
    work.add_argument("--guilds", "-g", type=int, default=50, help="servers they come from (default 50)")
    work.add_argument("--render", type=float, default=30.0, help="provider render time in seconds (default 30)")
    work.add_argument(
        "--time-scale",
        type=float,
        default=0.2,
        help="multiply every duration (render, intervals, deadline) by this (default 0.2)",
    )
    work.add_argument(
        "--mode",
        action="append",
        choices=list(MODES),
        help="a mode to run (repeatable; default: fuzz-polling and producer-webhook)",
    )
    work.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    work.add_argument(
        "--sandbox-credits",
        type=int,
        default=None,
        help="the bench sandbox's credits (default: enough for every job of the run)",
    )
    work.add_argument(
        "--database",
        metavar="URL",
        help="run on this database: postgresql://user@host/db (a schema of its own, dropped afterwards) or "
        "sqlite:///path (default: a temporary SQLite file)",
    )
    adm = parser.add_argument_group("admissions")
    adm.add_argument(
        "--admissions",
        type=int,
        default=2400,
        help="admissions asked for at once, budgets covering 80%% of them (default 2400; 0 skips)",
    )
    adm.add_argument("--admission-concurrency", type=int, default=64, help="admissions in flight at once (default 64)")
    adm.add_argument("--no-jobs", action="store_true", help="measure admissions only (no end-to-end jobs)")
    out = parser.add_argument_group("measuring and reporting")
    out.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds per mode; CPU per job is their median, so other processes' noise moves it little (default 3)",
    )
    out.add_argument("--check", action="store_true", help="exit non-zero when a figure misses its target")
    out.add_argument("--json", help="also write the results to this file")
    work.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="many processes: SQLite (1) beside PostgreSQL (--database) with 1..N processes (bot/bench_cluster.py)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.database:
        try:
            parse_database_url(args.database, default_path=Path("unused"))
        except ValueError as exc:
            parser.error(f"--database {exc}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    logging.basicConfig(
        level=os.environ.get("TUNESMITH_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    if args.processes:
        from bot.bench_cluster import bench as bench_processes

        return asyncio.run(bench_processes(args))
    code = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(args.results, default=str))
    return code


if __name__ == "__main__":
    sys.exit(main())
