"""``python -m bot.bench --processes N``: the engine as many processes on one database, measured side by side.

For SQLite (one process: it serves one) and PostgreSQL with 1, 2, ... N processes, each a real child process
running core on its own store (``python -m bot.bench_cluster engine|admit``):

- **admissions per second**: every process admits its share of many members of many servers at once, through
  core's rules inside the store's atomic admission, against budgets that cover part of the demand; then the ledger
  is checked server by server (overspend must be 0);
- **jobs end to end** against one sandbox (FUZZ polling): jobs per second from the first admission to the last
  post, engine CPU per job (all processes), p99 delivery (the provider's finish to the post), and provider
  requests (submits and polls) per job. With many processes the provider's slots and the queue are global, so the
  requests per job must not grow with the processes.

The child processes are also what tests/integration/test_cluster_kill.py runs and kills.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from bot.bench import create_ask, sandbox_process, sandbox_stats
from bot.core.assembly import Core
from bot.core.jobs.cluster import ClusterConfig
from bot.core.jobs.config import JobsConfig
from bot.core.settings import Defaults
from bot.database_url import parse_database_url
from bot.domain.audit import AuditEntry
from bot.domain.errors import QuotaExceeded
from bot.domain.models import DEFAULT_COSTS, Job, Operation, Period
from bot.domain.outcomes import Delivery, Failure, JobResult, Progress
from bot.domain.ports import Store
from bot.domain.requester import Requester
from bot.providers import FuzzClient
from bot.providers.http import ProviderHttpClient
from bot.sandbox.store import STARTING_CREDITS
from bot.storage.postgres import PostgresStore
from bot.storage.store import SqliteStore

log = logging.getLogger(__name__)
COST = 10
ADMISSION_GUILDS = 20  # servers asking in the admission burst (budgets cover 80% of each one's asks)
ADMISSIONS_IN_FLIGHT = 64  # admissions asked at once, over all processes (as many members as with one process)


# --- the child processes -----------------------------------------------------------------------------------------
async def open_store(database: str, schema: str | None) -> Store:
    target = parse_database_url(database, default_path=Path("unused"))
    if target.kind == "postgresql":
        assert target.dsn is not None
        return await PostgresStore.open(target.dsn, schema=schema, lock=False, min_size=2, max_size=10)
    assert target.path is not None
    return await SqliteStore.open(target.path, lock=False)


class FileNotifier:
    """The Notifier port for child processes: every post is a line appended to a file (one ``write`` each, so lines
    of several processes never mix), with the time, the job, the track, the task, the worker and the post's nonce.

    A card that carries a delivery claim is posted with its nonce, and, as Discord does with ``enforce_nonce``, a
    second post with a nonce already used (by any process: the file is shared) is answered with the first one
    instead of being made again."""

    def __init__(self, path: str, worker: str) -> None:
        self._path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._worker = worker

    def _line(self, *parts: object) -> None:
        os.write(self._fd, (" ".join(str(p) for p in parts) + "\n").encode())

    def _posted_with(self, nonce: str) -> bool:
        return any(p.nonce == nonce for p in read_posts(self._path) if p.kind == "post")

    def job_progress(self, job: Job, progress: Progress) -> None:
        return None

    async def job_succeeded(self, result: JobResult) -> list[Delivery]:
        job = result.job
        deliveries = []
        for card in result.cards:
            track = card.track
            claim = getattr(card, "claim", None)
            nonce = str(getattr(claim, "nonce", "-") or "-")
            if nonce == "-" or not self._posted_with(nonce):
                self._line("post", time.monotonic(), job.id, track.id, job.task_id, self._worker, nonce)
            deliveries.append(Delivery(track_id=track.id, channel_id=track.channel_id, message_id=track.id))
        return deliveries

    async def job_failed(self, job: Job, failure: Failure, refunded: int) -> None:
        self._line("fail", time.monotonic(), job.id, failure.kind.value, job.task_id, self._worker, "-")

    async def audit(self, guild_id: int, channel_id: int, entry: AuditEntry) -> None:
        return None


def _emit(event: str, **values: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **values}) + "\n")
    sys.stdout.flush()


async def _stdin_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def _asks(guilds: Sequence[int], per_guild: int, members: int) -> list[tuple[int, int]]:
    """(guild, member) of every admission, servers interleaved as they would arrive."""
    return [(g, 1000 + n % members) for n in range(per_guild) for g in guilds]


async def engine_main(args: argparse.Namespace) -> int:
    """One bot process without Discord: core on the store, the sandbox as provider, posts to a file. Admits its
    servers' jobs when told ("go" on stdin), runs until SIGTERM (a clean stop) or SIGKILL."""
    store = await open_store(args.database, args.schema)
    http = ProviderHttpClient(timeout=30, limits=httpx.Limits(max_connections=50))
    provider = FuzzClient(
        http, base_url=f"{args.sandbox}/api/v2/fuzz", api_key="bench", max_concurrency=args.concurrency
    )
    cluster = (
        (store, ClusterConfig(worker=args.worker, takeover_s=args.takeover))
        if isinstance(store, PostgresStore)
        else None
    )
    render = args.render
    core = Core(
        store=store,
        provider=provider,
        config=JobsConfig(
            poll_interval=max(render / 6, 0.05),
            max_poll_interval=max(render, 0.2),
            deadline=max(render * 40, 30.0),
            expected_render_s=render,
            sweep_interval=min(1.0, max(render / 2, 0.1)),
        ),
        defaults=Defaults(
            budget=args.budget,
            period=Period.MONTH,
            max_jobs_member=10**6,
            max_jobs_server=10**6,
            costs={Operation.CREATE: COST},
        ),
        cluster=cluster,
    )
    notifier = FileNotifier(args.posts, args.worker)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await core.runtime.start(notifier)
    _emit("ready", worker=args.worker)
    await _stdin_line()
    guilds = [int(g) for g in args.guilds.split(",") if g]
    admitted = refused = 0
    cpu0 = time.process_time()
    t0 = time.time()
    gate = asyncio.Semaphore(32)

    async def one(n: int, guild: int, member: int) -> None:
        nonlocal admitted, refused
        async with gate:
            who = Requester(guild_id=guild, channel_id=10_000 + guild, user_id=member)
            try:
                await core.admission.admit(who, Operation.CREATE, {"sound": f"bench {n}", "title": f"Bench {n}"})
            except QuotaExceeded:
                refused += 1
            else:
                admitted += 1

    await asyncio.gather(*(one(n, g, m) for n, (g, m) in enumerate(_asks(guilds, args.asks, args.members))))
    _emit("admitted", worker=args.worker, admitted=admitted, refused=refused, started=t0, elapsed=time.time() - t0)
    await stop.wait()
    await core.runtime.stop()
    await http.aclose()
    await store.close()
    _emit("stopped", worker=args.worker, cpu_s=time.process_time() - cpu0)
    return 0


