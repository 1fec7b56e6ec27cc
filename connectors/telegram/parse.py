"""Turns a Telegram update into a queue job (or nothing, for updates we do not handle).

Private chats only: a resident's personal data is never asked or read in a group, where the
bot answers with a pointer to a private chat instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from bot.conversations.messages import InboundMessage, Location, OutboundReply
from bot.delivery.queue import Job
from connectors.telegram.shapes import ShapeError, read_update

CHANNEL = "telegram"
# Inline-button payloads longer than Telegram's 64-byte callback_data travel as "p:<digest>".
LONG_PAYLOAD_PREFIX = "p:"
_ATTACHMENT_KINDS = ("photo", "sticker", "document", "voice", "video", "audio", "animation")


class MalformedUpdate(ValueError):
    """The body is JSON but not a Telegram update."""


@dataclass(frozen=True)
class ParsedUpdate:
    update_id: int
    job: Job | None  # None: nothing to do (an update kind we ignore)
    long_payload_digest: str | None = None  # to resolve before queueing


def payload_digest(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def group_pointer_reply(bot_username: str) -> OutboundReply:
    link = f" https://t.me/{bot_username}" if bot_username else ""
    return OutboundReply(
        "Để bảo vệ thông tin cá nhân của bạn, tôi chỉ hỗ trợ qua tin nhắn riêng. "
        f"Bạn vui lòng nhắn riêng cho tôi nhé:{link}".rstrip(":")
    )


def parse_update(data: Any, *, bot_username: str = "") -> ParsedUpdate:
    """Parses an update's JSON; raises MalformedUpdate when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise MalformedUpdate("update_id missing or not an integer")
    # Read from the checked shapes, not python-telegram-bot's Update.de_json: that builds an
    # object for every field of the update and was most of a webhook's acknowledgement time.
    try:
        update = read_update(data)
    except ShapeError as exc:
        raise MalformedUpdate(str(exc)) from None
    update_id = update.update_id

    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or not isinstance(query.data, str):
            return ParsedUpdate(update_id, None)
        chat = message.chat
        conversation_id = f"{CHANNEL}:{chat.id}"
        context: dict[str, Any] = {"callback_query_id": query.id, "chat_id": chat.id}
        digest = None
        text = query.data
        if text.startswith(LONG_PAYLOAD_PREFIX):
            digest = text[len(LONG_PAYLOAD_PREFIX) :]
        if chat.type != "private":
            return ParsedUpdate(update_id, _pointer_job(conversation_id, context, bot_username))
        inbound = InboundMessage(
            conversation_id=conversation_id, text=text, platform_message_id=str(update_id)
        )
        return ParsedUpdate(
            update_id, Job("turn", CHANNEL, conversation_id, inbound, [], context), digest
        )

    if update.my_chat_member is not None:
        member = update.my_chat_member
        if member.chat.type == "private" and member.new_chat_member.status == "kicked":
            conversation_id = f"{CHANNEL}:{member.chat.id}"  # the resident blocked the bot
            return ParsedUpdate(update_id, Job("unreachable", CHANNEL, conversation_id))
        return ParsedUpdate(update_id, None)

    message = update.message
    if message is None:
        return ParsedUpdate(update_id, None)  # edits, channel posts, polls…: not for us
    chat = message.chat
    conversation_id = f"{CHANNEL}:{chat.id}"
    context = {"chat_id": chat.id}
    if chat.type != "private":
        if not _addressed_to_bot(message.text or "", bot_username):
            return ParsedUpdate(update_id, None)
        return ParsedUpdate(update_id, _pointer_job(conversation_id, context, bot_username))

    text = message.text or message.caption or ""
    location = None
    if message.location is not None:
        location = Location(message.location.latitude, message.location.longitude)
    contact_phone = None
    if message.contact is not None:
        # Only the resident's own number (shared with the request_contact button) is taken.
        sender = message.sender
        if sender is not None and message.contact.user_id == sender.id:
            contact_phone = message.contact.phone_number
    attachments = [kind for kind in _ATTACHMENT_KINDS if getattr(message, kind, None)]
    if message.contact is not None and contact_phone is None:
        attachments.append("contact")
    inbound = InboundMessage(
        conversation_id=conversation_id,
        text=text,
        platform_message_id=str(update_id),
        attachments=attachments,
        location=location,
        contact_phone=contact_phone,
    )
    return ParsedUpdate(update_id, Job("turn", CHANNEL, conversation_id, inbound, [], context))


def _addressed_to_bot(text: str, bot_username: str) -> bool:
    text = text.strip()
    return text.startswith("/") or bool(bot_username and f"@{bot_username}" in text)


def _pointer_job(conversation_id: str, context: dict[str, Any], bot_username: str) -> Job:
    return Job(
        "replies", CHANNEL, conversation_id, None, [group_pointer_reply(bot_username)], context
    )
