"""Admin-editable console data: staff hours and canned replies (data/content/*.yml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.content.service import ContentError, _content, fact, render

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class CannedReply:
    title: str
    text: str


def _spans(content_dir: Path | None) -> tuple[ZoneInfo, dict[int, tuple[time, time]]]:
    data = _content("staff_hours.yml", content_dir)
    try:
        zone = ZoneInfo(str(data.get("timezone") or "Asia/Ho_Chi_Minh"))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ContentError("staff_hours.yml: unknown timezone") from exc
    days = data.get("days") or {}
    spans: dict[int, tuple[time, time]] = {}
    for index, day in enumerate(DAYS):
        value = str(days.get(day) or "").strip()
        if not value:
            continue
        match = _SPAN.match(value)
        if not match:
            raise ContentError(f"staff_hours.yml: {day} must look like 07:00-21:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60):
            raise ContentError(f"staff_hours.yml: {day} has an impossible time")
        end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
        spans[index] = (time(h1, m1), end)
    return zone, spans


def staff_available(now: datetime, *, content_dir: Path | None = None) -> bool:
    """True while staff answer in the console (per data/content/staff_hours.yml)."""
    zone, spans = _spans(content_dir)
    local = now.astimezone(zone)
    span = spans.get(local.weekday())
    return span is not None and span[0] <= local.time() < span[1]


def next_staff_opening(now: datetime, *, content_dir: Path | None = None) -> datetime | None:
    """The next time staff start answering (local time), None when no day has hours."""
    zone, spans = _spans(content_dir)
    local = now.astimezone(zone)
    for offset in range(8):
        day = local + timedelta(days=offset)
        span = spans.get(day.weekday())
        if span is None:
            continue
        start = day.replace(hour=span[0].hour, minute=span[0].minute, second=0, microsecond=0)
        if start > local:
            return start
    return None


def outside_hours_text(now: datetime, *, content_dir: Path | None = None) -> str:
    """What a queued resident is told outside staff hours: when, and what to do meanwhile."""
    opening = next_staff_opening(now, content_dir=content_dir)
    local = now.astimezone(opening.tzinfo) if opening else now
    if opening is None:
        when = "khi có nhân viên trực"
    elif opening.date() == local.date():
        when = f"từ {opening:%H:%M} hôm nay"
    elif opening.date() == (local + timedelta(days=1)).date():
        when = f"từ {opening:%H:%M} sáng mai" if opening.hour < 12 else f"từ {opening:%H:%M} mai"
    else:
        when = f"từ {opening:%H:%M} {DAY_NAMES[opening.weekday()]}"
    try:
        emergency = fact("hotlines.emergency.number", content_dir=content_dir)
    except ContentError:
        emergency = "115"
    return (
        f"Hiện ngoài giờ trực của nhân viên tổng đài. Nhân viên sẽ trả lời bạn tại đây {when}; "
        "bạn không cần nhắn lại. Trong lúc chờ, nếu có người khó thở, bất tỉnh hoặc nguy hiểm "
        f"đến tính mạng, hãy gọi ngay {emergency}."
    )


def canned_replies(*, content_dir: Path | None = None) -> list[CannedReply]:
    """The ready answers staff can pick, with facts filled in."""
    items = _content("canned_replies.yml", content_dir).get("replies") or []
    replies = []
    for item in items:
        if not isinstance(item, dict) or not item.get("title") or not item.get("text"):
            raise ContentError("canned_replies.yml: each reply needs a title and a text")
        replies.append(
            CannedReply(
                title=str(item["title"]), text=render(str(item["text"]), content_dir=content_dir)
            )
        )
    return replies
