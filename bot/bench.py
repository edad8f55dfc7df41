"""``python -m bot.bench``: the job engine under load, against the sandbox, next to a naive baseline.

It runs N jobs across G servers in each mode: FUZZ polling (batched status calls), Producer webhooks, and
optionally Producer polling; then a naive baseline that polls every task on its own every 5 s. The sandbox runs
in a child process, so the CPU and memory measured here are the engine's own (plus its database, HTTP client
and web server). Times are scaled by ``--time-scale`` (renders, poll intervals, deadlines alike), so request
ratios are measured on the same work in a fraction of the wall time.

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

from bot.core.admission import check_quota, check_rules
from bot.core.assembly import Core
from bot.core.credits import period_key, quota_of
from bot.core.jobs.config import JobsConfig
from bot.core.settings import Defaults
from bot.database_url import DatabaseTarget, parse_database_url
from bot.domain.audit import AuditEntry
from bot.domain.errors import QuotaExceeded
from bot.domain.models import DEFAULT_COSTS, CreateMusic, GuildSettings, Job, Operation, Period, build_request
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
    name: str,
    *,
    provider_kind: str,
    webhooks: bool,
    jobs: int,
    guilds: int,
    render: float,
    scale: float,
    database: str | None = None,
) -> Result:
    web_port = _free_port()
    target = f"http://127.0.0.1:{web_port}" if webhooks else None
    async with sandbox_process(render, target) as base, bench_database(database) as db:
        store = await db.open(lock=True)
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
            )
            try:
                job = await store.admit(ticket, admission_rules(settings, costs, who, Operation.CREATE, now))
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


def report(
    results: list[Result], baseline: Result | None, targets: bool, admissions: Sequence[AdmissionResult] = ()
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
        header = (
            f"{'mode':<62} {'done':>9} {'submits/job':>11} {'polls/job':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'cpu ms/job':>10} {'wall s':>7}"
        )
        lines.append(header)
        lines.append("-" * len(header))
        for r in [*results, *([baseline] if baseline else [])]:
            lines.append(
                f"{r.name:<62} {r.completed:>4}/{r.jobs:<4} {r.submits / r.jobs:>11.2f} {r.polls / r.jobs:>9.2f} "
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
        lines.extend(check_targets(results, baseline, admissions))
    return lines


def check_targets(
    results: list[Result], baseline: Result | None, admissions: Sequence[AdmissionResult] = ()
) -> list[str]:
    out = []

    def mark(ok: bool, text: str) -> None:
        out.append(f"{'PASS' if ok else 'FAIL'}  {text}")

    for a in admissions:
        name = f"admissions on {a.database}"
        mark(a.overspend == 0, f"{name}: 0 overspend ({a.overspend} credits beyond a budget)")
        mark(
            a.admitted == a.expected and a.failed == 0,
            f"{name}: exactly what the budgets cover admitted ({a.admitted} of {a.expected}, {a.failed} failed)",
        )
        goal = ADMISSION_TARGETS[a.database]
        mark(a.rate >= goal, f"{name}: at least {goal:,.0f} admissions/s ({a.rate:,.0f}/s)")
    for r in results:
        mark(r.completed == r.jobs, f"{r.name}: every job completed ({r.completed}/{r.jobs})")
        mark(r.cpu_ms_per_job < 2.0, f"{r.name}: under 2 ms of engine CPU per job ({r.cpu_ms_per_job:.2f})")
        if "FUZZ" in r.name and baseline:
            ratio = r.polls / max(baseline.polls, 1)
            mark(ratio <= 0.1, f"{r.name}: status polls at most 1/10 of the baseline's ({ratio:.3f})")
        if "webhook" in r.name:
            mark(r.polls == 0, f"{r.name}: no polling beyond the safety net ({r.polls} polls)")
            mark(r.pct(0.99) < 200, f"{r.name}: p99 delivery under 200 ms ({r.pct(0.99):.1f} ms)")
    if results:
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
    label = "PostgreSQL" if args.database and not args.database.lower().startswith("sqlite") else "SQLite"
    admissions = []
    if args.admissions > 0:
        plan = AdmissionPlan(guilds=args.guilds, attempts=args.admissions, concurrency=args.admission_concurrency)
        log.info("running %d admissions over %d servers on %s", plan.attempts, plan.guilds, label)
        admissions.append(await run_admissions(args.database, plan))
    chosen = [] if args.no_jobs else args.mode or ["fuzz-polling", "producer-webhook"]
    results = []
    for mode in chosen:
        name, kind, webhooks = modes[mode]
        log.info("running %s: %d jobs over %d servers, render %.1fs", name, args.jobs, args.guilds, render)
        results.append(
            await run_engine(
                f"{name} on {label}",
                provider_kind=kind,
                webhooks=webhooks,
                jobs=args.jobs,
                guilds=args.guilds,
                render=render,
                scale=args.time_scale,
                database=args.database,
            )
        )
    baseline = None
    if results and not args.no_baseline:
        log.info("running the naive baseline")
        baseline = await run_baseline(jobs=args.jobs, render=render, scale=args.time_scale)
    lines = report(results, baseline, targets=True, admissions=admissions)
    sys.stdout.write("\n".join(lines) + "\n")
    args.results = [*admissions, *results]
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
    parser.add_argument(
        "--database",
        metavar="URL",
        help="run on this database: postgresql://user@host/db (a schema of its own, dropped afterwards) or "
        "sqlite:///path (default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--admissions",
        type=int,
        default=2400,
        help="admissions asked for at once, budgets covering 80%% of them (default 2400; 0 skips)",
    )
    parser.add_argument(
        "--admission-concurrency", type=int, default=64, help="admissions in flight at once (default 64)"
    )
    parser.add_argument("--no-jobs", action="store_true", help="measure admissions only (no end-to-end jobs)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="many processes: SQLite (1) beside PostgreSQL (--database) with 1..N processes (bot/bench_cluster.py)",
    )
    args = parser.parse_args(argv)
    if args.database:
        try:
            parse_database_url(args.database, default_path=Path("unused"))
        except ValueError as exc:
            parser.error(f"--database {exc}")
    logging.basicConfig(
        level=os.environ.get("TUNESMITH_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    if args.processes:
        from bot.bench_cluster import bench as bench_processes

        return asyncio.run(bench_processes(args))
    code = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in args.results], default=str))
    return code


if __name__ == "__main__":
    sys.exit(main())
