"""Three real engine processes on one PostgreSQL database and one sandbox; one is killed with SIGKILL mid-flight.

300 jobs over 30 servers (each process admits for its third of the servers, as Discord's shards would deal them;
each server asks for more than its budget covers). The first process is killed while its jobs are at the provider
and in the queue; the other two take them over after the take-over time (5 s here) and finish them. Then:
every job ended exactly once (one reservation, one settlement), the ledger balances to the credit, no server spent
beyond its budget, and no track was posted twice (each process's notifier appends its posts to one file).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

from bot.bench_cluster import COST, Child, child_args, read_posts, sandbox, split_guilds
from tests import pg
from tests.forked import Forked

GUILDS = 30
PER_GUILD = 10  # jobs each server's budget covers
ASKS = 12  # what each server asks for
PROCESSES = 3
RENDER_S = 1.0  # the sandbox's render time: 300 jobs through 60 slots take about five renders
TAKEOVER_S = 5.0  # long enough that a loaded machine's live processes never look dead


async def test_three_processes_one_killed_every_job_ends_once_and_posts_once(tmp_path: Path) -> None:
    async with pg.fresh_schema() as schema, sandbox(render=RENDER_S) as base:
        posts = tmp_path / "posts"
        raw = await pg.connect(schema)  # created by the first engine to open it
        children: list[Child] = []
        try:
            for i, share in enumerate(split_guilds(GUILDS, PROCESSES)):
                args = child_args(
                    "engine",
                    f"e{i}",
                    database=pg.URL,
                    schema=schema,
                    sandbox=base,
                    guilds=share,
                    asks=ASKS,
                    members=5,
                    budget=PER_GUILD * COST,
                    concurrency=60,  # the provider's slots, shared by the three
                    render=RENDER_S,
                    posts=posts,
                    takeover=TAKEOVER_S,
                )
                # `python -m bot.bench_cluster engine ...`, forked from a process that imported the bot once.
                children.append(Child(await Forked.python("-m", "bot.bench_cluster", *args), f"e{i}"))
            for child in children:
                await child.event("ready")
            for child in children:
                child.go()
            admitted = [await child.event("admitted", wait=120) for child in children]
            assert sum(a["admitted"] for a in admitted) == GUILDS * PER_GUILD
            assert sum(a["refused"] for a in admitted) == GUILDS * (ASKS - PER_GUILD)

            # Kill the first process once it has jobs at the provider (and more waiting), before its first post.
            victim = children[0]
            loop = asyncio.get_running_loop()
            start = loop.time()
            while True:
                at_provider = await raw.fetchval(
                    "SELECT COUNT(*) FROM jobs WHERE owner = 'e0' AND state IN ('submitted', 'running')"
                )
                if at_provider >= 5:
                    break
                assert loop.time() - start < 60, "the first process never submitted"
                await asyncio.sleep(0.02)
            os.kill(victim.proc.pid, signal.SIGKILL)
            await victim.proc.wait()
            posted_before = [p for p in read_posts(posts) if p.worker == "e0"]
            left = await raw.fetchval("SELECT COUNT(*) FROM jobs WHERE owner = 'e0' AND delivered_at IS NULL")
            assert left > 0, "the victim had nothing in flight"

            # The others take its jobs over and finish everything.
            start = loop.time()
            while await raw.fetchval("SELECT COUNT(*) FROM jobs WHERE delivered_at IS NULL"):
                assert loop.time() - start < 90, "not every job was delivered"
                await asyncio.sleep(0.1)
        finally:
            for child in children:
                await child.stop()
        try:
            jobs = await raw.fetch("SELECT id, guild_id, state, cost, owner FROM jobs")
            ledger = await raw.fetch("SELECT job_id, guild_id, kind, amount FROM ledger")
            tracks = await raw.fetch("SELECT id, job_id FROM tracks")
        finally:
            await raw.close()

    # Every job ended exactly once: a final state, one reservation and one settlement each.
    assert len(jobs) == GUILDS * PER_GUILD
    assert {j["state"] for j in jobs} == {"succeeded"}
    kinds = Counter((r["job_id"], r["kind"]) for r in ledger)
    for job in jobs:
        assert kinds[(job["id"], "reserve")] == 1
        assert kinds[(job["id"], "commit")] + kinds[(job["id"], "refund")] == 1
    # The ledger balances to the credit, and no server went beyond its budget.
    spent = Counter[int]()
    for row in ledger:
        spent[row["guild_id"]] -= row["amount"]
    cost_of = Counter[int]()
    for job in jobs:
        cost_of[job["guild_id"]] += job["cost"] if job["state"] == "succeeded" else 0
    assert spent == cost_of
    assert max(spent.values()) <= PER_GUILD * COST
    # Every track was posted, and none twice; the dead process's jobs were finished by the others.
    found = read_posts(posts)
    posted = Counter(p.what for p in found if p.kind == "post")
    assert [track for track, n in posted.items() if n > 1] == []
    assert set(posted) == {str(t["id"]) for t in tracks}
    taken = {p.job_id for p in found if p.kind == "post" and p.worker != "e0"}
    victims_guilds = {g for g in range(1, GUILDS + 1) if g % PROCESSES == 0}
    assert {j["id"] for j in jobs if j["guild_id"] in victims_guilds} - {p.job_id for p in posted_before} <= taken
