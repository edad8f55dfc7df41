"""Prometheus exposition of the in-memory :class:`~bot.core.metrics.Metrics` recorder, with prometheus-client.

A scrape reads values the process already holds (a custom collector over the recorder): no query, no lock, however
often it is scraped. Access control (a bearer token, a listener of its own) is the web server's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from bot.core.metrics import HELP, Histogram, Kind, Labels, Metrics

__all__ = ["CONTENT_TYPE_LATEST", "RecorderCollector", "exposition"]

GaugeSource = Callable[[], Mapping[str, float]]


class RecorderCollector(Collector):
    """Turns the recorder's series into metric families at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for name in self._metrics.names():
            series = self._metrics.series(name)
            if not series:
                continue
            label_names = sorted({k for labels, _ in series for k, _ in labels})
            doc = HELP.get(name, name)
            kind = self._metrics.kind(name)
            if kind is Kind.COUNTER:
                family: Metric = CounterMetricFamily(name, doc, labels=label_names)
            elif kind is Kind.GAUGE:
                family = GaugeMetricFamily(name, doc, labels=label_names)
            else:
                family = HistogramMetricFamily(name, doc, labels=label_names)
            for labels, value in series:
                values = _values(labels, label_names)
                if isinstance(value, Histogram):
                    assert isinstance(family, HistogramMetricFamily)
                    bounds = [*(_bound(b) for b in value.buckets), "+Inf"]
                    family.add_metric(values, list(zip(bounds, value.cumulative(), strict=True)), value.total)
                else:
                    assert isinstance(family, CounterMetricFamily | GaugeMetricFamily)
                    family.add_metric(values, value)
            yield family


def _values(labels: Labels, names: list[str]) -> list[str]:
    given = dict(labels)
    return [given.get(n, "") for n in names]


def _bound(value: float) -> str:
    return repr(float(value))


def registry_for(metrics: Metrics) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RecorderCollector(metrics))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text format Prometheus scrapes."""
    return generate_latest(registry)
