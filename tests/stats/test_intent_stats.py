"""What residents asked about, read back: the service (share per day, most asked topics), who
may see it, the daily report (message, page, XLSX) and the admin dashboard."""

from __future__ import annotations

import io
import json
import os
import re
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.reports.daily import daily_report, report_text
from bot.requests.workspace import RequestFilters
from bot.settings import PROJECT_ROOT
from bot.stats.models import IntentDailyCount
from bot.stats.service import intent_stats, may_see_intent_stats, percent, topic_labels
from bot.users.models import Role
from bot.web.stats import dashboard_context
from bot.web.templating import VIETNAM
from tests.users.factories import login, make_user
from tests.workspace.conftest import Wards


def add_counts(session: Session, day: date, counts: dict[tuple[str, str], tuple[int, int]]) -> None:
    """Rows as the broker writes them: (intent, channel) -> (messages, not understood)."""
    for (intent, channel), (messages, missed) in counts.items():
        session.add(
            IntentDailyCount(
                day=day, intent=intent, channel=channel, messages=messages, not_understood=missed
            )
        )
    session.flush()


def today() -> date:
    return utcnow().astimezone(VIETNAM).date()


A_DAY = {
    ("greet", "web"): (50, 0),
    ("ask_testing", "telegram"): (20, 0),
    ("ask_testing", "zalo"): (10, 0),
    ("request_aid", "zalo"): (25, 0),
    ("ask_new_thing", "web"): (3, 0),  # an intent topics.yml has no name for
    ("nlu_fallback", "web"): (12, 12),
    ("inform", "web"): (5, 3),
}  # 125 messages, 15 not understood


def test_share_per_day_and_the_most_asked_topics(session: Session) -> None:
    first = date(2030, 6, 1)
    add_counts(session, first, A_DAY)
    add_counts(session, first + timedelta(days=2), {("ask_testing", "web"): (4, 1)})
    add_counts(session, first + timedelta(days=5), {("ask_testing", "web"): (99, 99)})  # outside

    stats = intent_stats(session=session, first=first, last=first + timedelta(days=2))
    assert [(d.day, d.messages, d.not_understood) for d in stats.by_day] == [
        (first, 125, 15),
        (first + timedelta(days=1), 0, 0),  # a day without messages is on the line too
        (first + timedelta(days=2), 4, 1),
    ]
    assert stats.by_day[0].share == pytest.approx(0.12)
    assert stats.by_day[1].share is None
    assert (stats.messages, stats.not_understood) == (129, 16)
    # Greetings, form answers and messages not understood are no topic; channels add up.
    assert [(t.intent, t.label, t.messages) for t in stats.topics] == [
        ("ask_testing", "Xét nghiệm", 34),
        ("request_aid", "Xin hỗ trợ khó khăn", 25),
        ("ask_new_thing", "ask_new_thing", 3),
    ]
    assert intent_stats(session=session, first=first, last=first, top=1).topics[0].messages == 30
    assert percent(0.12) == "12,0 %"
    assert percent(None) == "—"


def test_topics_yml_names_every_intent_of_the_domain() -> None:
    labels, not_topics = topic_labels(content_dir=PROJECT_ROOT / "data" / "content")
    intents: set[str] = set()
    for path in (PROJECT_ROOT / "domain").glob("*.yml"):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("intents") or []:
            intents.add(item if isinstance(item, str) else next(iter(item)))
    intents |= {"nlu_fallback"}
    assert intents - set(labels) - not_topics == set()
    for intent in ("greet", "thank", "affirm", "deny", "goodbye", "nlu_fallback", "inform"):
        assert intent in not_topics


def test_only_admins_see_message_figures(session: Session, wards: Wards) -> None:
    staff = make_user(session, role=Role.STAFF)
    assert may_see_intent_stats(wards.admin)
    assert may_see_intent_stats(None)  # the daily report, which goes to the admins
    assert not may_see_intent_stats(staff)
    assert not may_see_intent_stats(wards.member)
    add_counts(session, today(), A_DAY)
    shown = RequestFilters(created_from=today(), created_to=today())
    assert (
        dashboard_context(session=session, user=wards.member, filters=shown)["intent_stats"] is None
    )
    assert dashboard_context(session=session, user=wards.admin, filters=shown)["intent_stats"]


