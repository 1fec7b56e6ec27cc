"""The subscribe / unsubscribe commands, answered before Rasa (no retraining), with the
pending question ("đồng ý?", "phường/xã nào?") kept in Redis for a few minutes."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable

from redis import asyncio as aioredis

from bot.consents.service import CONSENT_TEXTS, record_consent
from bot.conversations.messages import OutboundReply, ReplyButton
from bot.db.session import session_scope
from bot.places.wards import get_ward, province_name, resolve_ward, ward_index
from bot.subscriptions.service import latest_request_area, subscribe, unsubscribe
from hotline_nlu.normalize import clean, strip_diacritics

STATE_KEY = "subscribe:{conversation_id}"
STATE_TTL_SECONDS = 600

_SUBSCRIBE = {
    "dang ky nhan tin",
    "dang ki nhan tin",
    "dk nhan tin",
    "dki nhan tin",
    "dky nhan tin",
    "dang ky nhan thong bao",
}
_UNSUBSCRIBE = {
    "huy dang ky",
    "huy dang ki",
    "huy dk",
    "huy dki",
    "huy nhan tin",
    "dung nhan tin",
    "dung",
    "stop",
    "/stop",
}
_BARE_STOP = {"dung", "stop"}
_YES = {"dong y", "co", "ok", "oke", "yes", "dy", "uh", "u", "dong y nhan tin"}
_NO = {"khong", "ko", "k", "kg", "no", "khong dong y", "thoi"}
_PUNCT = re.compile(r"[^\w/ ]+")


def _key(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", strip_diacritics(clean(text))).split())


def _consent_reply() -> OutboundReply:
    return OutboundReply(
        CONSENT_TEXTS["advisories"],
        buttons=[ReplyButton("Đồng ý", "Đồng ý"), ReplyButton("Không", "Không")],
    )


AREA_QUESTION = (
    "Bạn muốn nhận tin của phường/xã nào, tỉnh/thành nào? "
    "Ví dụ: phường Bến Thành, TP Hồ Chí Minh (hoặc chỉ tên tỉnh/thành)."
)
UNSUBSCRIBED = (
    'Đã hủy đăng ký: tổng đài sẽ không gửi tin cho bạn nữa (nhắn "đăng ký nhận tin" để nhận lại).'
)
NOT_SUBSCRIBED = 'Bạn chưa đăng ký nhận tin nào. Nhắn "đăng ký nhận tin" nếu muốn nhận.'
REFUSED = "Dạ, tôi không đăng ký và không lưu gì cho việc này. Khi cần, bạn cứ nhắn lại nhé."


def _subscribed_reply(province_code: str, ward_code: str | None) -> OutboundReply:
    ward = get_ward(ward_code) if ward_code else None
    area = f"{ward.name}, {ward.province_name}" if ward else (province_name(province_code) or "")
    return OutboundReply(
        f'Đã đăng ký nhận tin cho {area}. Nhắn "hủy đăng ký" để dừng bất cứ lúc nào.'
    )


def _unsubscribe(conversation_id: str) -> bool:
    with session_scope() as session:
        return unsubscribe(session=session, conversation_id=conversation_id)


def _grant(conversation_id: str) -> tuple[str, str] | None:
    """Records the consent; subscribes at once when a request of theirs gives the area."""
    with session_scope() as session:
        record_consent(
            session=session, conversation_id=conversation_id, purpose="advisories", granted=True
        )
        area = latest_request_area(session=session, conversation_id=conversation_id)
        if area is not None:
            subscribe(
                session=session,
                conversation_id=conversation_id,
                province_code=area[0],
                ward_code=area[1],
            )
        return area


def _refuse(conversation_id: str) -> None:
    with session_scope() as session:
        record_consent(
            session=session, conversation_id=conversation_id, purpose="advisories", granted=False
        )


def _subscribe_area(conversation_id: str, province_code: str, ward_code: str | None) -> None:
    with session_scope() as session:
        subscribe(
            session=session,
            conversation_id=conversation_id,
            province_code=province_code,
            ward_code=ward_code,
        )


async def subscription_turn(
    *,
    redis: aioredis.Redis[str],
    conversation_id: str,
    text: str,
    active_form: Callable[[], Awaitable[str | None]] | None = None,
) -> list[OutboundReply] | None:
    """Answers a subscription command or a pending subscription question; None otherwise.
    A bare "dừng" / "stop" in the middle of a form stops the form (Rasa's), not the tin."""
    key = _key(text)
    state_key = STATE_KEY.format(conversation_id=conversation_id)
    if key in _BARE_STOP and active_form is not None and await active_form():
        return None
    if key in _UNSUBSCRIBE:
        await redis.delete(state_key)
        was = await asyncio.to_thread(_unsubscribe, conversation_id)
        return [OutboundReply(UNSUBSCRIBED if was else NOT_SUBSCRIBED)]
    if key in _SUBSCRIBE:
        await redis.set(state_key, json.dumps({"step": "consent"}), ex=STATE_TTL_SECONDS)
        return [_consent_reply()]
    raw = await redis.get(state_key)
    if not raw:
        return None
    state = json.loads(raw)
    if state.get("step") == "consent":
        if key in _YES:
            area = await asyncio.to_thread(_grant, conversation_id)
            if area is not None:
                await redis.delete(state_key)
                return [_subscribed_reply(*area)]
            await redis.set(state_key, json.dumps({"step": "area"}), ex=STATE_TTL_SECONDS)
            return [OutboundReply(AREA_QUESTION)]
        await redis.delete(state_key)
        if key in _NO:
            await asyncio.to_thread(_refuse, conversation_id)
            return [OutboundReply(REFUSED)]
        return None  # something else: the dialogue answers it
    tries = int(state.get("tries", 0))
    match = resolve_ward(text)
    if match.found and match.ward is not None:
        await redis.delete(state_key)
        await asyncio.to_thread(
            _subscribe_area, conversation_id, match.ward.province_code, match.ward.code
        )
        return [_subscribed_reply(match.ward.province_code, match.ward.code)]
    province = ward_index().find_province(text)
    if province is not None and match.status.value != "ambiguous":
        await redis.delete(state_key)
        await asyncio.to_thread(_subscribe_area, conversation_id, province, None)
        return [_subscribed_reply(province, None)]
    if tries >= 1:
        await redis.delete(state_key)
        return [
            OutboundReply(
                'Tôi chưa tìm được nơi này. Khi cần, bạn nhắn lại "đăng ký nhận tin" nhé.'
            )
        ]
    await redis.set(
        state_key, json.dumps({"step": "area", "tries": tries + 1}), ex=STATE_TTL_SECONDS
    )
    return [
        OutboundReply(
            "Tôi chưa rõ nơi này. Bạn gõ tên phường/xã kèm tỉnh/thành giúp tôi, "
            "ví dụ: xã Tân Hiệp, Đồng Nai."
        )
    ]
