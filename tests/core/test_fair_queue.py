"""The queue that keeps one busy server from starving the others."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from bot.core.fair_queue import FairQueue


def test_a_busy_server_does_not_starve_a_quiet_one() -> None:
    queue = FairQueue()
    for job in range(100):
        queue.push(job, guild_id=1, user_id=10)
    queue.push(1000, guild_id=2, user_id=20)
    first_two = [queue.pop(), queue.pop()]
    assert 1000 in first_two
    assert queue.positions().get(1000) is None


def test_members_take_turns_inside_a_server() -> None:
    queue = FairQueue()
    for job in (1, 2, 3):
        queue.push(job, guild_id=1, user_id=10)
    queue.push(4, guild_id=1, user_id=11)
    assert [queue.pop() for _ in range(4)] == [1, 4, 2, 3]
    assert queue.pop() is None


def test_remove_and_positions() -> None:
    queue = FairQueue()
    queue.push(1, guild_id=1, user_id=1)
    queue.push(2, guild_id=2, user_id=2)
    queue.push(3, guild_id=1, user_id=1)
    assert queue.positions() == {1: 1, 2: 2, 3: 3}
    assert queue.remove(2) and not queue.remove(2)
    assert queue.positions() == {1: 1, 3: 2}
    assert len(queue) == 2 and 3 in queue


@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3)), max_size=60))
def test_positions_predict_the_pop_order(entries: list[tuple[int, int]]) -> None:
    queue = FairQueue()
    for job, (guild, user) in enumerate(entries):
        queue.push(job, guild_id=guild, user_id=user)
    predicted = sorted(queue.positions(), key=queue.positions().__getitem__)
    popped = [queue.pop() for _ in entries]
    assert popped == predicted
    # Fairness: while more than one server waits, no server gets two turns in a row.
    guild_of = {job: g for job, (g, _) in enumerate(entries)}
    for a, b in pairwise(popped):
        if guild_of[a] == guild_of[b]:
            remaining = {guild_of[j] for j in popped[popped.index(b) :]}
            assert remaining == {guild_of[b]}


@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3)), max_size=40))
def test_position_of_one_job_matches_all_positions(entries: list[tuple[int, int]]) -> None:
    queue = FairQueue()
    for job, (guild, user) in enumerate(entries):
        queue.push(job, guild_id=guild, user_id=user)
    everyone = queue.positions()
    assert all(queue.position(job) == place for job, place in everyone.items())
    assert queue.position(10_000) is None
