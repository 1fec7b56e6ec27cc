"""While the action server is down (restarting), a resident gets the "busy" reply, and the
message is not given to Rasa, which would run the turn without its actions."""

from __future__ import annotations

import json

import httpx

from bot.conversations.messages import InboundMessage
from bot.conversations.pipeline import ConversationPipeline
from bot.conversations.rasa_client import RasaClient
from bot.settings import Settings
from tests.e2e.conftest import free_port


class RasaWithActions:
    """Rasa's REST channel (answers every turn) and an action server that is up or down."""

    def __init__(self, actions_up: bool) -> None:
        self.actions_up = actions_up
        self.silent = False
        self.turns: list[str] = []
        self.health_checks = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            self.health_checks += 1
            if not self.actions_up:
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(200)
        self.turns.append(json.loads(request.content)["message"])
        if self.silent:  # as Rasa answers when an action call failed during the turn
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=[{"recipient_id": "x", "text": "Chào bạn!"}])


def pipeline_for(fake: RasaWithActions, redis: object) -> ConversationPipeline:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rasa_url="http://rasa.test",
        action_server_url=f"http://127.0.0.1:{free_port()}",
    )
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(fake.handler), base_url="http://rasa.test"
    )
    return ConversationPipeline(
        settings=settings, rasa=RasaClient(settings, client=client), redis=redis
    )  # type: ignore[arg-type]


async def test_action_server_down_gets_the_busy_reply_without_calling_rasa(redis) -> None:  # type: ignore[no-untyped-def]
    fake = RasaWithActions(actions_up=False)
    message = InboundMessage("telegram:42", "xem thông tin của tôi", platform_message_id="m-1")
    replies = await pipeline_for(fake, redis).handle(message)
    assert "hệ thống đang bận" in replies[0].text
    assert "115" in replies[0].text
    assert fake.turns == []
    assert await redis.get("turn:telegram:42:m-1") is None  # the resident's retry goes through

    fake.actions_up = True
    replies = await pipeline_for(fake, redis).handle(message)
    assert [r.text for r in replies] == ["Chào bạn!"]
    assert fake.turns == ["xem thông tin của tôi"]


async def test_a_turn_that_rasa_answers_with_nothing_gets_the_busy_reply(redis) -> None:  # type: ignore[no-untyped-def]
    fake = RasaWithActions(actions_up=True)
    fake.silent = True
    message = InboundMessage("telegram:43", "xem thông tin của tôi", platform_message_id="m-2")
    replies = await pipeline_for(fake, redis).handle(message)
    assert "hệ thống đang bận" in replies[0].text
    assert await redis.get("turn:telegram:43:m-2") is None


async def test_one_healthy_answer_serves_the_turns_right_after_it(redis) -> None:  # type: ignore[no-untyped-def]
    fake = RasaWithActions(actions_up=True)
    settings = Settings(_env_file=None, rasa_url="http://rasa.test")  # type: ignore[call-arg]
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(fake.handler), base_url="http://rasa.test"
    )
    rasa = RasaClient(settings, client=client)
    for _ in range(3):  # back to back, as under load
        assert await rasa.send(conversation_id="telegram:44", text="chào")
    assert fake.turns == ["chào"] * 3
    assert fake.health_checks == 1