async def admit_main(args: argparse.Namespace) -> int:
    """One process's share of an admission burst: core's rules inside the store's atomic admission, many at once."""
    store = await open_store(args.database, args.schema)
    defaults = Defaults(budget=args.budget, period=Period.MONTH, max_jobs_member=10**6, max_jobs_server=10**6)
    costs = {**DEFAULT_COSTS, Operation.CREATE: COST}
    guilds = [int(g) for g in args.guilds.split(",") if g]
    asks = _asks(guilds, args.asks, args.members)
    gate = asyncio.Semaphore(args.concurrency)
    admitted = refused = failed = 0

    async def one(n: int, guild: int, member: int) -> None:
        nonlocal admitted, refused, failed
        async with gate:
            try:
                await store.admit(*create_ask(n, guild, member, defaults, costs, owner=args.worker))
            except QuotaExceeded:
                refused += 1
            except Exception:
                log.exception("admission %d failed", n)
                failed += 1
            else:
                admitted += 1

    _emit("ready", worker=args.worker)
    await _stdin_line()
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(n, g, m) for n, (g, m) in enumerate(asks)))
    elapsed = time.perf_counter() - t0
    _emit(
        "admitted",
        worker=args.worker,
        attempts=len(asks),
        admitted=admitted,
        refused=refused,
        failed=failed,
        elapsed=elapsed,
        cpu_s=time.process_time() - cpu0,
    )
    await store.close()
    return 0


# --- the parent's side ---------------------------------------------------------------------------------------------
def sandbox(render: float) -> contextlib.AbstractAsyncContextManager[str]:
    """``python -m bot.sandbox`` in a child process (the single-process bench's, with its default account)."""
    return sandbox_process(render, credits=STARTING_CREDITS)


