"""Buttons on Zalo as numbered choices.

Zalo's consultation messages (v3 `message/cs`) carry text; the button templates of the old
v2 API are not available to every OA, so a reply's buttons are written as "1. …", "2. …"
under its text. The payloads are kept in Redis for an hour; when the resident answers with
the number, the webhook replaces it with the payload, so Rasa sees the same input as a
button press on Telegram or the web chat.
"""

from __future__ import annotations

import json
import re

import redis.asyncio as aioredis

from bot.conversations.messages import OutboundReply

CHOICES_TTL_SECONDS = 3600
_NUMBER = re.compile(r"^\s*([1-9])\s*\.?\s*$")


def with_choices(reply: OutboundReply) -> str:
    """The reply's text followed by its buttons as a numbered list."""
    if not reply.buttons:
        return reply.text
    lines = [f"{i}. {b.title}" for i, b in enumerate(reply.buttons[:9], start=1)]
    return f"{reply.text}\n\n" + "\n".join(lines) + "\n(Bạn trả lời bằng số, ví dụ: 1)"


async def remember_choices(
    redis: aioredis.Redis[str], conversation_id: str, reply: OutboundReply, *, turn: str = ""
) -> None:
    """Keeps a reply's button payloads; a later reply of another turn without buttons drops
    them, so a "2" typed to a question (how many people?) is not read as an old choice."""
    key = f"zalo:choices:{conversation_id}"
    if reply.buttons:
        payloads = [b.payload for b in reply.buttons[:9]]
        value = json.dumps({"turn": turn, "payloads": payloads})
        await redis.set(key, value, ex=CHOICES_TTL_SECONDS)
        return
    raw = await redis.get(key)
    if raw and json.loads(raw).get("turn") != turn:
        await redis.delete(key)


async def resolve_choice(redis: aioredis.Redis[str], conversation_id: str, text: str) -> str | None:
    """The payload a numeric answer stands for, or None."""
    match = _NUMBER.match(text)
    if not match:
        return None
    raw = await redis.get(f"zalo:choices:{conversation_id}")
    if not raw:
        return None
    payloads = json.loads(raw)["payloads"]
    index = int(match.group(1)) - 1
    return str(payloads[index]) if index < len(payloads) else None