def test_the_daily_report_has_the_topics_and_the_share(session: Session, wards: Wards) -> None:
    add_counts(session, today(), A_DAY)
    report = daily_report(session=session, day=today())
    assert report.intents is not None
    text = report_text(report)
    assert "tỷ lệ tin nhắn bot không hiểu: 12,0 % (15)" in text
    assert "Tin nhắn người dân: 125" in text
    assert (
        "Chủ đề được hỏi nhiều nhất: Xét nghiệm 30, Xin hỗ trợ khó khăn 25, ask_new_thing 3" in text
    )
    empty = report_text(daily_report(session=session, day=today() - timedelta(days=40)))
    assert "tỷ lệ tin nhắn bot không hiểu: — (0)" in empty
    assert "Chủ đề được hỏi" not in empty


def test_the_report_page_and_xlsx_show_them(
    web: TestClient, session: Session, wards: Wards
) -> None:
    add_counts(session, today(), A_DAY)
    login(web, wards.admin.username)
    page = web.get(f"/admin/report?date={today()}")
    assert page.status_code == 200
    assert page.template.name == "admin/report.html"  # type: ignore[attr-defined]
    assert "Tỷ lệ tin nhắn bot không hiểu" in page.text
    assert "12,0 %" in page.text
    topics = re.search(r'id="report-messages".*?</div>', page.text, re.S)
    assert topics is not None
    assert "Xét nghiệm" in topics.group(0)
    assert "greet" not in topics.group(0)
    book = openpyxl.load_workbook(io.BytesIO(web.get(f"/admin/report.xlsx?date={today()}").content))
    summary = {row[0]: row[1] for row in book["Tóm tắt"].iter_rows(values_only=True)}
    sheet = list(book["Chủ đề"].iter_rows(values_only=True))
    book.close()
    assert summary["Tỷ lệ tin nhắn bot không hiểu"] == "12,0 %"
    assert summary["Tin nhắn bot không hiểu"] == 15
    assert sheet[0] == ("Chủ đề được hỏi nhiều nhất", "Tin nhắn", "Tỷ lệ")
    assert sheet[1] == ("Xét nghiệm", 30, "24,0 %")


def test_the_dashboard_draws_the_share_per_day_and_the_topics(
    web: TestClient, session: Session, wards: Wards
) -> None:
    add_counts(session, today(), A_DAY)
    add_counts(session, today() - timedelta(days=1), {("ask_hotline", "web"): (10, 5)})
    login(web, wards.admin.username)
    page = web.get("/admin")
    assert page.status_code == 200
    stats = page.context["intent_stats"]  # type: ignore[attr-defined]
    assert len(stats.by_day) == 30  # the dashboard's default range, every day
    assert 'id="chart-not-understood"' in page.text
    assert "/static/intent_stats.js" in page.text
    block = re.search(
        r'<script type="application/json" id="intent-stats-data">(.*?)</script>', page.text, re.S
    )
    assert block is not None
    data = json.loads(block.group(1))
    assert data["byDay"]["share"][-2:] == [50.0, 12.0]
    assert data["byDay"]["share"][0] is None
    assert data["topics"]["labels"][:2] == ["Xét nghiệm", "Xin hỗ trợ khó khăn"]
    assert web.get("/static/intent_stats.js").status_code == 200

    # An area chosen: the counts have no area, so they are not shown as the area's.
    area = web.get("/admin?province=79")
    assert area.context["intent_stats"] is None  # type: ignore[attr-defined]
    assert 'id="dashboard-messages-hidden"' in area.text
    assert 'id="chart-not-understood"' not in area.text


def test_the_content_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    path = content / "topics.yml"
    path.write_text("labels:\n  ask_testing: Xét nghiệm\nnot_topics: [greet]\n", encoding="utf-8")
    assert topic_labels(content_dir=content) == ({"ask_testing": "Xét nghiệm"}, {"greet"})
    path.write_text("labels:\n  ask_testing: Test nhanh\nnot_topics: []\n", encoding="utf-8")
    os.utime(path, (1, 1))  # a different modification time, as an edit would give
    assert topic_labels(content_dir=content)[0] == {"ask_testing": "Test nhanh"}
