"""The rumour inbox on both databases: grouping, opt-in, answers that become rumour content,
residents told once, the audit, and the privacy registry (erasure, retention)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.db.base import utcnow
from bot.outbound.models import OutboundMessage
from bot.privacy.service import erase_records, purge_records
from bot.rumours.lookup import rumour_answer
from bot.rumours.models import RumourGroup, RumourQuestion
from bot.rumours.service import (
    RUMOUR_ANSWER_KIND,
    RumourError,
    answer_group,
    list_groups,
    new_groups_on,
    opt_in,
    record_question,
    vietnam_day,
)
from bot.users.models import Role
from tests.users.factories import make_user

SALT = "Nghe nói Tôi là Nguyễn Văn An, uống nước dừa tươi chữa được covid có đúng không?"


def _ask(session: Session, text: str, channel: str = "telegram") -> RumourQuestion:
    question = record_question(session=session, text=text, channel=channel)
    assert question is not None
    return question


def test_similar_questions_are_grouped_and_kept_without_names(session: Session) -> None:
    first = _ask(session, SALT)
    second = _ask(session, "uong nuoc dua tuoi chua covid that ko", channel="zalo")
    other = _ask(session, "mai phong tỏa toàn thành phố đúng không")
    assert first.group_id == second.group_id != other.group_id
    assert "Nguyễn" not in first.text
    assert "[tên]" in first.text
    groups = list_groups(session=session)
    assert [g.group.questions for g in groups] == [1, 2]  # most recently asked first
    assert groups[1].examples[0] == second.text
    # a question with nothing to check is not kept
    assert record_question(session=session, text="tin này có thật không?", channel="web") is None


def test_opt_in_needs_the_questions_token_and_channel(session: Session) -> None:
    question = _ask(session, SALT)
    assert opt_in(session=session, token="nope", conversation_id="telegram:1") is None
    assert opt_in(session=session, token=question.token, conversation_id="zalo:1") is None
    assert question.conversation_id is None
    assert opt_in(session=session, token=question.token, conversation_id="telegram:42")
    assert question.conversation_id == "telegram:42"


@pytest.mark.parametrize(
    ("verdict", "answer", "message"),
    [
        ("maybe", "Tin này không đúng, theo Bộ Y tế.", "kết luận"),
        ("false", "Sai.", "ít nhất"),
        ("false", "x" * 1001, "tối đa 1000"),
        ("false", "Không đúng\x00 theo Bộ Y tế ạ", "không hợp lệ"),
    ],
)
def test_bad_answers_are_refused(session: Session, verdict: str, answer: str, message: str) -> None:
    group_id = _ask(session, SALT).group_id
    admin = make_user(session, role=Role.ADMIN)
    with pytest.raises(RumourError, match=message):
        answer_group(session=session, group_id=group_id, user=admin, verdict=verdict, answer=answer)


def test_only_admins_answer(session: Session) -> None:
    group_id = _ask(session, SALT).group_id
    staff = make_user(session, role=Role.STAFF)
    with pytest.raises(RumourError, match="quản trị viên"):
        answer_group(
            session=session,
            group_id=group_id,
            user=staff,
            verdict="false",
            answer="Nước dừa không chữa được COVID-19, theo Bộ Y tế.",
        )


def test_an_answer_becomes_rumour_content_and_opted_in_residents_are_told_once(
    session: Session,
) -> None:
    asked = "uống nước dừa tươi chữa covid à"
    assert rumour_answer(session=session, text=asked) is None
    first = _ask(session, SALT)
    again = _ask(session, "uong nuoc dua tuoi chua duoc covid k")
    third = _ask(session, "uống nước dừa tươi để chữa covid", channel="zalo")
    for question, cid in ((first, "telegram:42"), (again, "telegram:42"), (third, "zalo:7")):
        opt_in(session=session, token=question.token, conversation_id=cid)
    admin = make_user(session, role=Role.ADMIN)
    answer = "Nước dừa không chữa được COVID-19 (Bộ Y tế)."
    told = answer_group(
        session=session, group_id=first.group_id, user=admin, verdict="false", answer=answer
    )
    assert told == 2  # telegram:42 asked twice: one copy
    # answering again (a correction) tells nobody twice
    answer_group(
        session=session, group_id=first.group_id, user=admin, verdict="false", answer=answer
    )
    rows = session.scalars(
        select(OutboundMessage).where(OutboundMessage.kind == RUMOUR_ANSWER_KIND)
    ).all()
    assert sorted((m.channel, m.address) for m in rows) == [("telegram", "42"), ("zalo", "7")]
    assert all("Tin này không đúng. Nước dừa" in m.text for m in rows)
    found = rumour_answer(session=session, text=asked)
    assert found is not None
    assert found.text == f"Tin này không đúng. {answer}"
    assert rumour_answer(session=session, text="mai phát gạo ở phường không") is None
    audit = session.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "rumour.answered")
    ).all()
    assert audit[0] == {"verdict": "false", "questions": 3, "told": 2}
    assert list_groups(session=session, status="open") == []
    assert new_groups_on(session=session, day=vietnam_day(utcnow())) == []


def test_the_yaml_rumours_still_come_first(session: Session) -> None:
    found = rumour_answer(session=session, text="vắc xin làm thay đổi ADN")
    assert found is not None
    assert found.text.startswith("Tin này không đúng")


def test_erasure_takes_the_opted_in_questions_and_the_purge_the_old_ones(
    session: Session,
) -> None:
    linked = _ask(session, SALT)
    opt_in(session=session, token=linked.token, conversation_id="telegram:42")
    kept = _ask(session, "uong nuoc dua tuoi chua covid")
    counts = erase_records(session=session, conversation_id="telegram:42")
    assert counts.get("rumour_questions") == 1
    ids = session.scalars(select(RumourQuestion.id)).all()
    assert ids == [kept.id]
    purge = purge_records(session=session, cutoff=utcnow() + timedelta(days=1))
    assert purge.rows.get("rumour_questions") == 1
    assert session.scalar(select(func.count()).select_from(RumourQuestion)) == 0
    assert session.scalar(select(func.count()).select_from(RumourGroup)) == 1
