"""Subscribing and unsubscribing by chat, before Rasa, in the three writing styles."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.channels.incidents import set_reachable
from bot.consents.models import Consent
from bot.conversations.messages import InboundMessage
from bot.conversations.pipeline import ConversationPipeline
from bot.privacy.registry import table
from bot.requests.models import AidRequest
from bot.residents.service import get_or_create_resident
from bot.subscriptions.models import Subscription
from tests.safety.test_pipeline_emergency import FakeRasa

CID = "telegram:5151"


def subscription(session: Session, cid: str = CID) -> Subscription | None:
    session.expire_all()
    return session.scalar(select(Subscription).where(Subscription.conversation_id == cid))


async def say(pipeline: ConversationPipeline, text: str, cid: str = CID) -> list[str]:
    return [r.text for r in await pipeline.handle(InboundMessage(cid, text))]


@pytest.mark.parametrize("command", ["đăng ký nhận tin", "dang ky nhan tin", "dk nhan tin"])
async def test_subscribing_asks_consent_then_the_area_without_rasa(
    pipeline: ConversationPipeline, fake_rasa: FakeRasa, session: Session, command: str
) -> None:
    replies = await pipeline.handle(InboundMessage(CID, command))
    assert "Bạn có đồng ý không?" in replies[0].text
    assert [b.title for b in replies[0].buttons] == ["Đồng ý", "Không"]
    assert "phường/xã nào" in (await say(pipeline, "Đồng ý"))[0]
    answer = await say(pipeline, "phuong Ben Thanh, tp HCM")
    assert answer[0].startswith("Đã đăng ký nhận tin cho Phường Bến Thành")
    sub = subscription(session)
    assert sub is not None
    assert sub.active
    assert sub.ward_code is not None
    assert sub.province_code == "79"
    consent = session.scalars(select(Consent).where(Consent.purpose == "advisories")).one()
    assert consent.granted
    assert fake_rasa.turns == []


async def test_the_area_of_the_latest_request_is_used(
    pipeline: ConversationPipeline, session: Session
) -> None:
    resident = get_or_create_resident(session=session, conversation_id=CID)
    session.add(
        AidRequest(
            resident_id=resident.id,
            ref_code="HT-T01",
            needs=["food"],
            description="-",
            household_size=1,
            days_without_food=None,
            ward_code="26734",
            province_code="79",
            address_detail="-",
            phone="+84912345678",
            priority=3,
        )
    )
    session.flush()
    await say(pipeline, "đăng ký nhận tin")
    assert (await say(pipeline, "ok"))[0].startswith("Đã đăng ký nhận tin cho")
    sub = subscription(session)
    assert sub is not None
    assert sub.ward_code == "26734"


async def test_a_province_alone_subscribes_to_the_province(
    pipeline: ConversationPipeline, session: Session
) -> None:
    await say(pipeline, "dk nhan tin")
    await say(pipeline, "dong y")
    assert (await say(pipeline, "Đà Nẵng"))[0] == (
        'Đã đăng ký nhận tin cho Thành phố Đà Nẵng. Nhắn "hủy đăng ký" để dừng bất cứ lúc nào.'
    )
    sub = subscription(session)
    assert sub is not None
    assert sub.ward_code is None
    assert sub.province_code == "48"


async def test_refusing_keeps_nothing(pipeline: ConversationPipeline, session: Session) -> None:
    await say(pipeline, "đăng ký nhận tin")
    assert "không lưu gì" in (await say(pipeline, "ko"))[0]
    assert subscription(session) is None
    assert session.scalars(select(Consent)).all() == []


async def test_an_unknown_place_is_asked_again_once(
    pipeline: ConversationPipeline, session: Session
) -> None:
    await say(pipeline, "đăng ký nhận tin")
    await say(pipeline, "Đồng ý")
    assert "chưa rõ nơi này" in (await say(pipeline, "xyzzy"))[0]
    assert "chưa tìm được" in (await say(pipeline, "qwerty"))[0]
    assert subscription(session) is None


@pytest.mark.parametrize(
    "command", ["hủy đăng ký", "huy dang ky", "huy dk", "dừng", "STOP", "/stop"]
)
async def test_unsubscribing_in_every_style(
    pipeline: ConversationPipeline, fake_rasa: FakeRasa, session: Session, command: str
) -> None:
    await say(pipeline, "đăng ký nhận tin")
    await say(pipeline, "Đồng ý")
    await say(pipeline, "Đà Nẵng")
    assert (await say(pipeline, command))[0].startswith("Đã hủy đăng ký")
    sub = subscription(session)
    assert sub is not None
    assert not sub.active
    assert sub.end_reason == "resident"
    assert (await say(pipeline, command))[0].startswith("Bạn chưa đăng ký")
    assert fake_rasa.turns == []
    actions = session.scalars(select(AuditEvent.action)).all()
    assert "subscription.started" in actions
    assert "subscription.ended" in actions


async def test_other_messages_still_go_to_rasa(
    pipeline: ConversationPipeline, fake_rasa: FakeRasa
) -> None:
    await say(pipeline, "đăng ký nhận tin")
    assert await say(pipeline, "giá xăng hôm nay") == ["Rasa trả lời."]
    assert fake_rasa.turns == ["giá xăng hôm nay"]


async def test_a_bare_stop_in_the_middle_of_a_form_goes_to_the_form(
    pipeline: ConversationPipeline, fake_rasa: FakeRasa, session: Session
) -> None:
    await say(pipeline, "đăng ký nhận tin")
    await say(pipeline, "Đồng ý")
    await say(pipeline, "Đà Nẵng")
    fake_rasa.active_loop = "aid_request_form"
    assert await say(pipeline, "dừng") == ["Rasa trả lời."]
    sub = subscription(session)
    assert sub is not None
    assert sub.active
    assert (await say(pipeline, "hủy đăng ký"))[0].startswith("Đã hủy đăng ký")


async def test_a_block_or_unfollow_ends_the_subscription(
    pipeline: ConversationPipeline, session: Session
) -> None:
    await say(pipeline, "đăng ký nhận tin")
    await say(pipeline, "Đồng ý")
    await say(pipeline, "Đà Nẵng")
    set_reachable(session=session, conversation_id=CID, reachable=False)
    sub = subscription(session)
    assert sub is not None
    assert not sub.active
    assert sub.end_reason == "unreachable"


def test_subscriptions_are_in_the_privacy_registry() -> None:
    assert table("subscriptions").owner == "conversation_id"
    assert table("advisory_deliveries").owner == "conversation_id"


async def test_the_greetings_subscribe_button_reaches_the_subscription(
    pipeline: ConversationPipeline, fake_rasa: FakeRasa
) -> None:
    """The greeting's button sends its payload as the message: the command, not an intent."""
    import yaml

    from bot.settings import PROJECT_ROOT

    domain = yaml.safe_load((PROJECT_ROOT / "domain" / "core.yml").read_text(encoding="utf-8"))
    buttons = domain["responses"]["utter_greet"][0]["buttons"]
    [button] = [b for b in buttons if b["title"] == "Đăng ký nhận tin"]
    replies = await pipeline.handle(InboundMessage(CID, button["payload"]))
    assert [b.title for b in replies[0].buttons] == ["Đồng ý", "Không"]
    assert fake_rasa.turns == []
