"""Two workers on one job stream (as two `hotline run --role worker` machines): each job is
run once, and two turns of one resident never run at the same time."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from typing import Any

import httpx
import pytest

from bot.conversations.messages import InboundMessage
from bot.conversations.pipeline import ConversationPipeline
from bot.conversations.rasa_client import RasaClient
from bot.delivery.queue import Job, JobQueue
from bot.delivery.worker import DeliveryWorker
from bot.outbound.policy import RetryPolicy
from bot.outbound.sender import OutboundSender
from bot.settings import Settings
from connectors.telegram.channel import TelegramChannel
from tests.channels.conftest import wait_for
from tests.conftest import REDIS_URL
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = [
    pytest.mark.usefixtures("committed_db"),
    pytest.mark.skipif(not REDIS_URL, reason="two workers share a queue only through Redis"),
]


class SlowRasa:
    """Rasa's REST channel taking a while per turn; counts turns of a conversation at once."""

    def __init__(self) -> None:
        self.running: defaultdict[str, int] = defaultdict(int)
        self.most_at_once: defaultdict[str, int] = defaultdict(int)
        self.turns: list[str] = []

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":  # the action server
            return httpx.Response(200)
        body: dict[str, Any] = json.loads(request.content)
        sender = body["sender"]
        self.running[sender] += 1
        self.most_at_once[sender] = max(self.most_at_once[sender], self.running[sender])
        await asyncio.sleep(0.15)
        self.running[sender] -= 1
        self.turns.append(body["message"])
        return httpx.Response(200, json=[{"recipient_id": sender, "text": body["message"]}])


def worker(
    settings: Settings, redis: Any, rasa: SlowRasa
) -> tuple[DeliveryWorker, TelegramChannel]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(rasa.handler))
    channel = TelegramChannel(settings=settings, redis=redis)
    pipeline = ConversationPipeline(
        settings=settings, rasa=RasaClient(settings, client=client), redis=redis
    )
    sender = OutboundSender(
        channels={"telegram": channel}, redis=redis, policy=RetryPolicy.from_settings(settings)
    )
    queue = JobQueue(redis, stream=settings.jobs_stream)
    return DeliveryWorker(settings=settings, queue=queue, pipeline=pipeline, sender=sender), channel


async def test_two_workers_run_each_job_once_and_one_turn_of_a_resident_at_a_time(
    settings: Settings, redis: Any, telegram_fake: FakeTelegramAPI
) -> None:
    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    rasa = SlowRasa()
    workers = [worker(shared, redis, rasa) for _ in range(2)]
    tasks = [asyncio.create_task(w.run()) for w, _ in workers]
    queue = JobQueue(redis, stream=shared.jobs_stream)
    await queue.ensure_group()
    try:
        for n in range(8):
            conversation = f"telegram:{5000 + n % 2}"  # two residents, four messages each
            message = InboundMessage(conversation, f"tin {n}", platform_message_id=f"m{n}")
            await queue.put(Job("turn", "telegram", conversation, message))
            await asyncio.sleep(0.03)  # both workers wait on the stream: they take turns
        await wait_for(lambda: len(telegram_fake.sent()) == 8, timeout=30)
    finally:
        for w, _ in workers:
            await w.stop(timeout=1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, channel in workers:
            await channel.aclose()
    assert Counter(rasa.turns) == Counter(f"tin {n}" for n in range(8))  # each once
    assert dict(rasa.most_at_once) == {"telegram:5000": 1, "telegram:5001": 1}
    assert await queue.pending_count() == 0
