"""The conversation pipeline's own checks, before and around the call to Rasa."""

from __future__ import annotations

import pytest

from bot.conversations.messages import InboundMessage
from bot.conversations.pipeline import ConversationPipeline
from bot.conversations.rasa_client import RasaClient, _merge_replies
from bot.residents.service import InvalidConversationId
from bot.settings import Settings
from tests.e2e.conftest import free_port


@pytest.fixture
async def pipeline(redis) -> ConversationPipeline:  # type: ignore[no-untyped-def]
    settings = Settings(rasa_url=f"http://127.0.0.1:{free_port()}", max_message_chars=2000)
    rasa = RasaClient(settings)
    yield ConversationPipeline(settings=settings, rasa=rasa, redis=redis)
    await rasa.aclose()


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\x00\x07"])
async def test_empty_text_is_asked_again_without_calling_rasa(pipeline, text) -> None:
    replies = await pipeline.handle(InboundMessage("web:abcdefghijklmnopqrstuv", text))
    assert "chưa nhập nội dung" in replies[0].text


async def test_too_long_text_is_refused_politely(pipeline) -> None:
    replies = await pipeline.handle(InboundMessage("telegram:42", "x" * 10_000))
    assert "dài quá" in replies[0].text
    assert "2.000" in replies[0].text


async def test_attachment_without_text_gets_the_text_only_answer(pipeline) -> None:
    replies = await pipeline.handle(InboundMessage("zalo:123", "", attachments=["sticker"]))
    assert "chỉ đọc được tin nhắn chữ" in replies[0].text


async def test_rasa_down_tells_the_resident_and_lets_the_retry_through(pipeline, redis) -> None:
    message = InboundMessage("telegram:42", "chào", platform_message_id="m-1")
    first = await pipeline.handle(message)
    assert "hệ thống đang bận" in first[0].text
    assert "115" in first[0].text
    assert await redis.get("turn:telegram:42:m-1") is None  # not remembered as answered


async def test_a_repeated_message_id_returns_the_first_replies(pipeline, redis) -> None:
    await redis.set("turn:telegram:42:m-2", '[{"text": "Xin chào!", "buttons": []}]')
    replies = await pipeline.handle(
        InboundMessage("telegram:42", "chào", platform_message_id="m-2")
    )
    assert [r.text for r in replies] == ["Xin chào!"]


@pytest.mark.parametrize("cid", ["", "sms:1", "telegram:", "web:../../x", "zalo:1 2"])
async def test_forged_conversation_ids_are_refused(pipeline, cid) -> None:
    with pytest.raises(InvalidConversationId):
        await pipeline.handle(InboundMessage(cid, "chào"))


def test_rasa_buttons_sent_alone_join_the_text_before_them() -> None:
    replies = _merge_replies(
        [
            {"recipient_id": "x", "text": "Bạn chọn:"},
            {"recipient_id": "x", "buttons": [{"title": "Có", "payload": "/affirm"}]},
            {"recipient_id": "x", "image": "http://example/x.png"},
        ]
    )
    assert len(replies) == 1
    assert replies[0].text == "Bạn chọn:"
    assert replies[0].buttons[0].payload == "/affirm"
