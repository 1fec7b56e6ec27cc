"""Queueing a platform event once: the job and the "seen" mark together, or neither."""

from __future__ import annotations

import pytest
from redis.exceptions import RedisError

from bot.delivery.queue import Job, JobQueue


def _job() -> Job:
    return Job("turn", "telegram", "telegram:42")


async def test_an_event_is_queued_once(redis) -> None:  # type: ignore[no-untyped-def]
    queue = JobQueue(redis, stream="test:jobs")
    first = await queue.put_once("telegram", "7", _job())
    again = await queue.put_once("telegram", "7", _job())
    other = await queue.put_once("zalo", "7", _job())
    assert first is not None
    assert again is None
    assert other is not None
    assert await redis.xlen("test:jobs") == 2


async def test_a_job_that_cannot_be_queued_leaves_no_mark(redis) -> None:  # type: ignore[no-untyped-def]
    queue = JobQueue(redis, stream="test:jobs")
    await redis.set("test:jobs", "not a stream")  # XADD fails with WRONGTYPE
    with pytest.raises(RedisError):
        await queue.put_once("telegram", "8", _job())
    await redis.delete("test:jobs")
    # The platform delivers it again: now it is queued, not dropped as a duplicate.
    assert await queue.put_once("telegram", "8", _job()) is not None
    assert await redis.xlen("test:jobs") == 1
