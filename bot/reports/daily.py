"""The daily report ("báo cáo hàng ngày"): new, resolved and overdue requests by area and need,
emergencies, hand-offs and response times, for one day in Vietnam's time. A page, an XLSX and
a message to the admins' Telegram group through the one outbound path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.conversations.messages import OutboundReply
from bot.dashboard.service import Dashboard, build_dashboard
from bot.db.base import utcnow
from bot.outbound.models import OutboundMessage
from bot.outbound.service import enqueue
from bot.places.wards import province_name
from bot.reports.outreach import Outreach, outreach, outreach_lines, outreach_sheets
from bot.requests.models import AidRequest, RequestStatus
from bot.requests.validation import NEED_LABELS
from bot.requests.workspace import RequestFilters, day_bounds, overdue_condition
from bot.settings import get_settings
from bot.stats import report as stats_report
from bot.stats.service import IntentStats, intent_stats

DAILY_REPORT = "daily_report"


@dataclass(frozen=True)
class DailyReport:
    day: date
    board: Dashboard  # the day's figures (new requests by area, need, status; hand-offs; teams)
    resolved: int  # closed as resolved during the day, whenever they came in
    overdue_by_province: list[tuple[str, str, int]]  # open and past their limit, now
    # Messages of the day: most asked topics, not-understood share (bot/stats).
    intents: IntentStats | None = None
    outreach: Outreach | None = None  # advisories, subscribers, rumours (bot/reports/outreach)

    @property
    def overdue(self) -> int:
        return sum(n for _c, _name, n in self.overdue_by_province)

    @property
    def handoffs(self) -> tuple[int, int, int]:
        """Hand-offs of the day: all, emergencies, not understood by the assistant."""
        rows = self.board.handoffs_by_day
        return (sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows))


def yesterday() -> date:
    """The day a report at the start of a day covers (Vietnam's date)."""
    from bot.web.templating import VIETNAM

    return utcnow().astimezone(VIETNAM).date() - timedelta(days=1)


def daily_report(*, session: Session, day: date) -> DailyReport:
    """The figures of one day for the whole hotline."""
    board = build_dashboard(
        session=session, user=None, filters=RequestFilters(created_from=day, created_to=day)
    )
    start, end = day_bounds(day, day)
    resolved = session.scalar(
        select(func.count())
        .select_from(AidRequest)
        .where(
            AidRequest.status == RequestStatus.RESOLVED,
            AidRequest.closed_at >= start,
            AidRequest.closed_at < end,
        )
    )
    overdue = session.execute(
        select(AidRequest.province_code, func.count())
        .where(overdue_condition(utcnow()))
        .group_by(AidRequest.province_code)
        .order_by(func.count().desc())
    ).all()
    return DailyReport(
        day=day,
        board=board,
        resolved=int(resolved or 0),
        overdue_by_province=[(c, province_name(c) or c, int(n)) for c, n in overdue],
        intents=intent_stats(session=session, first=day, last=day),
        outreach=outreach(session=session, day=day),
    )


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def report_text(report: DailyReport) -> str:
    """The Telegram message: counts only, no personal data, a link to the page."""
    board = report.board
    handoffs, emergencies, misunderstood = report.handoffs
    top_areas = ", ".join(f"{name} {_number(n)}" for _c, name, n in board.by_province[:5])
    needs = ", ".join(f"{NEED_LABELS.get(k, k)} {_number(n)}" for k, n in board.by_need[:5])
    link = f"{get_settings().public_base_url.rstrip('/')}/admin/report?date={report.day}"
    lines = [
        f"Báo cáo ngày {report.day:%d/%m/%Y}",
        f"• Yêu cầu mới: {_number(board.totals['total'])} "
        f"(khẩn cấp: {_number(board.totals['emergencies'])})",
        f"• Đã giải quyết trong ngày: {_number(report.resolved)}",
        f"• Đang quá hạn: {_number(report.overdue)}",
        f"• Chuyển cho nhân viên: {_number(handoffs)} (khẩn cấp {_number(emergencies)}, "
        f"trợ lý chưa hiểu {_number(misunderstood)})",
    ]
    if top_areas:
        lines.append(f"• Nhiều nhất: {top_areas}")
    if needs:
        lines.append(f"• Nhu cầu: {needs}")
    lines.extend(stats_report.message_lines(report.intents))
    if report.outreach is not None:
        lines += outreach_lines(report.outreach)
    lines.append(f"Chi tiết (cần đăng nhập): {link}")
    return "\n".join(lines)


def send_report(*, session: Session, report: DailyReport, actor: str) -> OutboundMessage | None:
    """Queues the report to the admins' Telegram group (REPORT_TELEGRAM_CHAT_ID), once per
    day; None when no group is configured."""
    chat = get_settings().report_telegram_chat_id
    if not chat:
        return None
    message = enqueue(
        session=session,
        channel="telegram",
        address=chat,
        reply=OutboundReply(report_text(report)),
        kind=DAILY_REPORT,
        dedupe_key=f"report:daily:{report.day.isoformat()}",
    )
    record_audit(
        session=session,
        actor=actor,
        action="report.daily_sent",
        entity="outbound_message",
        entity_id=message.id,
        detail={"day": report.day.isoformat()},
    )
    return message


def write_report_xlsx(report: DailyReport, target: Path) -> None:
    """The report as an XLSX: a summary sheet and one sheet per breakdown."""
    board = report.board
    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    try:
        bold = workbook.add_format({"bold": True})

        def sheet(name: str, headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
            ws = workbook.add_worksheet(name)
            ws.set_column(0, 0, 36)
            ws.set_column(1, len(headers), 14)
            for col, header in enumerate(headers):
                ws.write_string(0, col, header, bold)
            for r, row in enumerate(rows, start=1):
                for col, value in enumerate(row):
                    if isinstance(value, int | float):
                        ws.write_number(r, col, value)
                    else:
                        ws.write_string(r, col, str(value))

        handoffs, emergencies, misunderstood = report.handoffs
        sheet(
            "Tóm tắt",
            ("Chỉ số", "Giá trị"),
            [
                ("Ngày", f"{report.day:%d/%m/%Y}"),
                ("Yêu cầu mới", board.totals["total"]),
                ("Trong đó khẩn cấp (ưu tiên 1)", board.totals["emergencies"]),
                ("Đã giải quyết trong ngày", report.resolved),
                ("Đang quá hạn", report.overdue),
                ("Chuyển cho nhân viên", handoffs),
                ("Chuyển cho nhân viên vì khẩn cấp", emergencies),
                ("Chuyển cho nhân viên vì trợ lý chưa hiểu", misunderstood),
                *stats_report.summary_rows(report.intents),
            ],
        )
        if report.intents is not None:
            sheet(
                "Chủ đề",
                (stats_report.TOPICS_TITLE, "Tin nhắn", "Tỷ lệ"),
                stats_report.topic_rows(report.intents),
            )
        sheet(
            "Theo tỉnh", ("Tỉnh/thành", "Yêu cầu mới"), [(n, c) for _k, n, c in board.by_province]
        )
        sheet(
            "Theo nhu cầu",
            ("Nhu cầu chính", "Yêu cầu mới"),
            [(NEED_LABELS.get(k, k), n) for k, n in board.by_need],
        )
        sheet(
            "Quá hạn",
            ("Tỉnh/thành", "Đang quá hạn"),
            [(name, n) for _c, name, n in report.overdue_by_province],
        )
        sheet(
            "Thời gian xử lý",
            ("Tổ", "Yêu cầu", "Đầu tiên: trung vị (giờ)", "p90", "Đóng: trung vị (giờ)", "p90"),
            [
                (
                    t["name"],
                    t["count"],
                    *(
                        round(t[k], 1) if t[k] is not None else "—"
                        for k in ("first_median", "first_p90", "resolved_median", "resolved_p90")
                    ),
                )
                for t in board.teams
            ],
        )
        for name, headers, rows in outreach_sheets(report.outreach) if report.outreach else []:
            sheet(name, headers, rows)
    finally:
        workbook.close()
