"""CSV and XLSX exports of a filtered request list: the workspace's one scope (a team member
exports only their wards), rows streamed from the database in batches, cells that a
spreadsheet would run as a formula neutralised, and every export audited (filters and size,
never the rows)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import xlsxwriter
from sqlalchemy import String, cast, func, null, select
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

    # Plain column tuples, not ORM objects (no identity map to grow); the JSON lists as their
    # text, turned into labels once per distinct value (there are few), and the time in
    # Vietnam's zone formatted by the database.
    dialect = session.get_bind().dialect.name
    columns = (
        AidRequest.ref_code,
        AidRequest.created_at,
        _vn_text(AidRequest.created_at, dialect),
        AidRequest.status,
        AidRequest.primary_need,
        AidRequest.priority,
        cast(AidRequest.priority_reasons, String),
        cast(AidRequest.needs, String),
        AidRequest.ward_code,
        AidRequest.team_id,
        AidRequest.household_size,
        AidRequest.address_detail,
        AidRequest.phone,
    )
    statuses = {str(k): v for k, v in STATUS_LABELS.items()}
    priorities = {k: f"{k} - {v}" for k, v in PRIORITY_LABELS.items()}

    @cache
    def joined(raw: str, labels: bool) -> str:
        items = json.loads(raw) if raw else []
        return ", ".join(NEED_LABELS.get(n, n) for n in items) if labels else "; ".join(items)

    @cache
    def place(code: str) -> tuple[str, str]:
        ward = get_ward(code)
        return (ward.name, ward.province_name) if ward else (code, "")

    def rows() -> Iterator[list[str]]:
        result = session.execute(
            query.with_only_columns(*columns).limit(MAX_ROWS).execution_options(yield_per=BATCH)
        )
        for (
            code,
            created,
            shown,
            status,
            need,
            level,
            reasons,
            needs,
            ward,
            team,
            size,
            address,
            phone,
        ) in result:
            late = past_limit(
                status=status, created_at=created, primary_need=need, now=now, limits=limits
            )
            ward_name, province = place(ward)
            yield [
                format_ref(code),
                shown or vn_time(created, "%Y-%m-%d %H:%M"),
                statuses.get(status, status),
                "có" if late else "",
                priorities.get(level, str(level)),
                neutralise(joined(reasons or "", False)),
                joined(needs or "", True),
                ward_name,
                province,
                neutralise(teams.get(team, "")) if team else "",
                str(size),
                neutralise(address),
                neutralise(phone),
            ]

    return rows()


def _vn_text(column: Any, dialect: str) -> Any:
    """The time as Vietnam reads it, "YYYY-MM-DD HH:MM", formatted by PostgreSQL (None on
    SQLite: formatted in Python)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("Asia/Ho_Chi_Minh", column), "YYYY-MM-DD HH24:MI")
    return null()


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
