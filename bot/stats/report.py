"""The daily report's part about messages: the most asked topics and the not-understood share,
as lines of the Telegram message and rows of the XLSX (counts only, no personal data)."""

from __future__ import annotations

from bot.stats.service import IntentStats, percent

TOPICS_TITLE = "Chủ đề được hỏi nhiều nhất"
SHARE_TITLE = "Tỷ lệ tin nhắn bot không hiểu"


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def message_lines(stats: IntentStats | None, *, topics: int = 5) -> list[str]:
    """Lines of the Telegram message."""
    if stats is None:
        return []
    lines = [
        f"• Tin nhắn người dân: {_number(stats.messages)}; {SHARE_TITLE.lower()}: "
        f"{percent(stats.share)} ({_number(stats.not_understood)})"
    ]
    if stats.topics:
        top = ", ".join(f"{t.label} {_number(t.messages)}" for t in stats.topics[:topics])
        lines.append(f"• {TOPICS_TITLE}: {top}")
    return lines


def summary_rows(stats: IntentStats | None) -> list[tuple[str, object]]:
    """Rows of the XLSX summary sheet."""
    if stats is None:
        return []
    return [
        ("Tin nhắn người dân (trợ lý đã xử lý)", stats.messages),
        ("Tin nhắn bot không hiểu", stats.not_understood),
        (SHARE_TITLE, percent(stats.share)),
    ]


def topic_rows(stats: IntentStats | None) -> list[tuple[object, ...]]:
    """Rows of the XLSX topics sheet: topic, messages, share of the day's messages."""
    if stats is None:
        return []
    return [
        (t.label, t.messages, percent(t.messages / stats.messages if stats.messages else None))
        for t in stats.topics
    ]
