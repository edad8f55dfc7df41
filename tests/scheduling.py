"""How ``make test`` shares the suite between its xdist workers: one lane for the heavy tests, the rest for all else.

A few tests run whole processes and mostly wait on them: the real bot killed and restarted again and again, three
engines on one database, a browser on a running playground. Each takes tens of seconds and keeps a core busy with
its processes. Started together (as any scheduler that sends the longest first would), they starve each other on
a two-core machine and each takes three times as long. So one worker, the heavy lane, runs them one after another
from the start, while the other workers run everything else; whichever finishes its own share first helps with the
other's. A unit of work is one test, or the whole browser package: its tests share one Chromium (a package-scoped
fixture, a second launch costs several CPU-seconds) and, per module, one page and one running playground or
harness, so they run on one worker, in order.

(xdist's own ``--dist loadgroup`` would group by ``xdist_group`` marks, but with pytest 9 it no longer sees them.)
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import Producer, WorkerController

# A package whose tests share fixtures too costly to build on several workers: one unit.
ONE_WORKER = "tests/browser/"
# The heavy tests, in the order the heavy lane runs them: longest first, so that the lane ends on a short one.
HEAVY = (
    ONE_WORKER,
    "tests/integration/test_cluster_kill.py",
    "tests/playground/test_posted_once.py",
)


def unit_of(nodeid: str) -> str:
    return ONE_WORKER if nodeid.startswith(ONE_WORKER) else nodeid


def heaviness(unit: str) -> int | None:
    """The unit's place in the heavy lane, or None for the rest."""
    return next((rank for rank, prefix in enumerate(HEAVY) if unit.startswith(prefix)), None)


class HeavyLane(LoadScopeScheduling):
    """xdist's scope scheduler (a free worker takes the next unit) with our units and one lane for the heavy ones.

    The first worker takes heavy units while there are any, the others take the rest in pytest's order; a worker
    with nothing left of its own kind takes from the other."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        self._lane: WorkerController | None = None
        self._heavy: list[str] | None = None  # every heavy unit, in the lane's order

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _assign_work_unit(self, node: WorkerController) -> None:
        if self._heavy is None:
            ranked = [(rank, i, unit) for i, unit in enumerate(self.workqueue) if (rank := heaviness(unit)) is not None]
            self._heavy = [unit for *_, unit in sorted(ranked)]
        if self._lane not in self.assigned_work:  # the first worker (or, should it crash, the next)
            self._lane = node
        heavy = (unit for unit in self._heavy if unit in self.workqueue)
        light = (unit for unit in self.workqueue if unit not in self._heavy)  # the few heavy ones are skipped
        mine, theirs = (heavy, light) if node is self._lane else (light, heavy)
        # The base class sends the first unit of the queue: put the chosen one there.
        self.workqueue.move_to_end(next(mine, None) or next(theirs), last=False)
        super()._assign_work_unit(node)
