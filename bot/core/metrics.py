"""In-process counters, rendered in Prometheus' text format by the web server. No I/O here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping


class Metrics:
    """Monotonic counters keyed by (name, sorted labels)."""

    _HELP = {
        "tunesmith_provider_requests_total": "Provider API calls, by call kind",
        "tunesmith_provider_errors_total": "Provider API errors, by error kind",
        "tunesmith_webhooks_total": "Provider webhooks received, by outcome",
        "tunesmith_jobs_finished_total": "Jobs that reached a final state, by state",
        "tunesmith_deliveries_total": "Results handed to Discord, by outcome",
    }

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        self._counts[(name, tuple(sorted(labels.items())))] += amount

    def get(self, name: str, **labels: str) -> int:
        return self._counts[(name, tuple(sorted(labels.items())))]

    def render(self, gauges: Mapping[str, Mapping[tuple[tuple[str, str], ...], float]] | None = None) -> str:
        """The exposition text: counters, then any gauges computed at scrape time."""
        lines: list[str] = []
        by_name: dict[str, list[tuple[tuple[tuple[str, str], ...], float]]] = {}
        for (name, labels), value in sorted(self._counts.items()):
            by_name.setdefault(name, []).append((labels, value))
        for name, series in by_name.items():
            lines.append(f"# HELP {name} {self._HELP.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            lines.extend(f"{name}{_labels(labels)} {value}" for labels, value in series)
        for name, series_map in (gauges or {}).items():
            lines.append(f"# TYPE {name} gauge")
            lines.extend(f"{name}{_labels(labels)} {value:g}" for labels, value in series_map.items())
        return "\n".join(lines) + "\n"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
