"""Answers from the editable content files (FAQ topics, known rumours)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_intent, utter_answer
from bot.content.service import faq_answer, find_rumor


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
    """Rebuts a known rumour the resident mentions, else says how to check news."""

    def name(self) -> str:
        return "action_check_rumor"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        utter_answer(dispatcher, find_rumor(text) or faq_answer("ask_rumor"))
        return []
