"""A resident sees and deletes the personal data the hotline keeps about them."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.common import sorry_not_saved
from bot.conversations.rasa_client import COMMAND_KEY
from bot.db.session import session_scope
from bot.privacy.runtime import ERASE_COMMAND
from bot.privacy.service import describe_personal_data
from hotline_nlu import EARLIER_MESSAGES

logger = logging.getLogger(__name__)


def rasa_messages(tracker: Tracker) -> int:
    """How many of the resident's messages of this session Rasa's tracker store holds (a
    long session reaches us shortened: its first event says how many it left out)."""
    count = 0
    for event in tracker.events:
        if event.get("event") == "user":
            count += 1
        elif event.get("event") == "session_started":
            count = int((event.get("metadata") or {}).get(EARLIER_MESSAGES, 0))
    return count


class ActionViewMyData(Action):
    def name(self) -> str:
        return "action_view_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        messages = rasa_messages(tracker)
        try:
            with session_scope() as session:
                lines = describe_personal_data(
                    session=session, conversation_id=tracker.sender_id, messages=messages
                )
        except SQLAlchemyError:
            logger.exception("could not read personal data")
            sorry_not_saved(dispatcher)
            return []
        if not lines:
            dispatcher.utter_message(text="Tổng đài hiện không lưu thông tin cá nhân nào của bạn.")
            return []
        dispatcher.utter_message(
            text="Tổng đài đang lưu các thông tin sau của bạn:\n• "
            + "\n• ".join(lines)
            + '\nBạn có thể yêu cầu xóa bất cứ lúc nào bằng cách nhắn "xóa thông tin của tôi".'
        )
        return []


class ActionAskDeleteMyData(Action):
    def name(self) -> str:
        return "action_ask_delete_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(
            text="Bạn có chắc muốn xóa toàn bộ thông tin cá nhân của bạn tại tổng đài không? "
            "Các yêu cầu hỗ trợ đang chờ xử lý cũng sẽ bị hủy.",
            buttons=[
                {"title": "Đồng ý xóa", "payload": "/affirm"},
                {"title": "Không xóa", "payload": "/deny"},
            ],
        )
        return [SlotSet("confirming", "delete_data")]


class ActionDeleteMyData(Action):
    """Asks the web app to erase the conversation once this turn is over: Rasa saves the
    tracker at the end of the turn, so erasing it from inside the turn would be undone. The
    web app then says what it erased."""

    def name(self) -> str:
        return "action_delete_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(json_message={COMMAND_KEY: ERASE_COMMAND})
        return [SlotSet("confirming", None)]


class ActionResetConfirming(Action):
    def name(self) -> str:
        return "action_reset_confirming"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return [SlotSet("confirming", None)]
