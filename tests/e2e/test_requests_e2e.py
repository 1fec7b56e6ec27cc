"""Health declarations and aid requests through the web chat API against the real stack:
the row in the database, the routing, and `hotline requests list --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, select

from bot.requests.codes import format_ref
from bot.requests.models import AidRequest, HealthDeclaration
from bot.residents.models import Resident
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import LiveStack, say

pytestmark = pytest.mark.e2e


def hotline(stack: LiveStack, *args: str) -> str:
    """Runs the `hotline` command line against the stack's database."""
    env = {**os.environ, "DATABASE_URL": stack.database_url}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def texts(replies: list[dict]) -> str:
    return "\n".join(r["text"] for r in replies)


def test_health_declaration_saved_with_a_reference_code(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        consent = say(client, "tôi muốn khai báo y tế")
        assert "Bạn có đồng ý không?" in consent[0]["text"]
        agree = consent[0]["buttons"][0]["payload"]
        say(client, agree)
        say(client, "e tên nguyễn văn an ạ")
        # The consent button, still clickable, pressed again at the next question.
        stale = texts(say(client, agree))
        assert "câu hỏi trước" in stale and "sinh năm nào" in stale
        for answer in [
            "1985",
            "0912 345 678",
            "phuong hoan kiem ha noi",
            "sốt với ho",
            "/deny",
            "không đi đâu",
            "2 mũi",
        ]:
            replies = say(client, answer)
        assert "Phường Hoàn Kiếm" in texts(replies) and "Thông tin trên đã đúng chưa?" in texts(
            replies
        )
        done = texts(say(client, "/affirm"))
        cid = f"web:{client.cookies['hotline_chat']}"
    assert "Mã tờ khai:" in done
    engine = create_engine(live_stack.database_url)
    with engine.connect() as conn:
        row = conn.execute(
            select(
                HealthDeclaration.ref_code,
                HealthDeclaration.ward_code,
                HealthDeclaration.phone,
                HealthDeclaration.symptoms,
                HealthDeclaration.full_name,
            )
            .join(Resident, Resident.id == HealthDeclaration.resident_id)
            .where(Resident.conversation_id == cid)
        ).one()
    engine.dispose()
    assert format_ref(row.ref_code) in done
    assert (row.ward_code, row.phone, row.full_name) == ("00070", "+84912345678", "Nguyễn Văn An")
    assert set(row.symptoms) == {"fever", "cough"}


def test_aid_request_routed_to_the_ward_team_and_listed(live_stack: LiveStack) -> None:
    hotline(live_stack, "teams", "import-demo", "--if-empty")
    with live_stack.chat() as client:
        # The first message answers the needs and the situation: they are not asked again.
        say(client, "mất việc, nhà tôi hết gạo 2 ngày rồi, xin hỗ trợ")
        asked = texts(say(client, "/affirm"))
        assert "mấy người" in asked
        for answer in ["nhà 4 người", "không có"]:
            say(client, answer)
        ambiguous = texts(say(client, "ben thanh"))
        if "tỉnh/thành nào" in ambiguous:  # the name exists elsewhere too
            say(client, "Hồ Chí Minh")
        say(client, "12 Lê Lợi")
        wrong = texts(say(client, "0212345678"))
        assert "Số điện thoại chưa đúng" in wrong
        summary = texts(say(client, "0912345678"))
        assert "Phường Bến Thành" in summary and "0912 345 678" in summary
        done = texts(say(client, "/affirm"))
        status = texts(say(client, "yêu cầu của tôi sao rồi"))
        # Asking again while it is open: found, only the change asked, then "updated".
        again = texts(say(client, "/request_aid"))
        updated = texts(say(client, "giờ thêm bà ngoại ở cùng"))
    assert "Mã yêu cầu:" in done and "Tổ hỗ trợ phường Bến Thành" in done
    code = done.split("Mã yêu cầu: ")[1][:9]
    assert code in status
    assert code in again and "không cần khai lại" in again and "đồng ý" not in again.lower()
    assert updated.startswith(f"Đã cập nhật đề nghị hỗ trợ {code}") and "người cao tuổi" in updated
    listed = json.loads(hotline(live_stack, "requests", "list", "--ward", "26743", "--json"))
    mine = next(r for r in listed if r["ref"] == code)
    assert mine["team"] == "hcm-ben-thanh" and mine["status"] == "assigned"
    assert mine["priority"] == 1 and mine["needs"] == ["food"]
    engine = create_engine(live_stack.database_url)
    with engine.connect() as conn:
        assert conn.execute(
            select(AidRequest.id).where(AidRequest.ref_code == code.replace("-", ""))
        ).one()
    engine.dispose()
    # Another resident's code reveals nothing.
    with live_stack.chat() as other:
        answer = texts(say(other, f"kiểm tra mã {code}"))
    assert "không tìm thấy" in answer and "Bến Thành" not in answer
