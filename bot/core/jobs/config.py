"""The job runtime's knobs (from Settings in the composition root; scaled down by the benchmark and tests)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class JobsConfig:
    poll_interval: float = 5.0
    """Base seconds between status polls of a task; grows with the task's age."""
    max_poll_interval: float = 30.0
    deadline: float = 600.0
    """Seconds after submission before a task is given up and refunded."""
    webhook_url_base: str | None = None
    """``https://host/prefix``: when set and the provider supports it, tasks report back by webhook."""
    safety_poll_interval: float = 60.0
    """Poll interval for tasks that will report by webhook: only a safety net."""
    submit_retry_base: float = 5.0
    max_retry_after: float = 60.0
    """The longest wait a provider's ``Retry-After`` may impose on submits or polls (TUNESMITH_MAX_RETRY_AFTER);
    the HTTP client caps it too, this holds for any provider."""
    last_look_grace: float = 300.0
    """Seconds past the deadline a task's last look keeps being retried while the provider answers with retryable
    errors (429, 5xx): a finished song is never refunded as a timeout because the provider made us wait."""
    max_parallel_polls: int = 4
    expected_render_s: float = 30.0
    """The render time assumed before any was observed; learned per provider, model and operation afterwards
    (bot/core/jobs/estimate.py)."""
    render_seeds: Mapping[str, float] = field(default_factory=dict)
    """Expected render seconds of particular models, before any of theirs was observed."""
    min_poll_gap: float = 1.0
    """The least seconds between two status polls of one task (around its expected end)."""
    delivery_retry_base: float = 5.0
    delivery_attempts: int = 8
    """Tries to hand a result to Discord (backing off from 5 s) before giving up on posting it."""
    webhook_key: bytes | None = field(default=None, repr=False)
    """The key per-job webhook secrets are derived from (kept outside the database)."""
    status_grace_s: float = 0.0
    """Hold a new job this long (at most) until its status message is attached, so a very fast job cannot
    finish before the message exists and leave it behind. 0 = no hold (no Discord, e.g. the benchmark)."""
    tick: float = 0.01
    """Least seconds between two scheduling passes while work keeps arriving."""
    write_linger: float = 0.02
    """Seconds a finished job waits for others to share its transaction (a burst of webhooks is one write)."""
    stop_grace: float = 5.0
    """Seconds :meth:`JobRuntime.stop` gives pending writes before it cancels what is left."""
    sweep_interval: float = 1.0
    """Seconds between whole-set sweeps (deadlines, queue positions), however often the loop wakes."""
    webhook_retention_s: float = 7 * 86400.0
    """How long processed webhook ids are kept to recognise replays (signatures go stale long before)."""

    def honoured_wait(self, retry_after: float | None) -> float | None:
        """A provider's ``Retry-After`` as the engine honours it: finite, not negative, at most ``max_retry_after``
        (None when there is nothing meaningful to honour)."""
        if retry_after is None or math.isnan(retry_after) or retry_after <= 0:
            return None
        return min(retry_after, self.max_retry_after)  # inf too: "very long" is the cap
