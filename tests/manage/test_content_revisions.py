"""Admins' content edits: validated, laid over the files for every reader, with history and
revert, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.models import AuditEvent
from bot.console.content import canned_replies
from bot.content import revisions
from bot.content.aid_programmes import load_aid_programmes
from bot.content.kinds import KINDS
from bot.content.models import ContentRevision
from bot.content.revisions import (
    ContentEditError,
    create_entry,
    get_entry,
    history,
    list_entries,
    revert,
    save_entry,
)
from bot.content.service import example_content_in_use, fact, faq_answer, find_rumor
from bot.db import session as db_session
from bot.db.migrate import upgrade
from bot.db.session import make_engine
from bot.users.models import User

FAQ = KINDS["faq"]
NEW_TEXT = (
    "Bạn có thể xét nghiệm tại trạm y tế phường. Gọi {hotlines.emergency.number} khi khẩn cấp."
)


def _faq_value(session: Session, topic: str) -> dict:
    entry = get_entry(session=session, kind=FAQ, key=topic)
    assert entry is not None
    return dict(entry.value)


def test_an_edited_answer_is_what_the_bot_answers_at_once(session: Session, admin: User) -> None:
    before = faq_answer("ask_testing").text
    value = _faq_value(session, "ask_testing") | {"text": NEW_TEXT}
    save_entry(session=session, kind=FAQ, key="ask_testing", value=value, author=admin, note="mới")
    answer = faq_answer("ask_testing").text
    assert answer != before
    assert answer == "Bạn có thể xét nghiệm tại trạm y tế phường. Gọi 115 khi khẩn cấp."
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "content.edited")).one()
    assert event.actor == f"user:{admin.id}"
    assert event.detail == {"kind": "faq", "key": "ask_testing", "fields": ["text"]}


def test_another_process_sees_an_edit_after_its_next_check(
    session: Session, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revision written by someone else (no in-process invalidation) is picked up by the
    version check, not before it is due."""
    original = faq_answer("ask_testing").text  # loads and caches the edits (none)
    value = _faq_value(session, "ask_testing") | {"text": NEW_TEXT}
    session.add(ContentRevision(kind="faq", key="ask_testing", value=value, author_id=admin.id))
    session.flush()
    monkeypatch.setattr(revisions, "CHECK_SECONDS", 3600.0)
    assert faq_answer("ask_testing").text == original  # cached: no query per reply
    monkeypatch.setattr(revisions, "CHECK_SECONDS", 0.0)
    assert "Gọi 115 khi khẩn cấp" in faq_answer("ask_testing").text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Câu trả lời: bắt buộc"),
        ("Gọi {hotlines.nowhere.number} ngay.", "không có thông tin {hotlines.nowhere.number}"),
        ("Gọi {số} ngay nhé bạn ơi.", "dấu ngoặc nhọn"),
        ("Ban hay goi tong dai de duoc ho tro", "tiếng Việt có dấu"),
        ("Dòng dài. " * 300, "tối đa 2000"),
    ],
)
def test_a_bad_answer_is_refused_with_the_reason(
    session: Session, admin: User, text: str, problem: str
) -> None:
    value = _faq_value(session, "ask_testing") | {"text": text}
    with pytest.raises(ContentEditError) as refused:
        save_entry(session=session, kind=FAQ, key="ask_testing", value=value, author=admin)
    assert problem in str(refused.value)
    assert session.scalar(select(ContentRevision.id)) is None


def test_an_unchanged_save_is_refused(session: Session, admin: User) -> None:
    with pytest.raises(ContentEditError, match="Không có thay đổi"):
        save_entry(
            session=session,
            kind=FAQ,
            key="ask_testing",
            value=_faq_value(session, "ask_testing"),
            author=admin,
        )