class ChildProcess(Protocol):
    """What :class:`Child` uses of its process: ``asyncio.subprocess.Process``, or anything shaped like one (the
    tests fork their engines from a process that imported the bot once)."""

    stdin: asyncio.StreamWriter | None
    stdout: asyncio.StreamReader | None

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def kill(self) -> None: ...


@dataclass
class Child:
    """A child process of this module, and the events it printed."""

    proc: ChildProcess
    worker: str
    events: list[dict[str, Any]] = field(default_factory=list)

    async def event(self, name: str, wait: float = 60.0) -> dict[str, Any]:
        for seen in self.events:
            if seen["event"] == name:
                return seen
        assert self.proc.stdout is not None
        async with asyncio.timeout(wait):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"{self.worker} exited (code {await self.proc.wait()}) before '{name}'")
                with contextlib.suppress(json.JSONDecodeError):
                    seen = json.loads(line)
                    self.events.append(seen)
                    if seen.get("event") == name:
                        return seen

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")

    async def stop(self, wait: float = 30.0) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(RuntimeError, TimeoutError):
                await self.event("stopped", wait)
            try:
                await asyncio.wait_for(self.proc.wait(), wait)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def child_args(mode: str, worker: str, **options: Any) -> list[str]:
    """A child's arguments after ``python -m bot.bench_cluster``."""
    args = [mode, "--worker", worker]
    for key, value in options.items():
        if value is not None:
            args += [f"--{key.replace('_', '-')}", str(value)]
    return args


async def spawn(mode: str, worker: str, **options: Any) -> Child:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.bench_cluster",
        *child_args(mode, worker, **options),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return Child(proc, worker)


def split_guilds(guilds: int, processes: int) -> list[str]:
    """Servers 1..guilds dealt to processes as Discord deals them to shards (by id modulo the count)."""
    return [",".join(str(g) for g in range(1, guilds + 1) if g % processes == i) for i in range(processes)]


@dataclass(frozen=True)
class Post:
    kind: str  # "post" or "fail"
    at: float
    job_id: int
    what: str  # the track id (post) or the failure kind
    task_id: str
    worker: str
    nonce: str = "-"  # the delivery claim's nonce the post was made with ("-": none)


def read_posts(path: str | Path) -> list[Post]:
    found = []
    with contextlib.suppress(FileNotFoundError):
        for line in Path(path).read_text().splitlines():
            parts = line.split()
            if len(parts) in (6, 7):
                found.append(Post(parts[0], float(parts[1]), int(parts[2]), *parts[3:]))
    return found


@dataclass
class Figures:
    label: str
    processes: int
    admissions_per_s: float = float("nan")
    overspend: int = -1
    jobs_per_s: float = float("nan")
    cpu_ms_per_job: float = float("nan")
    p99_delivery_ms: float = float("nan")
    requests_per_job: float = float("nan")
    polls_per_job: float = float("nan")
    completed: int = 0
    jobs: int = 0


@contextlib.asynccontextmanager
async def database(url: str | None, tag: str) -> AsyncIterator[tuple[str, str | None]]:
    """A fresh place for one run: (URL, schema). SQLite: a temporary file; PostgreSQL: a schema of its own."""
    if url is None or url.lower().startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3", None
        return
    import asyncpg

    schema = f"tunesmith_bench_{os.getpid()}_{tag}"
    store = await PostgresStore.open(url, schema=schema, lock=False, min_size=1, max_size=1)
    await store.close()  # created and migrated before any process starts
    try:
        yield url, schema
    finally:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def overspend(url: str, schema: str | None, budget: int) -> int:
    """Credits spent beyond the budget, summed over servers (0 when every server kept to its budget)."""
    store = await open_store(url, schema)
    try:
        total = 0
        if isinstance(store, PostgresStore):
            import asyncpg

            conn = await asyncpg.connect(url, server_settings={"search_path": schema or "public"})
            try:
                rows = await conn.fetch("SELECT guild_id, SUM(amount) AS s FROM ledger GROUP BY guild_id")
            finally:
                await conn.close()
            sums = [int(r["s"]) for r in rows]
        else:
            assert isinstance(store, SqliteStore)
            found = await store.database.read(
                lambda c: c.execute("SELECT guild_id, SUM(amount) AS s FROM ledger GROUP BY guild_id").fetchall()
            )
            sums = [int(r["s"]) for r in found]
        for spent in sums:
            total += max(0, -spent - budget)
        return total
    finally:
        await store.close()


