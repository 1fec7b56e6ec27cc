"""Turns a Zalo OA webhook event into a queue job (or nothing, for events we do not handle)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.conversations.messages import InboundMessage, Location, OutboundReply
from bot.delivery.queue import Job

CHANNEL = "zalo"
_ID = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")
_ATTACHMENT_EVENTS = {
    "user_send_image": "image",
    "user_send_sticker": "sticker",
    "user_send_gif": "gif",
    "user_send_file": "file",
    "user_send_audio": "audio",
    "user_send_video": "video",
    "user_send_link": "link",
    "user_send_business_card": "business_card",
}


class MalformedEvent(ValueError):
    """The body is JSON but not a Zalo OA event we can read."""


@dataclass(frozen=True)
class ParsedEvent:
    event_id: str  # for dedupe: the msg_id, or event + user + timestamp
    job: Job | None


def welcome_reply() -> OutboundReply:
    return OutboundReply(
        "Cảm ơn bạn đã quan tâm Tổng đài hỗ trợ người dân. Bạn cần hỗ trợ gì, "
        "hãy nhắn cho tôi nhé. Nếu nguy hiểm đến tính mạng, hãy gọi ngay 115."
    )


def _user_id(value: Any) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str | int):
        raise MalformedEvent("user id missing")
    user_id = str(value["id"])
    if not _ID.match(user_id):
        raise MalformedEvent("user id malformed")
    return user_id


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedEvent("coordinate is not a number")
    try:
        return float(value)
    except ValueError as exc:
        raise MalformedEvent("coordinate is not a number") from exc


def event_timestamp(data: Any) -> str:
    """The event's `timestamp` as Zalo sent it (a string of milliseconds in their samples)."""
    if not isinstance(data, dict) or not isinstance(data.get("timestamp"), str | int):
        raise MalformedEvent("timestamp missing")
    return str(data["timestamp"])


def parse_event(data: Any) -> ParsedEvent:
    """Parses an event's JSON; raises MalformedEvent when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("event_name"), str):
        raise MalformedEvent("event_name missing")
    name = data["event_name"]
    timestamp = event_timestamp(data)

    if name in ("follow", "unfollow"):
        user_id = _user_id(data.get("follower"))
        conversation_id = f"{CHANNEL}:{user_id}"
        event_id = f"{name}:{user_id}:{timestamp}"
        if name == "unfollow":
            return ParsedEvent(event_id, Job("unreachable", CHANNEL, conversation_id))
        return ParsedEvent(
            event_id,
            Job("replies", CHANNEL, conversation_id, None, [welcome_reply()], {"follow": True}),
        )

    if name == "user_submit_info":
        user_id = _user_id(data.get("sender"))
        info = data.get("info")
        if not isinstance(info, dict):
            raise MalformedEvent("info missing")
        phone = info.get("phone")
        address = info.get("address")
        message = InboundMessage(
            conversation_id=f"{CHANNEL}:{user_id}",
            text="",
            platform_message_id=f"info{timestamp}",
            contact_phone=str(phone) if isinstance(phone, str | int) and phone else None,
            metadata={"address": address} if isinstance(address, str) and address else {},
        )
        return ParsedEvent(
            f"{name}:{user_id}:{timestamp}",
            Job("turn", CHANNEL, message.conversation_id, message),
        )

    if not name.startswith("user_send_"):
        return ParsedEvent(f"{name}:{timestamp}", None)  # OA-side events, reactions, seen…

    user_id = _user_id(data.get("sender"))
    body = data.get("message")
    if not isinstance(body, dict) or not isinstance(body.get("msg_id"), str):
        raise MalformedEvent("message.msg_id missing")
    msg_id = body["msg_id"]
    conversation_id = f"{CHANNEL}:{user_id}"
    text = ""
    location = None
    attachments: list[str] = []
    if name == "user_send_text":
        if not isinstance(body.get("text"), str):
            raise MalformedEvent("message.text missing")
        text = body["text"]
    elif name == "user_send_location":
        location = _location(body)
    else:
        attachments = [_ATTACHMENT_EVENTS.get(name, name.removeprefix("user_send_"))]
    message = InboundMessage(
        conversation_id=conversation_id,
        text=text,
        platform_message_id=msg_id,
        attachments=attachments,
        location=location,
    )
    return ParsedEvent(
        msg_id, Job("turn", CHANNEL, conversation_id, message, [], {"msg_id": msg_id})
    )


def _location(body: dict[str, Any]) -> Location:
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        raise MalformedEvent("location attachment missing")
    first = attachments[0]
    payload = first.get("payload") if isinstance(first, dict) else None
    coordinates = payload.get("coordinates") if isinstance(payload, dict) else None
    if not isinstance(coordinates, dict):
        raise MalformedEvent("coordinates missing")
    # Zalo's samples say latitude/longitude; some relays write lat/long.
    lat = coordinates.get("latitude", coordinates.get("lat"))
    lon = coordinates.get("longitude", coordinates.get("long"))
    latitude, longitude = _float(lat), _float(lon)
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise MalformedEvent("coordinates out of range")
    return Location(latitude, longitude)