def test_history_shows_who_changed_which_field_and_revert_restores_it(
    session: Session, admin: User
) -> None:
    shipped = _faq_value(session, "ask_testing")
    first = save_entry(
        session=session,
        kind=FAQ,
        key="ask_testing",
        value=shipped | {"text": NEW_TEXT},
        author=admin,
    )
    save_entry(
        session=session,
        kind=FAQ,
        key="ask_testing",
        value=shipped | {"text": NEW_TEXT, "verified": True},
        author=admin,
    )
    entry = get_entry(session=session, kind=FAQ, key="ask_testing")
    assert entry is not None
    lines = history(session=session, entry=entry)
    assert [line.revision.id for line in lines][-1] == first.id
    assert [c.field for c in lines[0].changes] == ["verified"]
    assert lines[0].changes[0].before == "False"
    assert lines[0].changes[0].after == "True"
    assert lines[1].changes[0].field == "text"
    assert lines[1].author == "Trần Quản Trị (quan.tri)"

    revert(session=session, entry=entry, revision_id=first.id, author=admin)
    assert _faq_value(session, "ask_testing")["verified"] is False
    entry = get_entry(session=session, kind=FAQ, key="ask_testing")
    assert entry is not None
    revert(session=session, entry=entry, revision_id=None, author=admin)
    shipped_answer = faq_answer("ask_testing", content_dir=revisions.get_settings().content_dir)
    assert faq_answer("ask_testing").text == shipped_answer.text
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["content.reverted", "content.reverted"]


def test_a_revision_of_another_entry_cannot_be_reverted_to(session: Session, admin: User) -> None:
    other = save_entry(
        session=session,
        kind=FAQ,
        key="ask_vaccination",
        value=_faq_value(session, "ask_vaccination") | {"text": NEW_TEXT},
        author=admin,
    )
    entry = get_entry(session=session, kind=FAQ, key="ask_testing")
    assert entry is not None
    with pytest.raises(LookupError):
        revert(session=session, entry=entry, revision_id=other.id, author=admin)


def test_a_new_rumour_is_found_in_residents_messages(session: Session, admin: User) -> None:
    assert find_rumor("dán gừng vào rốn chữa được covid") is None
    create_entry(
        session=session,
        kind=KINDS["rumors"],
        value={
            "id": "gung_ron",
            "keywords": ["dan gung vao ron"],
            "verdict": "false",
            "text": "Tin này không đúng. Dán gừng vào rốn không chữa được COVID-19.",
        },
        author=admin,
    )
    found = find_rumor("dán gừng vào rốn chữa được covid")
    assert found is not None
    assert found.text.startswith("Tin này không đúng")
    keys = [e.key for e in list_entries(session=session, kind=KINDS["rumors"])]
    assert keys[-1] == "gung_ron"
    with pytest.raises(ContentEditError, match="đã có"):
        create_entry(
            session=session,
            kind=KINDS["rumors"],
            value={"id": "gung_ron", "keywords": ["a b"], "text": "Tin này không đúng nhé bạn."},
            author=admin,
        )


def test_rumour_keywords_must_be_plain_lower_case_words(session: Session, admin: User) -> None:
    with pytest.raises(ContentEditError, match="không dấu"):
        create_entry(
            session=session,
            kind=KINDS["rumors"],
            value={"id": "toi", "keywords": ["ăn tỏi"], "text": "Tin này không đúng, bạn nhé."},
            author=admin,
        )


def test_a_fact_reaches_residents_only_once_marked_verified(session: Session, admin: User) -> None:
    facts = KINDS["facts"]
    entry = get_entry(session=session, kind=facts, key="hotlines.local")
    assert entry is not None
    value = dict(entry.value)
    value["values"] = value["values"] | {"number": "0236 3822 111"}
    save_entry(session=session, kind=facts, key="hotlines.local", value=value, author=admin)
    assert fact("hotlines.local.number") == "1900 9095"  # still an example: the fallback
    value["verified"] = ["number"]
    save_entry(session=session, kind=facts, key="hotlines.local", value=value, author=admin)
    assert fact("hotlines.local.number") == "0236 3822 111"
    # The hotline list's local line also shows the label and hours: still examples, so out.
    assert "0236 3822 111" not in faq_answer("ask_hotline").text
    value["values"] |= {"label": "Tổng đài của phường", "hours": "7:00–21:00 hằng ngày"}
    value["verified"] = list(value["values"])
    save_entry(session=session, kind=facts, key="hotlines.local", value=value, author=admin)
    assert "Tổng đài của phường: 0236 3822 111" in faq_answer("ask_hotline").text
    # Un-verifying a value of a verified group takes it away from residents again.
    moh = get_entry(session=session, kind=facts, key="hotlines.moh")
    assert moh is not None
    save_entry(
        session=session,
        kind=facts,
        key="hotlines.moh",
        value=dict(moh.value) | {"verified": ["label", "hours", "note"]},
        author=admin,
    )
    assert "hotlines.moh.number" in " ".join(example_content_in_use())