async def measure_admissions(
    url: str | None, processes: int, tag: str, *, guilds: int, attempts: int, in_flight: int = 64
) -> Figures:
    per_guild = max(1, attempts // guilds)
    budget = int(per_guild * 0.8) * COST
    label = "SQLite" if url is None or url.lower().startswith("sqlite") else "PostgreSQL"
    async with database(url, tag) as (where, schema):
        children = [
            await spawn(
                "admit",
                f"a{i}",
                database=where,
                schema=schema,
                guilds=share,
                asks=per_guild,
                members=50,
                budget=budget,
                concurrency=max(in_flight // processes, 1),  # the same demand, however many processes
            )
            for i, share in enumerate(split_guilds(guilds, processes))
        ]
        for child in children:
            await child.event("ready")
        for child in children:
            child.go()
        done = [await child.event("admitted", wait=600) for child in children]
        for child in children:
            await child.proc.wait()
        wall = max(d["elapsed"] for d in done)
        figures = Figures(label, processes)
        figures.admissions_per_s = sum(d["attempts"] for d in done) / wall
        figures.overspend = await overspend(where, schema, budget)
        failed = sum(d["failed"] for d in done)
        if failed:
            log.error("%d admissions failed", failed)
        return figures


async def measure_jobs(
    url: str | None, processes: int, tag: str, figures: Figures, *, jobs: int, guilds: int, render: float
) -> Figures:
    per_guild = max(1, jobs // guilds)
    async with sandbox(render) as base, database(url, tag) as (where, schema):
        with tempfile.TemporaryDirectory() as tmp:
            posts = f"{tmp}/posts"
            children = [
                await spawn(
                    "engine",
                    f"e{i}",
                    database=where,
                    schema=schema,
                    sandbox=base,
                    guilds=share,
                    asks=per_guild,
                    members=20,
                    budget=10**9,
                    concurrency=max(jobs // 2, 1),
                    render=render,
                    posts=posts,
                    takeover=30,
                )
                for i, share in enumerate(split_guilds(guilds, processes))
            ]
            try:
                for child in children:
                    await child.event("ready")
                t0 = time.monotonic()  # the posts' clock: system-wide, as the sandbox's finish times
                for child in children:
                    child.go()
                for child in children:
                    await child.event("admitted", wait=600)
                deadline = time.monotonic() + max(120.0, render * 20)
                while time.monotonic() < deadline:
                    if len({p.job_id for p in read_posts(posts)}) >= per_guild * guilds:
                        break
                    await asyncio.sleep(0.1)
            finally:
                for child in children:
                    await child.stop()
            stopped = [await child.event("stopped", wait=1) for child in children if child.proc.returncode == 0]
            found = read_posts(posts)
            stats = await sandbox_stats(base)
        total = per_guild * guilds
        done = {p.job_id: p for p in found if p.kind == "post"}
        figures.jobs = total
        figures.completed = len(done)
        last = max((p.at for p in found), default=t0)
        figures.jobs_per_s = len(done) / max(last - t0, 1e-9)
        figures.cpu_ms_per_job = sum(s["cpu_s"] for s in stopped) * 1000 / max(len(done), 1)
        finished = stats.get("finished_at", {})
        delays = sorted((p.at - finished[p.task_id]) * 1000 for p in done.values() if p.task_id in finished)
        if delays:
            figures.p99_delivery_ms = delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))]
        figures.requests_per_job = (int(stats["submits"]) + int(stats["polls"])) / max(len(done), 1)
        figures.polls_per_job = int(stats["polls"]) / max(len(done), 1)
        return figures


def report(rows: Sequence[Figures]) -> str:
    header = ["", *(f"{r.label} ×{r.processes}" for r in rows)]
    lines = [
        ("admissions/s (0 overspend)", [f"{r.admissions_per_s:,.0f}" for r in rows]),
        ("overspend (credits)", [str(r.overspend) for r in rows]),
        ("jobs/s end to end", [f"{r.jobs_per_s:,.1f}" for r in rows]),
        ("jobs completed", [f"{r.completed}/{r.jobs}" for r in rows]),
        ("engine CPU ms/job", [f"{r.cpu_ms_per_job:.1f}" for r in rows]),
        ("p99 delivery ms", [f"{r.p99_delivery_ms:.0f}" for r in rows]),
        ("provider requests/job", [f"{r.requests_per_job:.2f}" for r in rows]),
        ("  of which polls/job", [f"{r.polls_per_job:.2f}" for r in rows]),
    ]
    widths = [max(len(header[0]), *(len(name) for name, _ in lines))] + [
        max(len(header[i + 1]), *(len(values[i]) for _, values in lines)) for i in range(len(rows))
    ]
    out = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True)))]
    for name, values in lines:
        cells = [name.ljust(widths[0]), *(v.rjust(w) for v, w in zip(values, widths[1:], strict=True))]
        out.append("  ".join(cells))
    return "\n".join(out)


