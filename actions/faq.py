"""Answers from the editable content (FAQ topics, known rumours, answered rumour questions)."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.common import latest_intent, utter_answer
from bot.content.service import faq_answer, find_rumor
from bot.db.session import session_scope
from bot.rumours.chat import followup_question
from bot.rumours.lookup import rumour_answer
from bot.rumours.service import NOTIFIABLE_CHANNELS, record_question

logger = logging.getLogger(__name__)


class ActionAnswerFaq(Action):
    """Answers the FAQ topic named after the resident's intent."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        utter_answer(dispatcher, faq_answer(latest_intent(tracker)))
        return []


class ActionCheckRumor(Action):
    """Rebuts a known rumour the resident mentions (rumors.yml, or one admins answered in the
    rumour inbox); else says how to check news, keeps the question for admins (scrubbed) and
    offers to tell the resident the answer later."""

    def name(self) -> str:
        return "action_check_rumor"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = str(tracker.latest_message.get("text") or "")
        known = find_rumor(text)  # the content files first: they answer without the database
        if known is not None:
            utter_answer(dispatcher, known)
            return []
        channel = tracker.sender_id.split(":", 1)[0] if tracker.sender_id else ""
        token = None
        try:
            with session_scope() as session:
                known = rumour_answer(session=session, text=text)
                if known is None and not text.startswith("/"):  # a button is not a rumour
                    question = record_question(session=session, text=text, channel=channel)
                    token = question.token if question is not None else None
        except SQLAlchemyError as exc:  # the general advice still helps; nothing is promised
            logger.error("rumour inbox unavailable: %s", type(exc).__name__)
            token = None  # not saved: no button to a question that is not there
        if known is not None:
            utter_answer(dispatcher, known)
            return []
        utter_answer(dispatcher, faq_answer("ask_rumor"))
        if token is not None and channel in NOTIFIABLE_CHANNELS:
            reply = followup_question(token)
            dispatcher.utter_message(
                text=reply.text,
                buttons=[{"title": b.title, "payload": b.payload} for b in reply.buttons],
            )
        return []