def test_every_entry_verified_one_by_one_counts_as_a_verified_file(
    session: Session, admin: User
) -> None:
    assert any(line.startswith("faq.yml") for line in example_content_in_use())
    for entry in list_entries(session=session, kind=FAQ):
        save_entry(
            session=session,
            kind=FAQ,
            key=entry.key,
            value=dict(entry.value) | {"verified": True},
            author=admin,
        )
    assert not any(line.startswith("faq.yml") for line in example_content_in_use())


def test_an_edited_canned_reply_is_offered_in_the_console(session: Session, admin: User) -> None:
    kind = KINDS["canned_replies"]
    entry = get_entry(session=session, kind=kind, key="chao_hoi")
    assert entry is not None
    save_entry(
        session=session,
        kind=kind,
        key="chao_hoi",
        value=dict(entry.value) | {"text": "Xin chào, tổng đài {organisation.name} nghe đây ạ."},
        author=admin,
    )
    texts = [reply.text for reply in canned_replies()]
    assert "Xin chào, tổng đài Tổng đài hỗ trợ người dân nghe đây ạ." in texts
    assert len(texts) == 5


def test_reading_the_edits_does_not_wait_for_a_writer_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request whose session holds SQLite's write lock still gets its answer at once (the
    edits are read in a DEFERRED transaction, not an IMMEDIATE one)."""
    url = f"sqlite:///{tmp_path / 'edits.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    monkeypatch.setattr(db_session, "get_sessionmaker", lambda: factory)
    monkeypatch.setattr(revisions, "CHECK_SECONDS", 0.0)
    try:
        with factory() as writer:
            writer.add(ContentRevision(kind="faq", key="ask_testing", value={"text": NEW_TEXT}))
            writer.flush()  # BEGIN IMMEDIATE: the write lock is held until the end
            started = time.monotonic()
            answer = faq_answer("ask_testing").text
            assert time.monotonic() - started < 5  # the busy timeout is 30 s
            assert "Gọi 115" not in answer  # not committed: not seen
            writer.commit()
        assert "Gọi 115 khi khẩn cấp" in faq_answer("ask_testing").text
    finally:
        engine.dispose()


def test_an_edited_aid_programme_is_what_the_bot_answers_from(
    session: Session, admin: User
) -> None:
    kind = KINDS["aid_programmes"]
    entry = get_entry(session=session, kind=kind, key="tro-cap-that-nghiep")
    assert entry is not None
    value = dict(entry.value) | {
        "benefit": "Mỗi tháng bằng 60% mức lương bình quân đóng bảo hiểm thất nghiệp.",
        "area": ["national"],
        "valid_to": "",
    }
    save_entry(session=session, kind=kind, key="tro-cap-that-nghiep", value=value, author=admin)
    programmes = {p.id: p for p in load_aid_programmes().programmes}
    edited = programmes["tro-cap-that-nghiep"]
    assert edited.benefit.startswith("Mỗi tháng bằng 60%")
    assert edited.area == "national"
    saved = get_entry(session=session, kind=kind, key="tro-cap-that-nghiep")
    assert saved is not None
    assert "valid_to" not in saved.value  # left empty: until further notice


def test_an_aid_programme_for_an_unknown_area_is_refused(session: Session, admin: User) -> None:
    kind = KINDS["aid_programmes"]
    entry = get_entry(session=session, kind=kind, key="tro-cap-that-nghiep")
    assert entry is not None
    with pytest.raises(ContentEditError) as refused:
        save_entry(
            session=session,
            kind=kind,
            key="tro-cap-that-nghiep",
            value=dict(entry.value) | {"area": ["99999"]},
            author=admin,
        )
    assert "99999" in str(refused.value)