def check(rows: Sequence[Figures]) -> list[str]:
    """The targets: ≥ 2,000 admissions/s on SQLite, ≥ 1,000/s on PostgreSQL with three processes, 0 overspend,
    no more provider polls per job with many processes than with one."""
    problems = []
    for r in rows:
        if r.overspend != 0:
            problems.append(f"{r.label} ×{r.processes}: overspend {r.overspend}")
        if r.label == "SQLite" and r.admissions_per_s < 2000:
            problems.append(f"SQLite: {r.admissions_per_s:,.0f} admissions/s < 2,000")
        if r.label == "PostgreSQL" and r.processes == 3 and r.admissions_per_s < 1000:
            problems.append(f"PostgreSQL ×3: {r.admissions_per_s:,.0f} admissions/s < 1,000")
        if r.completed < r.jobs:
            problems.append(f"{r.label} ×{r.processes}: {r.completed} of {r.jobs} jobs completed")
    single = next((r for r in rows if r.label == "PostgreSQL" and r.processes == 1), None)
    for r in rows:
        if single is not None and r.label == "PostgreSQL" and r.polls_per_job > single.polls_per_job * 1.1 + 0.05:
            problems.append(
                f"PostgreSQL ×{r.processes}: {r.polls_per_job:.2f} polls/job > one process's {single.polls_per_job:.2f}"
            )
    return problems


async def bench(args: argparse.Namespace) -> int:
    """Run everything side by side and print the table (exit 1 when a target is missed)."""
    rows: list[Figures] = []
    jobs = args.jobs[0] if isinstance(args.jobs, list) else int(args.jobs)  # the first size of a list
    in_flight = int(getattr(args, "admission_concurrency", ADMISSIONS_IN_FLIGHT))
    plans: list[tuple[str | None, int]] = [(None, 1)]
    if args.database and not args.database.lower().startswith("sqlite"):
        plans += [(args.database, n) for n in range(1, args.processes + 1)]
    for n, (url, processes) in enumerate(plans):
        label = "SQLite" if url is None else "PostgreSQL"
        sys.stderr.write(f"… {label} with {processes} process(es): admissions\n")
        figures = await measure_admissions(
            url, processes, f"a{n}", guilds=ADMISSION_GUILDS, attempts=args.admissions, in_flight=in_flight
        )
        if not args.no_jobs:
            sys.stderr.write(f"… {label} with {processes} process(es): jobs\n")
            render = args.render * args.time_scale
            figures = await measure_jobs(url, processes, f"j{n}", figures, jobs=jobs, guilds=args.guilds, render=render)
        rows.append(figures)
    problems = check(rows)
    sys.stdout.write(report(rows) + "\n" + "".join(f"MISSED: {problem}\n" for problem in problems))
    if args.json:
        text = json.dumps([r.__dict__ for r in rows], indent=2)
        await asyncio.to_thread(Path(args.json).write_text, text)
    return 1 if problems and getattr(args, "check", True) else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench_cluster")
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("engine", "admit"):
        p = sub.add_parser(mode)
        p.add_argument("--worker", required=True)
        p.add_argument("--database", required=True)
        p.add_argument("--schema")
        p.add_argument("--guilds", required=True, help="the servers this process admits for, e.g. 1,4,7")
        p.add_argument("--asks", type=int, required=True, help="admissions per server")
        p.add_argument("--members", type=int, default=20)
        p.add_argument("--budget", type=int, required=True)
        p.add_argument("--concurrency", type=int, default=64)
        if mode == "engine":
            p.add_argument("--sandbox", required=True)
            p.add_argument("--render", type=float, default=2.0)
            p.add_argument("--posts", required=True)
            p.add_argument("--takeover", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(engine_main(args) if args.mode == "engine" else admit_main(args))


if __name__ == "__main__":
    raise SystemExit(main())
