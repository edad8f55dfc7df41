"""What the bot's web server may ask of the job runtime: webhook secrets and deliveries, health, metrics.

Everything here answers from memory (the registry's counts, the metrics recorder), so a scrape of /metrics or
/healthz never reads the database."""

from __future__ import annotations

from bot.core.jobs.cluster import Cluster
from bot.core.jobs.registry import Registry
from bot.core.jobs.tracker import Tracker
from bot.core.metrics import Metrics
from bot.domain.models import TaskStatus


class WebDesk:
    def __init__(
        self,
        *,
        tracker: Tracker,
        registry: Registry,
        metrics: Metrics,
        provider_name: str,
        cluster: Cluster | None = None,
    ) -> None:
        self._tracker = tracker
        self._cluster = cluster
        self._registry = registry
        self.metrics = metrics
        self.provider_name = provider_name

    async def webhook_secret(self, job_id: int) -> tuple[str, str] | None:
        """(task_id, secret) of a job that reports by webhook, or None when there is no such job."""
        return await self._tracker.webhook_secret(job_id)

    async def accept_webhook(self, event_key: str, job_id: int, status: TaskStatus) -> bool:
        """Apply a verified webhook; False when it was seen before (a replay). With many processes, a webhook for a
        job another one runs is applied here: the job's lease moves to this process first."""
        if self._cluster is not None:
            await self._cluster.adopt_for_webhook(job_id)
        return await self._tracker.accept_webhook(event_key, job_id, status)

    def queue_depth(self) -> int:
        return self._registry.waiting()

    def in_flight(self) -> int:
        return self._registry.at_provider()

    def in_flight_by_state(self) -> dict[str, int]:
        """The ``tunesmith_jobs_in_flight`` gauge, per state, read at scrape time."""
        return self._registry.by_state()
