"""Helpers every action uses: the database session, sending content answers."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.content.service import Answer


def utter_answer(dispatcher: CollectingDispatcher, answer: Answer) -> None:
    """Sends a rendered content answer, with its buttons when it has any."""
    buttons = [{"title": b.title, "payload": b.payload} for b in answer.buttons]
    dispatcher.utter_message(text=answer.text, buttons=buttons or None)


def sorry_not_saved(dispatcher: CollectingDispatcher) -> None:
    """Tells the resident something could not be recorded, so they can try again."""
    dispatcher.utter_message(
        text="Xin lỗi, hệ thống đang gặp sự cố nên chưa ghi nhận được. Bạn vui lòng thử lại sau ít phút."
    )


def latest_intent(tracker: Tracker) -> str:
    """Returns the intent of the resident's latest message ("" when there is none)."""
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")
