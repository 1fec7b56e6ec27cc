"""Privacy over the real stack: a refusal and "xem thông tin của tôi" agree, and "xóa thông
tin của tôi" leaves nothing of the old conversation in Rasa's tracker, the database or the
reply cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import create_engine, func, select, update

from bot.audit.models import AuditEvent
from bot.consents.models import Consent
from bot.consents.service import refusal_reply
from bot.handoff.models import ConversationMessage
from bot.residents.models import Resident
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import LiveStack, say

pytestmark = pytest.mark.e2e

NAME = "trần thị riêng tư"
PHONE = "0987 654 321"


def texts(replies: list[dict]) -> str:
    return "\n".join(r["text"] for r in replies)


def _scalar(stack: LiveStack, query):  # type: ignore[no-untyped-def]
    engine = create_engine(stack.database_url)
    with engine.connect() as conn:
        value = conn.execute(query).scalar()
    engine.dispose()
    return value


def test_a_refusal_says_what_is_kept_and_the_view_agrees(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        consent = texts(say(client, "tôi muốn khai báo y tế"))
        assert "Bạn có đồng ý không?" in consent
        refused = texts(say(client, "/deny"))
        view = texts(say(client, "xem thông tin của tôi"))
        cid = f"web:{client.cookies['hotline_chat']}"
    assert refusal_reply() in refused
    # Kept: the conversation, its messages (as the reply said: the staff console's transcript
    # is under the same retention); not kept: any consent or answer.
    assert "tin nhắn của bạn trong cuộc trò chuyện" in view
    assert "đồng ý" not in view
    assert "tờ khai y tế" not in view
    assert (
        _scalar(
            live_stack,
            select(func.count())
            .select_from(Consent)
            .join(Resident)
            .where(Resident.conversation_id == cid),
        )
        == 0
    )


def test_erasure_leaves_nothing_of_the_conversation_in_rasa_the_database_or_the_cache(
    live_stack: LiveStack,
) -> None:
    with live_stack.chat() as client:
        say(client, "tôi muốn khai báo y tế")
        for answer in [
            "/affirm",
            NAME,
            "1985",
            PHONE,
            "phuong hoan kiem ha noi",
            "sốt với ho",
            "/deny",
            "không đi đâu",
            "2 mũi",
        ]:
            say(client, answer)
        done = texts(say(client, "/affirm", message_id="confirm-1"))
        assert "Mã tờ khai:" in done
        code = done.split("Mã tờ khai: ")[1][:9]
        cid = f"web:{client.cookies['hotline_chat']}"
        before = json.dumps(live_stack.rasa_tracker(cid), ensure_ascii=False)
        assert "0987654321" in before.replace(" ", "")  # the tracker held the phone

        view = texts(say(client, "xem thông tin của tôi"))
        assert "1 tờ khai y tế" in view
        assert code in view

        asked = texts(say(client, "xóa thông tin của tôi"))
        assert "Bạn có chắc" in asked
        erased = texts(say(client, "/affirm"))
        assert "đã xóa toàn bộ thông tin cá nhân" in erased
        assert "kể cả nội dung cuộc trò chuyện" in erased

        tracker = live_stack.rasa_tracker(cid)
        after = json.dumps(tracker, ensure_ascii=False).lower()
        assert not [e for e in tracker["events"] if e.get("event") == "user"]
        for old in ("0987654321", "987 654", "riêng tư", code.lower(), "hoàn kiếm"):
            assert old not in after.replace(" ", "")
            assert old not in after

        # The reply cache is gone too: the same platform message again is a new turn, not
        # the old answer with the reference code.
        again = texts(say(client, "/affirm", message_id="confirm-1"))
        assert code not in again
        assert "Mã tờ khai" not in again
        view_after = texts(say(client, "xem thông tin của tôi"))
    assert "tờ khai" not in view_after
    assert code not in view_after
    # Messages after the erasure start a new transcript (kept as the reply says); nothing of
    # the erased one is left in it.
    engine = create_engine(live_stack.database_url)
    try:
        with engine.connect() as conn:
            kept = conn.scalars(
                select(ConversationMessage.text)
                .join(Resident)
                .where(Resident.conversation_id == cid)
            ).all()
    finally:
        engine.dispose()
    joined = " ".join(kept).lower()
    for old in ("0987654321", "0987 654 321", "riêng tư", code.lower()):
        assert old not in joined
    audit = _scalar(
        live_stack,
        select(AuditEvent.detail)
        .where(AuditEvent.action == "privacy.erased")
        .order_by(AuditEvent.id.desc()),
    )
    detail = audit if isinstance(audit, dict) else json.loads(audit)
    assert detail["tracker"] is True
    assert detail["rows"]["health_declarations"] == 1
    assert "0987" not in json.dumps(detail)


def test_purge_trims_events_older_than_the_retention_from_a_kept_conversation(
    live_stack: LiveStack,
) -> None:
    """A resident who keeps talking keeps their conversation, but not its part older than 12
    months: Rasa's tracker loses those events (in memory, and in Redis where Rasa would merge
    them back)."""
    with live_stack.chat() as client:
        say(client, "/human_handoff")
        cid = f"web:{client.cookies['hotline_chat']}"
    settings = live_stack.settings
    token = settings.rasa_token.get_secret_value()
    long_ago = time.time() - 400 * 24 * 3600
    old_event = {
        "event": "user",
        "text": "tin cũ 0911 222 333",
        "timestamp": long_ago,
        "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []},
    }
    response = httpx.post(
        f"{settings.rasa_url}/conversations/{cid}/tracker/events",
        params={"token": token},
        json=[old_event],
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert "tin cũ" in json.dumps(live_stack.rasa_tracker(cid), ensure_ascii=False)
    engine = create_engine(live_stack.database_url)
    with engine.begin() as conn:
        conn.execute(
            update(Resident)
            .where(Resident.conversation_id == cid)
            .values(created_at=datetime.fromtimestamp(long_ago, UTC))
        )
    engine.dispose()

    env = {
        **os.environ,
        "DATABASE_URL": live_stack.database_url,
        "RASA_URL": settings.rasa_url,
        "RASA_TOKEN": token,
        "JOBS_STREAM": settings.jobs_stream,
    }
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "privacy", "purge", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["trackers_trimmed"] >= 1

    tracker = json.dumps(live_stack.rasa_tracker(cid), ensure_ascii=False)
    assert "tin cũ" not in tracker
    assert "0911" not in tracker
    assert "/human_handoff" in tracker  # today's part of the conversation stays
    assert _scalar(live_stack, select(func.count()).where(Resident.conversation_id == cid)) == 1
