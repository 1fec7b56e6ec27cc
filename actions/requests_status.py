"""A resident checks the status of their own requests, by reference code or all of them."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from bot.db.session import session_scope
from bot.requests.codes import parse_ref
from bot.requests.service import RequestView, find_own_request, list_own_requests

logger = logging.getLogger(__name__)

KIND_LABELS = {"aid_request": "Đề nghị hỗ trợ", "health_declaration": "Tờ khai y tế"}


def describe(view: RequestView) -> str:
    line = f"{KIND_LABELS[view.kind]} {view.ref} ({view.created_at:%d/%m/%Y}): {view.status}"
    return f"{line}, {view.team_name}" if view.team_name else line


class ActionCheckRequestStatus(Action):
    def name(self) -> str:
        return "action_check_request_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        typed = tracker.get_slot("ref_code") or tracker.latest_message.get("text") or ""
        code = parse_ref(str(typed))
        try:
            with session_scope() as session:
                if code:
                    view = find_own_request(
                        session=session, conversation_id=tracker.sender_id, ref_code=code
                    )
                    views = [view] if view else []
                else:
                    views = list_own_requests(session=session, conversation_id=tracker.sender_id)
        except SQLAlchemyError as exc:
            logger.error("could not read request status: %s", type(exc).__name__)
            dispatcher.utter_message(
                text="Xin lỗi, hệ thống đang gặp sự cố nên chưa tra cứu được. Bạn thử lại sau "
                "ít phút nhé."
            )
            return [SlotSet("ref_code", None)]
        if code and not views:
            # The same answer whether the code does not exist or is someone else's.
            dispatcher.utter_message(
                text="Tôi không tìm thấy yêu cầu nào của bạn với mã này. Bạn kiểm tra lại mã "
                "(dạng XXXX-XXXX) giúp tôi nhé."
            )
        elif not views:
            dispatcher.utter_message(
                text="Bạn chưa gửi yêu cầu hay tờ khai nào qua kênh này.",
                buttons=[
                    {"title": "Xin hỗ trợ khó khăn", "payload": "/request_aid"},
                    {"title": "Khai báo y tế", "payload": "/health_declaration"},
                ],
            )
        else:
            dispatcher.utter_message(
                text="Tình trạng yêu cầu của bạn:\n" + "\n".join(f"• {describe(v)}" for v in views)
            )
        return [SlotSet("ref_code", None)]
