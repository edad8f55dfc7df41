"""A queue that is fair across servers, and across members inside a server.

Jobs wait here when the provider's concurrency limit is reached. Dequeuing is round-robin: one job from the
next server in turn, and inside that server one job from the next member in turn, so a server that queues a
hundred jobs delays another server's single job by at most one slot.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator


class FairQueue:
    def __init__(self) -> None:
        # guild -> member -> job ids (FIFO); the OrderedDicts' order is the round-robin turn order.
        self._guilds: OrderedDict[int, OrderedDict[int, deque[int]]] = OrderedDict()
        self._where: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._where

    def push(self, job_id: int, guild_id: int, user_id: int) -> None:
        if job_id in self._where:
            return
        members = self._guilds.setdefault(guild_id, OrderedDict())
        members.setdefault(user_id, deque()).append(job_id)
        self._where[job_id] = (guild_id, user_id)

    def pop(self) -> int | None:
        """The next job in fair order, or None when empty."""
        if not self._guilds:
            return None
        guild_id, members = next(iter(self._guilds.items()))
        user_id, jobs = next(iter(members.items()))
        job_id = jobs.popleft()
        del self._where[job_id]
        # Rotate: this member goes to the back of its server, this server to the back of the line.
        if jobs:
            members.move_to_end(user_id)
        else:
            del members[user_id]
        if members:
            self._guilds.move_to_end(guild_id)
        else:
            del self._guilds[guild_id]
        return job_id

    def remove(self, job_id: int) -> bool:
        where = self._where.pop(job_id, None)
        if where is None:
            return False
        guild_id, user_id = where
        members = self._guilds[guild_id]
        members[user_id].remove(job_id)
        if not members[user_id]:
            del members[user_id]
        if not members:
            del self._guilds[guild_id]
        return True

    def order(self) -> Iterator[int]:
        """Job ids in the order they would be dequeued (without dequeuing)."""
        guilds = [(g, [(u, list(q)) for u, q in m.items()]) for g, m in self._guilds.items()]
        guild_turns: deque[tuple[int, deque[tuple[int, deque[int]]]]] = deque(
            (g, deque((u, deque(q)) for u, q in members)) for g, members in guilds
        )
        while guild_turns:
            guild_id, members = guild_turns.popleft()
            user_id, jobs = members.popleft()
            yield jobs.popleft()
            if jobs:
                members.append((user_id, jobs))
            if members:
                guild_turns.append((guild_id, members))

    def position(self, job_id: int) -> int | None:
        """1-based place in line of one job (walks the order only as far as that job)."""
        if job_id not in self._where:
            return None
        for place, queued in enumerate(self.order(), start=1):
            if queued == job_id:
                return place
        return None  # pragma: no cover - every queued job is in the order

    def positions(self) -> dict[int, int]:
        """1-based place in line of every queued job."""
        return {job_id: i for i, job_id in enumerate(self.order(), start=1)}
