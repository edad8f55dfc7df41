"""What the bot counts, times and gauges, kept in memory. No I/O here: ``bot/web`` exposes it with prometheus-client.

Core calls three verbs: :meth:`Metrics.inc` (counters), :meth:`Metrics.observe` (histograms, seconds) and
:meth:`Metrics.set` (gauges). A scrape reads these values; it never runs a query.

The names: counters ``tunesmith_provider_requests_total{call}``, ``tunesmith_provider_errors_total{kind}``,
``tunesmith_webhooks_total{result}``, ``tunesmith_jobs_finished_total{state}``,
``tunesmith_deliveries_total{outcome}``; histograms ``tunesmith_queue_wait_seconds``,
``tunesmith_render_seconds{provider,operation}``, ``tunesmith_delivery_delay_seconds`` (completion -> post); gauge
``tunesmith_jobs_in_flight{state}``.
"""

from __future__ import annotations

import bisect
import logging
import math
from dataclasses import dataclass, field
from enum import StrEnum

log = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


HELP: dict[str, str] = {
    "tunesmith_provider_requests_total": "Provider API calls, by call kind",
    "tunesmith_provider_errors_total": "Provider API errors, by error kind",
    "tunesmith_webhooks_total": "Provider webhooks received, by result",
    "tunesmith_jobs_finished_total": "Jobs that reached a final state, by state",
    "tunesmith_deliveries_total": "Results handed to Discord, by outcome",
    "tunesmith_queue_wait_seconds": "Time from admission to submission to the provider",
    "tunesmith_render_seconds": "Time from submission to the provider's finished answer",
    "tunesmith_delivery_delay_seconds": "Time from the provider's completion to the post in Discord",
    "tunesmith_jobs_in_flight": "Jobs not finished yet, by state",
}

# Seconds, from a fast webhook delivery (tens of ms) to a slow render (minutes) and the job deadline.
DEFAULT_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800)


@dataclass(slots=True)
class Histogram:
    """One histogram series: counts per bucket (not cumulative; the last one is +Inf), their sum and count."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.buckets) + 1)

    def add(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1  # le: a value equal to a bound is in it
        self.total += value
        self.count += 1

    def cumulative(self) -> list[int]:
        running, out = 0, []
        for n in self.counts:
            running += n
            out.append(running)
        return out


class Metrics:
    """Counters, gauges and histograms keyed by (name, sorted labels). Values must be finite: others are dropped
    (and logged once), so one bad measurement can never poison an exposition."""

    def __init__(self, buckets: dict[str, tuple[float, ...]] | None = None) -> None:
        self._counters: dict[tuple[str, Labels], float] = {}
        self._gauges: dict[tuple[str, Labels], float] = {}
        self._histograms: dict[tuple[str, Labels], Histogram] = {}
        self._kinds: dict[str, Kind] = {}
        self._buckets = dict(buckets or {})
        self._warned: set[str] = set()

    # --- recording (core calls these) ------------------------------------------------------------------------
    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` (finite, not negative) to a counter."""
        if self._usable(name, Kind.COUNTER, amount, negative_ok=False):
            key = (name, _labels(labels))
            self._counters[key] = self._counters.get(key, 0.0) + amount

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """Record one duration (finite, not negative) in a histogram."""
        if self._usable(name, Kind.HISTOGRAM, seconds, negative_ok=False):
            key = (name, _labels(labels))
            series = self._histograms.get(key)
            if series is None:
                series = self._histograms[key] = Histogram(self._buckets.get(name, DEFAULT_BUCKETS))
            series.add(float(seconds))

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge to ``value`` (finite)."""
        if self._usable(name, Kind.GAUGE, value, negative_ok=True):
            self._gauges[(name, _labels(labels))] = float(value)

    def _usable(self, name: str, kind: Kind, value: float, *, negative_ok: bool) -> bool:
        known = self._kinds.setdefault(name, kind)
        if known is not kind:
            raise ValueError(f"metric {name} is a {known.value}, not a {kind.value}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            reason = "not a finite number"
        elif value < 0 and not negative_ok:
            reason = "negative"
        else:
            return True
        if name not in self._warned:
            self._warned.add(name)
            log.warning("metric %s: dropped a value that is %s", name, reason)
        return False

    # --- reading (tests and the exposition) ------------------------------------------------------------------
    def get(self, name: str, **labels: str) -> float:
        """A counter's or a gauge's current value (0 when never recorded)."""
        key = (name, _labels(labels))
        return self._counters.get(key, self._gauges.get(key, 0.0))

    def histogram(self, name: str, **labels: str) -> Histogram | None:
        return self._histograms.get((name, _labels(labels)))

    def kind(self, name: str) -> Kind | None:
        return self._kinds.get(name)

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def series(self, name: str) -> list[tuple[Labels, float | Histogram]]:
        """Every labelled series of one metric, in a stable order."""
        kind = self._kinds.get(name)
        store: dict[tuple[str, Labels], float] | dict[tuple[str, Labels], Histogram]
        if kind is Kind.COUNTER:
            store = self._counters
        elif kind is Kind.GAUGE:
            store = self._gauges
        elif kind is Kind.HISTOGRAM:
            store = self._histograms
        else:
            return []
        return sorted(((labels, value) for (n, labels), value in store.items() if n == name), key=lambda s: s[0])


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))
