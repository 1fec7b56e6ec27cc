"""The live bus: in process, and through Redis pub/sub between two buses (two processes)."""

from __future__ import annotations

from bot.live import LiveBus


async def test_in_process_publish_reaches_every_subscriber_of_the_topic() -> None:
    bus = LiveBus()
    first, second, other = (
        await bus.subscribe("console"),
        await bus.subscribe("console"),
        await bus.subscribe("chat:web:x"),
    )
    await bus.publish("console", {"type": "queued", "handoff_id": 1})
    assert await first.get(timeout=1) == {"type": "queued", "handoff_id": 1}
    assert await second.get(timeout=1) == {"type": "queued", "handoff_id": 1}
    assert await other.get(timeout=0.05) is None
    first.close()
    await bus.publish("console", {"type": "message", "handoff_id": 1})
    assert bus.subscriber_count("console") == 1


async def test_a_page_that_stops_reading_keeps_only_the_newest_events() -> None:
    bus = LiveBus()
    slow = await bus.subscribe("console")
    for n in range(300):
        await bus.publish("console", {"n": n})
    assert slow.queue.qsize() == 256
    assert (await slow.get(timeout=1)) == {"n": 44}


async def test_redis_fans_out_between_processes(redis) -> None:  # type: ignore[no-untyped-def]
    web, worker = LiveBus(redis), LiveBus(redis)
    try:
        page = await web.subscribe("chat:web:abc")
        await worker.publish("chat:web:abc", {"type": "message", "text": "Chào bạn"})
        assert await page.get(timeout=5) == {"type": "message", "text": "Chào bạn"}
    finally:
        await web.aclose()
        await worker.aclose()
