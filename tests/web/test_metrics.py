"""``/metrics`` (issue 9.5): prometheus-client's exposition of values kept in memory, never a query per scrape; a
bearer token or a listener of its own keeps it private; ``/healthz`` stays open.

Real core on real SQLite, the real aiohttp server, real httpx; the exposition is read back with prometheus-client's
own parser.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.core.metrics import Metrics
from bot.providers.producer import parse_webhook
from bot.web.server import WebOptions, WebServer
from tests.clients import http_client
from tests.integration.rig import Live, live


def families(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample by name and labels, as Prometheus would read it."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


@asynccontextmanager
async def served(db_path: Path, options: WebOptions | None = None) -> AsyncIterator[tuple[Live, WebServer]]:
    async with live(db_path) as r:
        web = WebServer(r.core.web, parse_webhook, options=options or WebOptions(port=0))
        await web.start()
        try:
            yield r, web
        finally:
            await web.stop()


async def test_a_scrape_reads_memory_even_while_the_database_is_locked(db_path: Path) -> None:
    async with served(db_path) as (r, web):
        await r.admit()
        await r.notifier.wait_for(1)
        # Core observed the job's render time itself; one more, of known value, to read the buckets back.
        r.core.metrics.observe("tunesmith_render_seconds", 0.3, provider="sandbox", operation="cover")
        # Another process holds the database: the scrape must not need it (it used to scan the jobs table).
        holder = sqlite3.connect(db_path, timeout=30)  # waits for any write of core in progress
        holder.execute("BEGIN EXCLUSIVE")
        try:
            async with http_client(timeout=30) as client:
                answer = await client.get(f"http://127.0.0.1:{web.port}/metrics")
        finally:
            holder.rollback()
            holder.close()
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=")
        samples = families(answer.text)
        assert samples["tunesmith_jobs_finished_total"][(("state", "succeeded"),)] == 1.0
        assert samples["tunesmith_provider_requests_total"][(("call", "submit"),)] >= 1.0
        assert samples["tunesmith_render_seconds_count"][(("operation", "create"), ("provider", "sandbox"))] == 1.0
        assert samples["tunesmith_queue_wait_seconds_count"][()] == 1.0
        assert samples["tunesmith_delivery_delay_seconds_count"][()] == 1.0
        render = (("operation", "cover"), ("provider", "sandbox"))
        assert samples["tunesmith_render_seconds_count"][render] == 1.0
        buckets = samples["tunesmith_render_seconds_bucket"]
        assert buckets[(("le", "0.5"), *render)] == 1.0 and buckets[(("le", "0.25"), *render)] == 0.0
        in_flight = samples["tunesmith_jobs_in_flight"]
        assert in_flight[(("state", "queued"),)] == 0.0 and in_flight[(("state", "running"),)] == 0.0


async def test_the_in_flight_gauge_comes_from_the_given_source(db_path: Path) -> None:
    async with live(db_path) as r:
        web = WebServer(r.core.web, parse_webhook, options=WebOptions(port=0), job_gauges=lambda: {"queued": 4})
        await web.start()
        try:
            async with http_client() as client:
                text = (await client.get(f"http://127.0.0.1:{web.port}/metrics")).text
        finally:
            await web.stop()
        # The given source wins for the states it names; core keeps the others itself.
        assert families(text)["tunesmith_jobs_in_flight"][(("state", "queued"),)] == 4.0


async def test_a_metrics_token_is_required_when_set(db_path: Path) -> None:
    token = "metrics-token-5d1f"
    async with served(db_path, WebOptions(port=0, metrics_token=token)) as (_r, web):
        url = f"http://127.0.0.1:{web.port}"
        async with http_client() as client:
            for header in (None, "Bearer wrong", f"Basic {token}", f"Bearer {token}x", "Bearer"):
                headers = {"Authorization": header} if header else {}
                answer = await client.get(url + "/metrics", headers=headers)
                assert answer.status_code == 401 and "tunesmith_" not in answer.text
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
            odd = await client.get(url + "/metrics", headers={b"Authorization": "Bearer tökén".encode()})
            assert odd.status_code == 401
            ok = await client.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and "tunesmith_jobs_in_flight" in ok.text
            assert (await client.get(url + "/healthz")).json()["status"] == "ok"  # health stays open


async def test_metrics_on_a_listener_of_its_own(db_path: Path) -> None:
    async with served(db_path, WebOptions(port=0, metrics_host="127.0.0.1", metrics_port=0)) as (_r, web):
        assert web.metrics_port is not None and web.metrics_port != web.port
        async with http_client() as client:
            assert (await client.get(f"http://127.0.0.1:{web.port}/metrics")).status_code == 404
            assert (await client.get(f"http://127.0.0.1:{web.port}/healthz")).status_code == 200
            answer = await client.get(f"http://127.0.0.1:{web.metrics_port}/metrics")
            assert answer.status_code == 200 and "tunesmith_jobs_in_flight" in answer.text
            assert (await client.get(f"http://127.0.0.1:{web.metrics_port}/healthz")).status_code == 404


def test_options_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.config import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNESMITH_METRICS_TOKEN", "tok-1234")
    monkeypatch.setenv("TUNESMITH_METRICS_PORT", "9100")
    options = WebOptions.from_settings(load_settings(_env_file=None))
    assert options.metrics_token == "tok-1234" and options.metrics_port == 9100 and options.metrics_separate
    assert "tok-1234" not in repr(load_settings(_env_file=None))


# --- the recorder ---------------------------------------------------------------------------------------------


def test_the_recorder_keeps_only_finite_values() -> None:
    metrics = Metrics()
    metrics.inc("tunesmith_deliveries_total", outcome="ok")
    metrics.inc("tunesmith_deliveries_total", math.inf, outcome="ok")
    metrics.inc("tunesmith_deliveries_total", -1, outcome="ok")
    metrics.observe("tunesmith_queue_wait_seconds", math.nan)
    metrics.observe("tunesmith_queue_wait_seconds", 1.0)
    metrics.observe("tunesmith_queue_wait_seconds", 1e9)
    metrics.set("tunesmith_jobs_in_flight", -math.inf, state="queued")
    metrics.set("tunesmith_jobs_in_flight", 3, state="queued")
    assert metrics.get("tunesmith_deliveries_total", outcome="ok") == 1
    wait = metrics.histogram("tunesmith_queue_wait_seconds")
    assert wait is not None and wait.count == 2 and wait.total == 1e9 + 1.0
    assert wait.cumulative()[-1] == 2 and wait.counts[-1] == 1  # 1e9 s lands in +Inf
    assert metrics.get("tunesmith_jobs_in_flight", state="queued") == 3
    with pytest.raises(ValueError, match="counter"):
        metrics.set("tunesmith_deliveries_total", 1)
