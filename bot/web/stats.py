"""The dashboard's part about messages (admins): the not-understood share per day and the most
asked topics, from bot/stats. Kept apart from the request figures: these counts have no area."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from bot.requests.workspace import RequestFilters
from bot.stats.service import IntentStats, intent_stats, may_see_intent_stats, percent
from bot.users.models import User


def stats_chart_data(stats: IntentStats) -> dict[str, Any]:
    """What intent_stats.js draws: the share per day (percent, null without messages), the
    counts behind it, and the topics."""
    return {
        "byDay": {
            "labels": [d.day.isoformat() for d in stats.by_day],
            "share": [
                round(d.share * 100, 1) if d.share is not None else None for d in stats.by_day
            ],
            "messages": [d.messages for d in stats.by_day],
            "notUnderstood": [d.not_understood for d in stats.by_day],
        },
        "topics": {
            "labels": [t.label for t in stats.topics],
            "values": [t.messages for t in stats.topics],
        },
    }


def dashboard_context(*, session: Session, user: User, filters: RequestFilters) -> dict[str, Any]:
    """Template context of the dashboard's message figures. None of them for a user who may
    not see them, or when an area is chosen (a message has no ward: the figures would not be
    the area's)."""
    if filters.created_from is None or filters.created_to is None:
        raise RuntimeError("the dashboard's date range is missing")
    shown = may_see_intent_stats(user)
    area = bool(filters.ward or filters.province)
    stats = (
        intent_stats(session=session, first=filters.created_from, last=filters.created_to)
        if shown and not area
        else None
    )
    return {
        "intent_stats": stats,
        "intent_stats_hidden_for_area": shown and area,
        "percent": percent,
        # Inside a <script> block: no "</" may close it early.
        "intent_stats_json": json.dumps(
            stats_chart_data(stats) if stats is not None else {}, ensure_ascii=False
        ).replace("</", "<\\/"),
    }
