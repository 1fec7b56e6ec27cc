"""The path of every resident message: checks, dedupe, Rasa, replies.

The web chat calls it directly; the Telegram and Zalo connectors call it from their queue
worker, so the channels differ only in how messages arrive and leave.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from bot.console.gate import BotTurn, ConsoleGate
from bot.conversations.messages import InboundMessage, Location, OutboundReply, ReplyButton
from bot.conversations.rasa_client import RasaClient, RasaUnavailable
from bot.handoff.emergency import answer_emergency, emergency_number
from bot.live import LiveBus
from bot.places.nearest import nearest_ward
from bot.privacy.runtime import ERASE_COMMAND, erase_conversation
from bot.privacy.service import erasure_failed_reply, erasure_reply
from bot.residents.service import check_conversation_id
from bot.rumours.chat import followup_turn
from bot.safety import detect_emergency
from bot.settings import Settings
from bot.subscriptions.chat import subscription_turn

logger = logging.getLogger(__name__)

DEDUPE_TTL_SECONDS = 24 * 3600
# Button payload of "that is not my ward" after a shared location; answered here, not by Rasa.
LOCATION_WRONG_PAYLOAD = "/location_wrong"
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def empty_message_reply() -> OutboundReply:
    return OutboundReply("Bạn chưa nhập nội dung. Bạn cần hỗ trợ gì, hãy nhắn cho tôi nhé.")


def too_long_reply(limit: int) -> OutboundReply:
    return OutboundReply(
        f"Tin nhắn của bạn dài quá. Bạn vui lòng viết ngắn gọn hơn (dưới {limit:,} ký tự)".replace(
            ",", "."
        )
        + " để tôi hiểu đúng nhé."
    )


def text_only_reply() -> OutboundReply:
    return OutboundReply(
        "Hiện tôi chỉ đọc được tin nhắn chữ. Bạn vui lòng gõ nội dung cần hỗ trợ nhé."
    )


def unavailable_reply() -> OutboundReply:
    return OutboundReply(
        "Xin lỗi, hệ thống đang bận nên chưa trả lời được. Bạn vui lòng nhắn lại sau ít phút. "
        f"Nếu nguy hiểm đến tính mạng, hãy gọi ngay {emergency_number()}."
    )


def location_replies(location: Location) -> list[OutboundReply]:
    """Suggests the ward nearest to a shared location and asks the resident to confirm it.

    Confirming sends "Tôi ở <ward>, <province>" as an ordinary message, so the NLU and the
    forms read the ward from text the same way as when the resident types it.
    """
    suggestion = nearest_ward(latitude=location.latitude, longitude=location.longitude)
    if suggestion is None:
        return [
            OutboundReply(
                "Tôi chưa xác định được phường/xã từ vị trí này. "
                "Bạn vui lòng gõ tên phường/xã và tỉnh/thành nơi bạn ở nhé."
            )
        ]
    return [
        OutboundReply(
            f"Vị trí bạn gửi gần {suggestion.label}. Bạn đang ở đây phải không?",
            buttons=[
                ReplyButton("Đúng", f"Tôi ở {suggestion.label}"),
                ReplyButton("Không phải", LOCATION_WRONG_PAYLOAD),
            ],
        )
    ]


def location_wrong_reply() -> OutboundReply:
    return OutboundReply("Bạn vui lòng gõ tên phường/xã và tỉnh/thành nơi bạn ở nhé.")


class ConversationPipeline:
    """Turns one inbound message into the bot's replies; safe to call twice for one message."""

    def __init__(
        self,
        *,
        settings: Settings,
        rasa: RasaClient,
        redis: aioredis.Redis[str],
        live: LiveBus | None = None,
    ) -> None:
        self._settings = settings
        self._rasa = rasa
        self._redis = redis
        # Who owns the conversation is asked before Rasa; every turn goes to the transcript.
        self.console = ConsoleGate(
            live=live or LiveBus(), redis=redis, content_dir=settings.content_dir
        )

    async def handle(self, message: InboundMessage) -> list[OutboundReply]:
        """Returns the replies to a message; a repeated platform message id gets the same ones."""
        check_conversation_id(message.conversation_id)
        dedupe_key = None
        if message.platform_message_id:
            dedupe_key = f"turn:{message.conversation_id}:{message.platform_message_id}"
            earlier = await self._claim_turn(dedupe_key)
            if earlier is not None:
                logger.info("duplicate message on %s", message.channel)
                return earlier
        try:
            replies = await self._run_commands(
                message.conversation_id, await self._replies(message)
            )
        except RasaUnavailable as exc:
            logger.warning("rasa unavailable: %s", exc)
            if dedupe_key:  # let the resident's retry go through
                await self._redis.delete(dedupe_key)
            return [unavailable_reply()]
        except BaseException:
            # Any other failure, or the worker stopping mid-turn (CancelledError): the turn
            # has no replies yet, so the retried job must run it rather than find the mark.
            if dedupe_key:
                await asyncio.shield(self._redis.delete(dedupe_key))
            raise
        if dedupe_key:
            await self._redis.set(
                dedupe_key, json.dumps([r.as_dict() for r in replies]), ex=DEDUPE_TTL_SECONDS
            )
        return replies

    async def _run_commands(
        self, conversation_id: str, replies: list[OutboundReply]
    ) -> list[OutboundReply]:
        """Carries out what the dialogue asked for after its turn (erasure needs the turn
        finished: Rasa saves its tracker at the end) and says what was done."""
        done = []
        for reply in replies:
            if reply.command != ERASE_COMMAND:
                if reply.command is None:
                    done.append(reply)
                continue
            try:
                erasure = await erase_conversation(
                    settings=self._settings,
                    redis=self._redis,
                    tracker_store=self._rasa,
                    conversation_id=conversation_id,
                    actor="resident",
                )
            except (SQLAlchemyError, RedisError) as exc:
                logger.error("erasure failed: %s", type(exc).__name__)
                done.append(OutboundReply(erasure_failed_reply()))
            else:
                done.append(OutboundReply(erasure_reply(erasure)))
        return done

    async def _claim_turn(self, dedupe_key: str) -> list[OutboundReply] | None:
        """Marks a turn as under way; returns the replies of an earlier run of it instead.

        The mark ("") expires after the longest a turn can take, so a process killed mid-turn
        (which cannot remove it) does not hide the turn from the job's retry for a day.
        """
        in_progress_ttl = int(self._settings.rasa_timeout_seconds) + 30
        while not await self._redis.set(dedupe_key, "", nx=True, ex=in_progress_ttl):
            earlier = await self._redis.get(dedupe_key)
            if earlier:  # finished: the same replies again
                return [OutboundReply.from_dict(r) for r in json.loads(earlier)]
            if earlier is not None:  # under way elsewhere: wait for its replies
                await asyncio.sleep(0.2)
        return None

    async def _replies(self, message: InboundMessage) -> list[OutboundReply]:
        text = _CONTROL_CHARS.sub("", message.contact_phone or message.text or "").strip()
        if not text and message.location is not None:
            return location_replies(message.location)
        if text == LOCATION_WRONG_PAYLOAD:
            return [location_wrong_reply()]
        if not text:
            return [text_only_reply() if message.attachments else empty_message_reply()]
        if len(text) > self._settings.max_message_chars:
            return [too_long_reply(self._settings.max_message_chars)]
        # Emergencies never depend on the classifier: rules first, 115 first, whoever owns
        # the conversation and in the middle of any form. The message and the answer go to
        # the transcript, and the hand-off puts the conversation in the staff queue.
        if (category := detect_emergency(text).category) is not None:
            await self.console.before_rasa(conversation_id=message.conversation_id, text=text)
            replies = await answer_emergency(
                settings=self._settings,
                conversation_id=message.conversation_id,
                category=category,
            )
            return await self.console.after_rasa(
                conversation_id=message.conversation_id, replies=replies
            )
        turn = await self.console.before_bot(conversation_id=message.conversation_id, text=text)
        if not isinstance(turn, BotTurn):  # in the queue or with staff: the bot stays quiet
            return turn
        # "đăng ký nhận tin", "hủy đăng ký", STOP: fixed commands, answered without Rasa.
        subscription = await subscription_turn(
            redis=self._redis,
            conversation_id=message.conversation_id,
            text=text,
            active_form=lambda: self._rasa.active_form(message.conversation_id),
        )
        if subscription is not None:
            return await self.console.after_rasa(
                conversation_id=message.conversation_id, replies=subscription, turn=turn
            )
        # "báo cho tôi khi có câu trả lời" after a rumour question: buttons, without Rasa.
        followup = await followup_turn(conversation_id=message.conversation_id, text=text)
        if followup is not None:
            return await self.console.after_rasa(
                conversation_id=message.conversation_id, replies=followup, turn=turn
            )
        try:
            replies = await self._rasa.send(
                conversation_id=message.conversation_id, text=text, metadata=message.metadata
            )
        except RasaUnavailable:
            # The resident's message is kept even when the bot cannot answer it.
            await self.console.after_rasa(
                conversation_id=message.conversation_id, replies=[], turn=turn
            )
            raise
        # One write for the turn: the resident's message and the bot's replies together.
        return await self.console.after_rasa(
            conversation_id=message.conversation_id, replies=replies, turn=turn
        )
