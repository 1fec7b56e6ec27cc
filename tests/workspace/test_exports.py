"""Exports: the scope of the role, formula injection neutralised, streamed, audited."""

from __future__ import annotations

import csv
import io

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.exports.service import HEADERS, neutralise
from bot.requests.codes import format_ref
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON
from tests.users.factories import login
from tests.workspace.conftest import Wards, make_request


def test_cells_a_spreadsheet_would_run_get_a_leading_quote() -> None:
    for dangerous in ("=1+1", "+84 912", "-2", "@SUM(A1)", "\t=x", "\r=x"):
        assert neutralise(dangerous) == "'" + dangerous
    for plain in ("12 Lê Lợi", "0912345678", "", "a=b"):
        assert neutralise(plain) == plain


def _exports(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "requests.exported")))


def test_a_member_exports_csv_of_their_wards_only_neutralised_and_audited(
    web: TestClient, session: Session, wards: Wards
) -> None:
    mine = make_request(session, ward=BEN_THANH, address_detail='=HYPERLINK("http://x","y")')
    also = make_request(session, ward=SAI_GON)
    other = make_request(session, ward=HOAN_KIEM)
    login(web, wards.member.username)
    answer = web.get("/team/export.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADERS
    codes = {row[0] for row in rows[1:]}
    assert codes == {format_ref(mine.ref_code), format_ref(also.ref_code)}
    assert format_ref(other.ref_code) not in answer.text
    address = next(row[11] for row in rows if row[0] == format_ref(mine.ref_code))
    assert address == "'" + '=HYPERLINK("http://x","y")'
    audit = _exports(session)[-1]
    assert audit.detail["format"] == "csv"
    assert audit.actor == f"user:{wards.member.id}"
    assert mine.phone not in str(audit.detail)

    assert web.get(f"/team/export.csv?ward={HOAN_KIEM}").status_code == 403
    assert web.get(f"/team/export.xlsx?ward={HOAN_KIEM}").status_code == 403
    denied = session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert len(denied) == 2


def test_an_admin_exports_an_xlsx_that_openpyxl_reads(
    web: TestClient, session: Session, wards: Wards
) -> None:
    made = [make_request(session, ward=w) for w in (BEN_THANH, SAI_GON, HOAN_KIEM)]
    made.append(make_request(session, ward=HOAN_KIEM, address_detail="@cmd|' /C calc'!A0"))
    login(web, wards.admin.username)
    answer = web.get("/team/export.xlsx?status=open")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    assert tuple(rows[0]) == HEADERS
    assert {row[0] for row in rows[1:]} == {format_ref(r.ref_code) for r in made}
    assert "'@cmd|' /C calc'!A0" in {row[11] for row in rows[1:]}
    assert _exports(session)[-1].detail == {
        "format": "xlsx",
        "filters": {"status": "open"},
        "rows": 4,
    }
    assert web.get("/team/export.xlsx?need=bogus").status_code == 400
