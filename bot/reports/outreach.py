"""The daily report's outreach sections (issue 10): advisories sent that day (sent / failed /
skipped), subscribers by province, and new rumour questions without an answer. Kept apart
from bot/reports/daily.py, which calls these functions, so other sections merge cleanly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.advisories.models import Advisory
from bot.advisories.service import report as advisory_report
from bot.places.wards import province_name
from bot.requests.workspace import day_bounds
from bot.rumours.service import new_groups_on
from bot.subscriptions.models import Subscription

Sheet = tuple[str, tuple[str, ...], list[tuple[object, ...]]]


@dataclass(frozen=True)
class Outreach:
    advisories: list[tuple[int, str, int, int, int]]  # id, title, sent, failed, skipped
    subscribers_by_province: list[tuple[str, str, int]]  # code, name, active subscribers
    new_rumours: list[tuple[str, int]]  # scrubbed example, questions (unanswered groups)

    @property
    def copies(self) -> tuple[int, int, int]:
        """Sent, failed, skipped copies of the day's advisories."""
        rows = self.advisories
        return (sum(r[2] for r in rows), sum(r[3] for r in rows), sum(r[4] for r in rows))

    @property
    def subscribers(self) -> int:
        return sum(n for _c, _name, n in self.subscribers_by_province)


def outreach(*, session: Session, day: date) -> Outreach:
    """The outreach figures of one day (subscribers: active now)."""
    start, end = day_bounds(day, day)
    advisories = []
    for advisory in session.scalars(
        select(Advisory)
        .where(Advisory.started_at >= start, Advisory.started_at < end)
        .order_by(Advisory.id)
    ):
        result = advisory_report(session=session, advisory_id=advisory.id)
        skipped = sum(result.skipped.values())
        advisories.append((advisory.id, advisory.title, result.sent, result.failed, skipped))
    provinces = session.execute(
        select(Subscription.province_code, func.count())
        .where(Subscription.active.is_(True))
        .group_by(Subscription.province_code)
        .order_by(func.count().desc())
    ).all()
    return Outreach(
        advisories=advisories,
        subscribers_by_province=[(c, province_name(c) or c, int(n)) for c, n in provinces],
        new_rumours=new_groups_on(session=session, day=day),
    )


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def outreach_lines(figures: Outreach) -> list[str]:
    """Lines of the Telegram message: counts only (no titles, no rumour text)."""
    sent, failed, skipped = figures.copies
    top = ", ".join(f"{name} {_number(n)}" for _c, name, n in figures.subscribers_by_province[:3])
    return [
        f"• Tin cảnh báo đã gửi: {_number(len(figures.advisories))} tin; bản tin đã tới "
        f"{_number(sent)}, lỗi {_number(failed)}, bỏ qua {_number(skipped)}",
        f"• Người đăng ký nhận tin: {_number(figures.subscribers)}" + (f" ({top})" if top else ""),
        f"• Tin đồn mới chưa có câu trả lời: {_number(len(figures.new_rumours))} nhóm, "
        f"{_number(sum(n for _e, n in figures.new_rumours))} câu hỏi",
    ]


def outreach_sheets(figures: Outreach) -> list[Sheet]:
    """The XLSX sheets of the outreach sections."""
    return [
        (
            "Tin cảnh báo",
            ("Số", "Tiêu đề", "Đã tới", "Lỗi", "Bỏ qua"),
            [tuple(row) for row in figures.advisories],
        ),
        (
            "Người đăng ký",
            ("Tỉnh/thành", "Đang đăng ký"),
            [(name, n) for _c, name, n in figures.subscribers_by_province],
        ),
        (
            "Tin đồn mới",
            ("Câu hỏi (ví dụ, đã bỏ thông tin cá nhân)", "Số câu hỏi"),
            [(example, n) for example, n in figures.new_rumours],
        ),
    ]
