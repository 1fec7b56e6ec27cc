"""Aid and notice questions through the web chat against the real stack: the area is asked
once and remembered, the answers come from data written while the stack runs (no retraining),
and the greeting's "Đăng ký nhận tin" button reaches the subscription command."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.content.aid_programmes import today_in_vietnam
from bot.notices.models import NoticeKind
from bot.notices.service import create_notice
from bot.users.models import Role
from bot.users.service import create_user
from tests.e2e.conftest import LiveStack, say
from tests.notices.factories import notice_in
from tests.requests.factories import BEN_THANH, HOAN_KIEM

pytestmark = pytest.mark.e2e


def _write_programmes(stack: LiveStack) -> None:
    today = today_in_vietnam()
    common = {
        "eligible": "Người lao động mất việc",
        "papers": "Căn cước công dân",
        "how": "Nộp tại UBND phường",
    }
    entries = [
        {
            "id": "e2e-ben-thanh",
            "name": "Gói hỗ trợ thử Bến Thành",
            "benefit": "700.000 đồng",
            "valid_from": today - timedelta(days=1),
            "valid_to": today + timedelta(days=1),
            "area": [BEN_THANH],
            **common,
        },
        {
            "id": "e2e-het-han",
            "name": "Gói đã hết hạn",
            "benefit": "1 đồng",
            "valid_from": today - timedelta(days=10),
            "valid_to": today - timedelta(days=1),
            "area": "national",
            **common,
        },
    ]
    (stack.content_dir / "aid_programmes.yml").write_text(
        yaml.safe_dump({"programmes": entries}, allow_unicode=True), encoding="utf-8"
    )


def _write_notices(stack: LiveStack) -> None:
    engine = create_engine(stack.database_url)
    with Session(engine) as session, session.begin():
        admin = create_user(
            session=session,
            username="e2e-notices-admin",
            role=Role.ADMIN,
            display_name="Quản trị thử",
            team_slugs=[],
            password="mat-khau-thu-e2e-123",
            actor="test",
        ).user
        for wards, text in (
            ([BEN_THANH], "Khu phố 3 phong tỏa đến hết 30/11."),
            ([HOAN_KIEM], "Hoàn Kiếm phong tỏa phố cổ."),
        ):
            create_notice(
                session=session,
                user=admin,
                data=notice_in(wards=wards, kind=NoticeKind.RESTRICTION, text=text),
                path="/e2e",
            )
    engine.dispose()


def test_aid_and_notice_questions_in_the_web_chat(live_stack: LiveStack) -> None:
    _write_programmes(live_stack)
    _write_notices(live_stack)
    with live_stack.chat() as client:
        asked = say(client, "làm sao để nhận gói hỗ trợ")
        assert "phường/xã nào" in asked[-1]["text"]
        answered = say(client, "phường Bến Thành, TP Hồ Chí Minh")
        text = "\n".join(r["text"] for r in answered)
        assert "Gói hỗ trợ thử Bến Thành" in text
        assert "700.000 đồng" in text
        assert "Gói đã hết hạn" not in text
        assert "/request_aid" in [b["payload"] for r in answered for b in r.get("buttons", [])]

        # The area is remembered: the notice question is answered at once, for this ward only.
        notice = say(client, "o phuong toi co bi phong toa khong")
        text = "\n".join(r["text"] for r in notice)
        assert "Khu phố 3 phong tỏa đến hết 30/11." in text
        assert "Hoàn Kiếm" not in text


def test_the_greetings_subscribe_button_reaches_the_subscription(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        greeting = say(client, "xin chào")
        [button] = [b for b in greeting[0]["buttons"] if b["title"] == "Đăng ký nhận tin"]
        consent = say(client, button["payload"])
    assert "Đồng ý" in [b["title"] for b in consent[0]["buttons"]]
