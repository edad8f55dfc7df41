"""How long a render takes, learned from what the engine observes, and the poll schedule built on it.

An estimate is kept per (provider, model, operation): the median of the recent observations (robust to the odd
slow task), clamped to a sane range. Before any observation it falls back to what is known about the same
provider and operation with any model, then to the seed (the model's expected render time where the operator gave
one, else the provider's). Pure: no clock of its own, no I/O; the tracker hands it times.

A poll tells only that a task was not done yet or is done, so a polled render time is known to lie between the
last "not yet" and the first "done": the midpoint is observed. A webhook tells it exactly.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.models import Operation

_SLACK = 1e-3  # a poll this close to its target age counts as made at it (clock arithmetic is not exact)

WINDOW = 15
"""Observations kept per key: the estimate follows a provider that slows down within about eight tasks."""


@dataclass(frozen=True, slots=True)
class RenderKey:
    provider: str
    model: str | None
    operation: Operation


@dataclass(frozen=True, slots=True)
class Expected:
    seconds: float
    learned: bool
    """False while nothing was observed for this provider and operation: the schedule explores then."""


class RenderEstimates:
    def __init__(
        self,
        seed_s: float,
        *,
        seeds: Mapping[str, float] | None = None,
        floor_s: float = 0.1,
        ceiling_s: float = 3600.0,
        window: int = WINDOW,
    ) -> None:
        self._floor = floor_s
        self._ceiling = max(ceiling_s, floor_s)
        self._seed = self._clamp(seed_s)
        self._seeds = {model.casefold(): self._clamp(s) for model, s in (seeds or {}).items()}
        self._window = max(1, window)
        self._samples: dict[RenderKey, deque[float]] = {}
        # Any model of a provider's operation: what a model never seen yet starts from.
        self._by_operation: dict[tuple[str, Operation], deque[float]] = {}
        self._cache: dict[RenderKey, float] = {}

    def _clamp(self, seconds: float) -> float:
        return min(max(seconds, self._floor), self._ceiling)

    def seed(self, model: str | None) -> float:
        if model is not None:
            return self._seeds.get(model.casefold(), self._seed)
        return self._seed

    def expected(self, key: RenderKey) -> Expected:
        cached = self._cache.get(key)
        if cached is not None:
            return Expected(cached, True)
        samples = self._samples.get(key) or self._by_operation.get((key.provider, key.operation))
        if not samples:
            return Expected(self.seed(key.model), False)
        value = self._clamp(statistics.median(samples))
        if key in self._samples:
            self._cache[key] = value
        return Expected(value, True)

    def observe(self, key: RenderKey, seconds: float) -> None:
        """A task of ``key`` took ``seconds`` (from submission to done)."""
        value = self._clamp(seconds)
        self._samples.setdefault(key, deque(maxlen=self._window)).append(value)
        self._by_operation.setdefault((key.provider, key.operation), deque(maxlen=self._window)).append(value)
        self._cache.pop(key, None)

    def observe_polled(self, key: RenderKey, *, not_done_at: float, done_at: float) -> None:
        """A poll at age ``done_at`` found the task done; the previous one (``not_done_at``, 0 = none) did not."""
        low = min(max(not_done_at, 0.0), done_at)
        self.observe(key, (low + done_at) / 2)


@dataclass(frozen=True, slots=True)
class Schedule:
    """The poll schedule's knobs (seconds)."""

    min_gap: float = 1.0
    """The least time between two polls of a task."""
    max_gap: float = 30.0
    """The most time between two polls of a task (a task long past its expected end)."""
    lead: float = 0.85
    """The first poll comes at this fraction of the expected render."""
    explore: float = 1.25
    """Before anything was learned, a probe polls at ages growing by this factor (from an eighth of the first poll's
    age), so its render time is found within a quarter of it, however wrong the seed."""
    near: float = 0.1
    """Around the expected end, polls come every this fraction of it..."""
    stretch: float = 0.25
    """...and the gap grows by this fraction of the time the task has overrun it."""


def next_poll_in(*, age: float, polls: int, expected: Expected, schedule: Schedule, probe: bool = False) -> float:
    """Seconds from now to a task's next status poll.

    The first poll near the expected end (``lead``), then more often as it passes (every ``near`` of it),
    stretching out the longer a task overruns. Before anything was learned (the seed may be far off), a ``probe``
    explores instead: polls at ages growing by ``explore`` from an eighth of the first poll's, up to it. A few
    probes per provider and operation find the render time; the other tasks wait for what they learn.
    """
    e = expected.seconds
    first = schedule.lead * e
    # The next poll's target age: near the expected end when learned, else the next of the doubling ages.
    if probe and not expected.learned:
        start = max(schedule.min_gap, first / 8)
        target = min(start * schedule.explore ** min(polls, 100), first)
    else:
        target = first
    if target - age > _SLACK:
        return max(target - age, schedule.min_gap) if polls else target - age
    # Around and past the expected end.
    gap = schedule.near * e + schedule.stretch * max(0.0, age - e)
    return min(max(gap, schedule.min_gap), schedule.max_gap)
