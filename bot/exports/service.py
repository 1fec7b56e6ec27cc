"""CSV and XLSX exports of a filtered request list: the workspace's one scope (a team member
exports only their wards), rows streamed from the database in batches, cells that a
spreadsheet would run as a formula neutralised, and every export audited (filters and size,
never the rows)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.db.base import utcnow
from bot.places.wards import get_ward
from bot.requests.codes import format_ref
from bot.requests.models import AidRequest
from bot.requests.priority import PRIORITY_LABELS
from bot.requests.service import STATUS_LABELS
from bot.requests.validation import NEED_LABELS
from bot.requests.workspace import RequestFilters, overdue_hours, past_limit, requests_query
from bot.teams.models import Team
from bot.users.models import User
from bot.users.service import audit_actor

HEADERS = (
    "Mã yêu cầu",
    "Tiếp nhận (giờ Việt Nam)",
    "Trạng thái",
    "Quá hạn",
    "Ưu tiên",
    "Lý do ưu tiên",
    "Nhu cầu",
    "Phường/xã",
    "Tỉnh/thành",
    "Tổ phụ trách",
    "Số người trong hộ",
    "Địa chỉ",
    "Điện thoại",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 2000
MAX_ROWS = 1_000_000  # one sheet holds 1,048,576 rows


def neutralise(value: str) -> str:
    """A cell a spreadsheet would run as a formula (= + - @, tab, CR) gets a leading quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def vn_time(moment: datetime, fmt: str) -> str:
    from bot.web.templating import vn_time as to_vietnam

    return to_vietnam(moment, fmt)


def export_rows(
    *, session: Session, user: User, filters: RequestFilters, path: str
) -> Iterator[list[str]]:
    """The rows of the user's filtered list in work order, read in batches (never the whole
    result in memory). OutOfScope (audited) before the first row on a tampered filter."""
    query = requests_query(session=session, user=user, filters=filters, path=path)
    teams = dict(session.execute(select(Team.id, Team.name)).all())
    now = utcnow()
    limits = overdue_hours()

    columns = (
        AidRequest.ref_code,
        AidRequest.created_at,
        AidRequest.status,
        AidRequest.primary_need,
        AidRequest.priority,
        AidRequest.priority_reasons,
        AidRequest.needs,
        AidRequest.ward_code,
        AidRequest.province_code,
        AidRequest.team_id,
        AidRequest.household_size,
        AidRequest.address_detail,
        AidRequest.phone,
    )
    statuses = {str(k): v for k, v in STATUS_LABELS.items()}

    def rows() -> Iterator[list[str]]:
        # Plain column tuples, not ORM objects: no identity map to grow, a third of the time.
        result = session.execute(
            query.with_only_columns(*columns).limit(MAX_ROWS).execution_options(yield_per=BATCH)
        )
        for r in result:
            ward = get_ward(r.ward_code)
            late = past_limit(
                status=r.status,
                created_at=r.created_at,
                primary_need=r.primary_need,
                now=now,
                limits=limits,
            )
            yield [
                neutralise(cell)
                for cell in (
                    format_ref(r.ref_code),
                    vn_time(r.created_at, "%Y-%m-%d %H:%M"),
                    statuses.get(r.status, r.status),
                    "có" if late else "",
                    f"{r.priority} - {PRIORITY_LABELS.get(r.priority, '')}",
                    "; ".join(r.priority_reasons or []),
                    ", ".join(NEED_LABELS.get(n, n) for n in r.needs or []),
                    ward.name if ward else r.ward_code,
                    ward.province_name if ward else r.province_code,
                    teams.get(r.team_id, "") if r.team_id else "",
                    str(r.household_size),
                    r.address_detail,
                    r.phone,
                )
            ]

    return rows()


def record_export(
    *, session: Session, user: User, filters: RequestFilters, kind: str, rows: int | None = None
) -> None:
    """Audits an export: who, which format, which filters (and how many rows when known)."""
    detail: dict[str, Any] = {"format": kind, "filters": filters.as_query()}
    if rows is not None:
        detail["rows"] = rows
    record_audit(
        session=session,
        actor=audit_actor(user),
        action="requests.exported",
        entity="aid_request",
        entity_id=None,
        detail=detail,
    )
    session.flush()


def csv_chunks(rows: Iterator[list[str]], headers: Sequence[str] = HEADERS) -> Iterator[bytes]:
    """CSV in UTF-8 with a BOM (Excel opens the diacritics right), a few hundred rows a chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_xlsx(rows: Iterator[list[str]], target: Path) -> int:
    """Writes the rows into an XLSX file in XlsxWriter's constant-memory mode (each row goes
    to disk as it is written); returns how many. Every cell is a string, never a formula."""
    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True, "in_memory": False})
    try:
        sheet = workbook.add_worksheet("Yêu cầu")
        bold = workbook.add_format({"bold": True})
        widths = (11, 17, 16, 8, 14, 40, 30, 24, 24, 28, 8, 30, 13)
        for column, width in enumerate(widths):
            sheet.set_column(column, column, width)
        for column, header in enumerate(HEADERS):
            sheet.write_string(0, column, header, bold)
        count = 0
        for count, row in enumerate(rows, start=1):
            for column, cell in enumerate(row):
                sheet.write_string(count, column, cell)
        sheet.freeze_panes(1, 0)
    finally:
        workbook.close()
    return count


def export_filename(kind: str) -> str:
    """yeu-cau-20261127-1405.csv"""
    from bot.web.templating import vn_time

    return f"yeu-cau-{vn_time(utcnow(), '%Y%m%d-%H%M')}.{kind}"
