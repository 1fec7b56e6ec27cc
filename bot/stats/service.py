"""What residents asked about and how often the assistant did not understand, per day.

Read from `intent_daily_counts` (written by Rasa's event broker, `hotline_nlu/stats_broker.py`).
The counts are hotline-wide: a message has no ward, so they are never split by area, and only
admins (and the daily report, which goes to the admins) see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.content.service import content_file
from bot.stats.models import IntentDailyCount
from bot.users.models import User

TOPICS_FILE = "topics.yml"
TOP_TOPICS = 10


@dataclass(frozen=True)
class DayShare:
    day: date
    messages: int
    not_understood: int

    @property
    def share(self) -> float | None:
        """Not understood / messages (0–1), None on a day without messages."""
        return self.not_understood / self.messages if self.messages else None


@dataclass(frozen=True)
class Topic:
    intent: str
    label: str
    messages: int


@dataclass(frozen=True)
class IntentStats:
    """Messages of a date range: per day, the most asked topics, and the totals."""

    first_day: date
    last_day: date
    by_day: list[DayShare]  # every day of the range, days without messages included
    topics: list[Topic]  # the most asked, most first

    @property
    def messages(self) -> int:
        return sum(d.messages for d in self.by_day)

    @property
    def not_understood(self) -> int:
        return sum(d.not_understood for d in self.by_day)

    @property
    def share(self) -> float | None:
        """The range's not-understood share (0–1), None without messages."""
        return self.not_understood / self.messages if self.messages else None


def may_see_intent_stats(user: User | None) -> bool:
    """Admins (and the system, user None: the daily report to the admins). Team members see
    only their wards' figures, and these counts have no ward; staff work the queue."""
    return user is None or user.is_admin


def topic_labels(*, content_dir: Path | None = None) -> tuple[dict[str, str], frozenset[str]]:
    """Vietnamese labels of intents and the intents that are not topics (topics.yml)."""
    data = content_file(TOPICS_FILE, content_dir=content_dir)
    labels = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
    return labels, frozenset(str(i) for i in data.get("not_topics") or [])


def topic_label(intent: str, *, content_dir: Path | None = None) -> str:
    """An intent's Vietnamese name, or the intent itself when topics.yml has none."""
    return topic_labels(content_dir=content_dir)[0].get(intent, intent)


def intent_stats(
    *,
    session: Session,
    first: date,
    last: date,
    top: int = TOP_TOPICS,
    content_dir: Path | None = None,
) -> IntentStats:
    """Messages per day with the not-understood share, and the most asked topics, from `first`
    to `last` (Vietnam's dates, both included), every channel together."""
    in_range = (IntentDailyCount.day >= first, IntentDailyCount.day <= last)
    per_day = {
        day: (int(messages or 0), int(missed or 0))
        for day, messages, missed in session.execute(
            select(
                IntentDailyCount.day,
                func.sum(IntentDailyCount.messages),
                func.sum(IntentDailyCount.not_understood),
            )
            .where(*in_range)
            .group_by(IntentDailyCount.day)
        )
    }
    by_day = []
    day = first
    while day <= last:
        messages, missed = per_day.get(day, (0, 0))
        by_day.append(DayShare(day, messages, missed))
        day += timedelta(days=1)

    labels, not_topics = topic_labels(content_dir=content_dir)
    total = func.sum(IntentDailyCount.messages)
    rows = session.execute(
        select(IntentDailyCount.intent, total)
        .where(*in_range, IntentDailyCount.intent.not_in(sorted(not_topics)))
        .group_by(IntentDailyCount.intent)
        .order_by(total.desc(), IntentDailyCount.intent)
        .limit(top)
    ).all()
    topics = [Topic(intent, labels.get(intent, intent), int(n or 0)) for intent, n in rows]
    return IntentStats(first_day=first, last_day=last, by_day=by_day, topics=topics)


def percent(share: float | None) -> str:
    """A share as Vietnamese write it: 12,5 % (— without messages)."""
    if share is None:
        return "—"
    return f"{share * 100:.1f}".replace(".", ",") + " %"
