"""Several Rasa servers: each conversation keeps its server while it answers, and moves to its
next one when the connection is refused; a turn that reached a server is never sent twice."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest

from bot.conversations.rasa_client import RasaClient, RasaUnavailable, server_order
from bot.settings import Settings

A, B, C = "http://rasa-a.test:5005", "http://rasa-b.test:5005", "http://rasa-c.test:5005"


class RasaServers:
    """Rasa REST channels on several hosts (a fake of Rasa's HTTP API); `down` refuse."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.failing: set[str] = set()
        self.turns: list[tuple[str, str]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        server = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        if request.url.host == "actions.test":  # the action server is up
            return httpx.Response(200)
        if server in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if server in self.failing:
            return httpx.Response(500)
        self.turns.append((server, json.loads(request.content)["sender"]))
        return httpx.Response(200, json=[{"recipient_id": "x", "text": f"từ {server}"}])


def client_for(fake: RasaServers, *servers: str, down_seconds: float = 60) -> RasaClient:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rasa_urls=",".join(servers),
        redis_url="redis://127.0.0.1:6379/0",
        rasa_down_seconds=down_seconds,
        action_server_url="http://actions.test:5055",
    )
    transport = httpx.MockTransport(fake.handler)
    return RasaClient(settings, client=httpx.AsyncClient(transport=transport))


def test_each_conversation_has_a_stable_order_and_the_servers_share_the_load() -> None:
    first = Counter(server_order([A, B, C], f"telegram:{n}")[0] for n in range(3000))
    assert set(first) == {A, B, C}
    assert all(900 < count < 1100 for count in first.values()), first
    assert server_order([A, B, C], "web:x") == server_order([C, A, B], "web:x")
    # Removing a server moves only the conversations it had.
    for n in range(300):
        order = server_order([A, B, C], f"zalo:{n}")
        if order[0] != C:
            assert server_order([A, B], f"zalo:{n}")[0] == order[0]


async def test_a_conversation_moves_to_its_next_server_while_its_own_refuses() -> None:
    fake = RasaServers()
    rasa = client_for(fake, A, B, C)
    conversation = "telegram:1001"
    own, following, _ = server_order([A, B, C], conversation)

    await rasa.send(conversation_id=conversation, text="xin chào")
    fake.down.add(own)
    replies = await rasa.send(conversation_id=conversation, text="tôi cần hỗ trợ")
    assert replies[0].text == f"từ {following}"
    fake.down.clear()
    await rasa.send(conversation_id=conversation, text="cảm ơn")  # still marked down: stays
    assert [server for server, _ in fake.turns] == [own, following, following]
    await rasa.aclose()


async def test_a_server_is_tried_again_once_its_down_time_is_over() -> None:
    fake = RasaServers()
    rasa = client_for(fake, A, B, down_seconds=0)
    conversation = "web:abc"
    own = server_order([A, B], conversation)[0]
    fake.down.add(own)
    await rasa.send(conversation_id=conversation, text="một")
    fake.down.clear()
    await rasa.send(conversation_id=conversation, text="hai")
    assert [server for server, _ in fake.turns] == [s for s in (A, B) if s != own] + [own]
    await rasa.aclose()


async def test_an_error_after_connecting_is_not_sent_to_another_server() -> None:
    fake = RasaServers()
    rasa = client_for(fake, A, B)
    conversation = "zalo:77"
    fake.failing.add(server_order([A, B], conversation)[0])
    with pytest.raises(RasaUnavailable):
        await rasa.send(conversation_id=conversation, text="xin chào")
    assert fake.turns == []  # the other server never saw the turn
    await rasa.aclose()


async def test_every_server_refusing_makes_the_turn_unavailable() -> None:
    fake = RasaServers()
    fake.down.update({A, B})
    rasa = client_for(fake, A, B)
    with pytest.raises(RasaUnavailable):
        await rasa.send(conversation_id="web:q", text="xin chào")
    # All down: the next turn still tries them rather than giving up at once.
    fake.down.clear()
    assert (await rasa.send(conversation_id="web:q", text="xin chào"))[0].text.startswith("từ")
    await rasa.aclose()


class PairedServers(RasaServers):
    """Each Rasa server with its own action server (one pair per machine)."""

    def __init__(self) -> None:
        super().__init__()
        self.actions_down: set[str] = set()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            if request.url.host in self.actions_down:
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(200)
        return super().handler(request)


async def test_a_server_whose_own_action_server_is_down_is_skipped() -> None:
    fake = PairedServers()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rasa_urls=f"{A},{B}",
        action_server_urls="http://actions-a.test:5055,http://actions-b.test:5055",
        redis_url="redis://127.0.0.1:6379/0",
    )
    transport = httpx.MockTransport(fake.handler)
    rasa = RasaClient(settings, client=httpx.AsyncClient(transport=transport))
    conversation = next(f"web:{n}" for n in range(100) if server_order([A, B], f"web:{n}")[0] == A)
    fake.actions_down.add("actions-a.test")
    replies = await rasa.send(conversation_id=conversation, text="xin chào")
    assert replies[0].text == f"từ {B}"
    assert fake.turns == [(B, conversation)]  # Rasa A never ran the turn without its actions
    await rasa.aclose()


def test_paired_action_servers_match_the_rasa_servers() -> None:
    with pytest.raises(ValueError, match="one action server per RASA_URLS"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            rasa_urls=f"{A},{B}",
            action_server_urls="http://actions-a.test:5055",
            redis_url="redis://127.0.0.1:6379/0",
        )
