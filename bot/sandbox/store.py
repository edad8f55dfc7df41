"""The sandbox's memory: tasks, clips and the Producer credit balance.

A task's progress is never advanced by a timer: it is computed from the injected clock against the task's submit
time and render time, so a request costs O(1) however many tasks exist.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from bot.domain.models import Operation

if TYPE_CHECKING:
    from bot.sandbox.songs import Recipe

Api = Literal["producer", "fuzz", "sonic"]
STARTING_CREDITS = 10_000


def now_iso() -> str:
    """Wall-clock creation time as the providers print it (the injected clock is monotonic, not a date)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class ClipSpec:
    """Everything needed to describe a clip and to synthesise its audio and art on request."""

    clip_id: str
    task_id: str
    serial: int  # order of creation; drives deterministic variety such as the duration's type
    title: str
    sound: str
    lyrics: str
    seed: str
    operation: Operation
    mv: str
    created_at: str
    parent_id: str | None = None
    take: int = 0  # FUZZ makes two takes of one request
    recipe: Recipe | None = None  # how its music is composed (bot.sandbox.songs); None: nothing to synthesise
    # Set for uploads once the source was fetched: the bytes are served back as they came.
    audio: bytes | None = None
    content_type: str | None = None
    extension: str = "wav"

    @property
    def art_key(self) -> str:
        """What the cover art depends on: prompt, lyrics, seed, operation, take and title."""
        return "\x00".join((self.sound, self.lyrics, self.seed, self.operation.value, str(self.take), self.title))


@dataclass(frozen=True, slots=True)
class Failure:
    message: str
    reason: str = "error"  # FUZZ's data.reason
    flagged: bool = False  # FUZZ's data.is_flagged


@dataclass(slots=True)
class Task:
    task_id: str
    api: Api
    operation: Operation
    submitted_at: float
    render_s: float
    clip_ids: list[str]
    created_at: str
    cost: int = 0
    failure: Failure | None = None
    gen_params: dict[str, object] = field(default_factory=dict)
    download_format: str | None = None  # download tasks: the clip to export is clip_ids[0]
    webhook_url: str | None = None
    webhook_secret: str | None = None
    origin: str = ""  # scheme://host:port the submit came in on; webhook bodies link files under it
    # Upload tasks wait for the source fetch as well as the render time.
    fetch_pending: bool = False
    fetch_done_at: float | None = None

    def progress(self, now: float) -> float:
        """Fraction of the render done; 1.0 or more means finished."""
        fraction = math.inf if self.render_s <= 0 else (now - self.submitted_at) / self.render_s
        if self.fetch_pending:
            return min(fraction, 0.99)
        return fraction

    def done(self, now: float) -> bool:
        return self.progress(now) >= 1.0

    def done_at(self) -> float | None:
        """Clock time the task finished or will finish; None while that is not known yet (a fetch running)."""
        if self.fetch_pending:
            return None
        end = self.submitted_at + max(self.render_s, 0.0)
        return end if self.fetch_done_at is None else max(end, self.fetch_done_at)


class TaskStore:
    def __init__(self, credits: int = STARTING_CREDITS) -> None:
        self.tasks: dict[str, Task] = {}
        self.clips: dict[str, ClipSpec] = {}
        self._serial = 0
        self._credits = credits
        # Only tasks that may still fail are checked for refunds, so reading the balance stays cheap.
        self._refundable: list[Task] = []

    def add_task(self, task: Task) -> None:
        self.tasks[task.task_id] = task
        self._credits -= task.cost
        if task.cost and (task.failure is not None or task.fetch_pending):
            self._refundable.append(task)

    def charge(self, cost: int) -> None:
        """Book a call that answers at once (Sonic's tools, upload, persona): no task to refund."""
        self._credits -= cost

    def new_clip(self, **values: object) -> ClipSpec:
        self._serial += 1
        clip = ClipSpec(clip_id=new_id(), serial=self._serial, created_at=now_iso(), **values)  # type: ignore[arg-type]
        self.clips[clip.clip_id] = clip
        return clip

    def usable_clip(self, clip_id: str, now: float) -> ClipSpec | None:
        """A clip a derived operation may start from: it exists and its task has not failed."""
        clip = self.clips.get(clip_id)
        if clip is None:
            return None
        task = self.tasks.get(clip.task_id)
        if task is not None and task.failure is not None and task.done(now):
            return None
        return clip

    def credits(self, now: float) -> int:
        """The balance, refunding failed tasks once they have finished (the service refunds on failure)."""
        waiting: list[Task] = []
        for task in self._refundable:
            if not task.done(now):
                waiting.append(task)
            elif task.failure is not None:
                self._credits += task.cost
        self._refundable = waiting
        return self._credits

    def finished_at(self, now: float) -> dict[str, float]:
        result: dict[str, float] = {}
        for task_id, task in self.tasks.items():
            end = task.done_at()
            if end is not None and end <= now:
                result[task_id] = end
        return result
