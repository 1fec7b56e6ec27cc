""" "Xóa thông tin của tôi": every registry table and Redis key of the conversation, no other
conversation's, audited with counts only; "xem thông tin của tôi" from the same registry."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.conversations.messages import OutboundReply
from bot.conversations.pipeline import ConversationPipeline
from bot.conversations.rasa_client import COMMAND_KEY, RasaClient, _merge_replies
from bot.privacy.registry import PERSONAL_TABLES
from bot.privacy.runtime import ERASE_COMMAND
from bot.privacy.service import (
    describe_personal_data,
    erase_outside_database,
    erase_personal_data,
)
from bot.requests.codes import format_ref
from bot.settings import Settings
from tests.e2e.conftest import free_port
from tests.privacy.factories import STREAM, fill_everything, fill_redis, rows_by_table

ALICE = "zalo:alice0001"
BOB = "zalo:bob0002"


def _audit(session: Session, action: str) -> AuditEvent:
    event = session.scalar(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    )
    assert event is not None
    return event


def _assert_no_personal_data(detail: dict) -> None:
    text = json.dumps(detail, ensure_ascii=False)
    for secret in ("0987654321", "Riêng", "alice", "bob", "Đường"):
        assert secret not in text


async def test_erasure_takes_every_row_and_key_of_the_conversation_and_nothing_else(
    session: Session, redis
) -> None:
    fill_everything(session, BOB, team_slug="erase-team")
    await fill_redis(redis, BOB)
    bob_rows = rows_by_table(session)
    bob_keys = sorted(await redis.keys("*"))
    fill_everything(session, ALICE, team_slug="erase-team")
    await fill_redis(redis, ALICE)

    erasure = await erase_outside_database(
        redis=redis, tracker_store=None, conversation_id=ALICE, jobs_stream=STREAM
    )
    erase_personal_data(session=session, conversation_id=ALICE, actor="resident", erasure=erasure)

    # Alice had a row in every table of the registry, and all of them went.
    assert set(erasure.rows) == {entry.table for entry in PERSONAL_TABLES}
    assert rows_by_table(session) == bob_rows
    # Her cached replies (name and phone), Zalo choices, Rasa's tracker keys (both stores') and
    # queued job went; Bob's stayed.
    assert erasure.keys == 8
    assert sorted(await redis.keys("*")) == bob_keys
    entries = await redis.xrange(STREAM)
    assert [json.loads(f["job"])["conversation_id"] for _, f in entries] == [BOB]

    event = _audit(session, "privacy.erased")
    assert event.detail["rows"] == erasure.rows
    assert event.detail["keys"] == 8
    _assert_no_personal_data(event.detail)


async def test_view_lists_each_kind_from_the_registry_and_nothing_after_erasure(
    session: Session, redis
) -> None:
    ref = fill_everything(session, ALICE, team_slug="view-team")
    lines = describe_personal_data(session=session, conversation_id=ALICE, messages=7)
    text = "\n".join(lines)
    assert "Mã tài khoản Zalo" in text
    assert "1 đề nghị hỗ trợ" in text
    assert format_ref(ref) in text
    assert "1 tờ khai y tế" in text
    assert "1 lần bạn đồng ý" in text
    assert "1 lần đề nghị gặp nhân viên" in text
    assert "không gửi được tới bạn" in text
    assert "7 tin nhắn của bạn" in text
    assert "Zalo" in text
    assert "24 giờ" in text
    viewed = _audit(session, "privacy.viewed")
    _assert_no_personal_data(viewed.detail)

    erase_personal_data(session=session, conversation_id=ALICE, actor="resident")
    assert describe_personal_data(session=session, conversation_id=ALICE) == []


async def test_erasing_twice_or_a_stranger_erases_nothing(session: Session, redis) -> None:
    fill_everything(session, BOB, team_slug="noop-team")
    before = rows_by_table(session)
    erasure = erase_personal_data(session=session, conversation_id="web:nobody", actor="resident")
    assert erasure.rows == {}
    assert not erasure.anything
    assert rows_by_table(session) == before


def test_the_rasa_client_turns_the_action_command_into_a_reply_command() -> None:
    replies = _merge_replies(
        [{"text": "Xong."}, {"recipient_id": ALICE, "custom": {COMMAND_KEY: ERASE_COMMAND}}]
    )
    assert replies == [OutboundReply("Xong."), OutboundReply("", command=ERASE_COMMAND)]


async def test_the_pipeline_erases_after_the_turn_and_says_what_it_could_not(
    session: Session, redis
) -> None:
    """With Rasa unreachable the rows and keys still go, and the resident is told that the
    conversation itself was not erased (the e2e test covers a reachable Rasa)."""
    fill_everything(session, ALICE, team_slug="pipe-team")
    await fill_redis(redis, ALICE)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, rasa_url=f"http://127.0.0.1:{free_port()}", jobs_stream=STREAM
    )
    rasa = RasaClient(settings)
    pipeline = ConversationPipeline(settings=settings, rasa=rasa, redis=redis)
    try:
        replies = await pipeline._run_commands(ALICE, [OutboundReply("", command=ERASE_COMMAND)])
    finally:
        await rasa.aclose()
    assert len(replies) == 1
    assert replies[0].command is None
    assert "chưa xóa được nội dung cuộc trò chuyện" in replies[0].text
    assert describe_personal_data(session=session, conversation_id=ALICE) == []
    assert await redis.keys(f"*{ALICE}*") == []
    assert _audit(session, "privacy.erased").detail["tracker"] is False
