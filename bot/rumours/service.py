"""The rumour inbox: keeping unmatched rumour questions (scrubbed), grouping similar ones,
admins' answers (which become rumour content the bot answers from), and telling residents
who asked to be told."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.conversations.messages import OutboundReply
from bot.db.base import utcnow
from bot.outbound.models import OutboundMessage
from bot.outbound.service import enqueue
from bot.rumours.models import RumourGroup, RumourQuestion, Verdict
from bot.rumours.scrub import scrub
from bot.users.models import Role, User
from hotline_nlu.normalize import fold

# token_sort_ratio of the keys (0–100): "mai phong tỏa toàn thành phố" and "có phải mai phong
# toả cả thành phố ko" score 85; "tiêm vắc xin bị liệt" and "… phải trả tiền" 68.
SIMILAR = 80
MAX_TEXT = 500
MIN_ANSWER, MAX_ANSWER = 20, 1000
RUMOUR_ANSWER_KIND = "rumour_answer"
NOTIFIABLE_CHANNELS = ("telegram", "zalo")  # the web chat cannot be reached later
# Words of asking, not of the rumour ("nghe nói … có đúng không"): left out of the keys.
_FILLER = frozenset(
    [
        "co",
        "phai",
        "khong",
        "ko",
        "k",
        "kg",
        "khg",
        "hok",
        "that",
        "thiet",
        "dung",
        "tin",
        "nghe",
        "noi",
        "la",
        "a",
        "ah",
        "oi",
        "nay",
        "do",
        "hay",
        "nhi",
        "vay",
        "the",
        "ban",
        "bot",
        "cho",
        "hoi",
        "minh",
        "toi",
        "em",
        "sao",
        "duoc",
        "nhe",
        "ha",
        "on",
        "nguoi",
        "ta",
        "rang",
        "bao",
        "ai",
        "rui",
        "roi",
    ]
)
VERDICT_LEAD = {
    Verdict.FALSE: "Tin này không đúng.",
    Verdict.TRUE: "Tin này đúng.",
    Verdict.UNCLEAR: "Tin này chưa được cơ quan chức năng xác nhận.",
}
VERDICT_LABELS = {Verdict.FALSE: "Sai", Verdict.TRUE: "Đúng", Verdict.UNCLEAR: "Chưa rõ"}


class RumourError(ValueError):
    """A refused step; the message is shown to the admin (Vietnamese)."""


def rumour_key(text: str) -> str:
    """The words of a question that say what the rumour is: folded, filler dropped."""
    return " ".join(w for w in re.findall(r"[a-z0-9]+", fold(text)) if w not in _FILLER)[:500]


def _similar(key: str, keys: dict[int, str]) -> int | None:
    """The id of the most similar key (SIMILAR or more), or None."""
    found = process.extractOne(key, keys, scorer=fuzz.token_sort_ratio, score_cutoff=SIMILAR)
    return int(found[2]) if found is not None else None


# --- the rumour content of the database (the one function to re-point) ----------------------


@dataclass(frozen=True)
class AnsweredRumour:
    group_id: int
    verdict: str
    text: str  # what residents are told
    keys: tuple[str, ...]  # the group's questions, as keys


def answered_rumours(*, session: Session) -> list[AnsweredRumour]:
    """The rumours admins answered in the inbox: where the bot's rumour lookup reads the
    database's rumour content (data/content/rumors.yml is read beside it)."""
    groups = session.scalars(
        select(RumourGroup).where(RumourGroup.answer.is_not(None)).order_by(RumourGroup.id)
    ).all()
    texts: dict[int, list[str]] = {}
    if groups:
        rows = session.execute(
            select(RumourQuestion.group_id, RumourQuestion.text).where(
                RumourQuestion.group_id.in_([g.id for g in groups])
            )
        )
        for group_id, text in rows:
            texts.setdefault(group_id, []).append(rumour_key(text))
    return [
        AnsweredRumour(
            group_id=g.id,
            verdict=g.verdict or Verdict.UNCLEAR,
            text=resident_text(g.verdict or Verdict.UNCLEAR, g.answer or ""),
            keys=tuple(dict.fromkeys([g.key, *texts.get(g.id, [])])),
        )
        for g in groups
    ]


def resident_text(verdict: str, answer: str) -> str:
    """The answer as residents read it: the verdict first, unless the admin wrote it."""
    lead = VERDICT_LEAD.get(Verdict(verdict), "")
    return answer if answer.startswith("Tin này") else f"{lead} {answer}".strip()


def find_answered(*, session: Session, text: str) -> AnsweredRumour | None:
    """The answered rumour a question is about (similar to one of its questions), or None."""
    key = rumour_key(scrub(text))
    if not key:
        return None
    rumours = answered_rumours(session=session)
    keys = {(i, j): k for i, r in enumerate(rumours) for j, k in enumerate(r.keys)}
    found = process.extractOne(key, keys, scorer=fuzz.token_sort_ratio, score_cutoff=SIMILAR)
    return rumours[found[2][0]] if found is not None else None


# --- the inbox ---------------------------------------------------------------------------------


def vietnam_day(moment: datetime) -> date:
    from bot.web.templating import VIETNAM

    return moment.astimezone(VIETNAM).date()


def record_question(
    *, session: Session, text: str, channel: str, now: datetime | None = None
) -> RumourQuestion | None:
    """Keeps an unmatched rumour question, scrubbed, in the group of similar questions (a new
    group when there is none); None when it says nothing to check ("tin này có thật không")."""
    scrubbed = scrub(text)[:MAX_TEXT]
    key = rumour_key(scrubbed)
    if len(key.split()) < 2:
        return None
    now = now or utcnow()
    keys = dict(
        session.execute(
            select(RumourGroup.id, RumourGroup.key)
            .order_by(RumourGroup.last_asked_at.desc())
            .limit(5000)
        ).all()
    )
    group_id = _similar(key, keys)
    group = session.get(RumourGroup, group_id) if group_id is not None else None
    if group is None:
        group = RumourGroup(key=key, example=scrubbed, questions=0, last_asked_at=now)
        session.add(group)
        session.flush()
    group.questions += 1
    group.last_asked_at = now
    question = RumourQuestion(
        group_id=group.id,
        text=scrubbed,
        channel=channel[:16],
        day=vietnam_day(now),
        token=secrets.token_hex(8),
        created_at=now,
    )
    session.add(question)
    session.flush()
    return question


def opt_in(*, session: Session, token: str, conversation_id: str) -> RumourQuestion | None:
    """Links a question to the resident's conversation so they are told the answer (the
    token of the button proves they asked it); None for an unknown token."""
    question = session.scalar(select(RumourQuestion).where(RumourQuestion.token == token))
    if question is None or conversation_id.split(":", 1)[0] != question.channel:
        return None
    question.conversation_id = conversation_id
    session.flush()
    record_audit(
        session=session,
        actor="resident",
        action="rumour.followup_requested",
        entity="rumour_question",
        entity_id=question.id,
        detail={"group": question.group_id},
    )
    return question


@dataclass(frozen=True)
class GroupView:
    group: RumourGroup
    examples: list[str]
    waiting: int  # residents who asked to be told


def list_groups(*, session: Session, status: str = "open", limit: int = 100) -> list[GroupView]:
    """Groups, most recently asked first, with up to three example questions each."""
    query = select(RumourGroup).order_by(RumourGroup.last_asked_at.desc()).limit(limit)
    if status == "open":
        query = query.where(RumourGroup.answer.is_(None))
    elif status == "answered":
        query = query.where(RumourGroup.answer.is_not(None))
    groups = list(session.scalars(query))
    return [_view(session, g) for g in groups]


def _view(session: Session, group: RumourGroup, examples: int = 3) -> GroupView:
    texts = session.scalars(
        select(RumourQuestion.text)
        .where(RumourQuestion.group_id == group.id)
        .order_by(RumourQuestion.id.desc())
        .limit(50)
    ).all()
    waiting = session.scalar(
        select(func.count())
        .select_from(RumourQuestion)
        .where(
            RumourQuestion.group_id == group.id,
            RumourQuestion.conversation_id.is_not(None),
            RumourQuestion.notified_at.is_(None),
        )
    )
    return GroupView(group, list(dict.fromkeys(texts))[:examples], int(waiting or 0))


def get_group(*, session: Session, group_id: int) -> GroupView | None:
    """One group with up to ten example questions."""
    group = session.get(RumourGroup, group_id)
    return _view(session, group, examples=10) if group is not None else None


def check_answer(*, verdict: str, answer: str) -> tuple[Verdict, str]:
    """The verdict and the cleaned answer; RumourError when they cannot be used."""
    try:
        chosen = Verdict(verdict)
    except ValueError:
        raise RumourError("Hãy chọn kết luận: đúng, sai hoặc chưa rõ.") from None
    text = " ".join(answer.split())
    if "\x00" in answer:
        raise RumourError("Câu trả lời có ký tự không hợp lệ.")
    if len(text) < MIN_ANSWER:
        raise RumourError(f"Câu trả lời cần ít nhất {MIN_ANSWER} ký tự, nói rõ vì sao.")
    if len(text) > MAX_ANSWER:
        raise RumourError(f"Câu trả lời dài {len(text)} ký tự, tối đa {MAX_ANSWER}.")
    return chosen, text


def answer_group(*, session: Session, group_id: int, user: User, verdict: str, answer: str) -> int:
    """An admin answers a group: the answer becomes rumour content the bot answers from, and
    each resident who asked to be told gets it once through the outbound path. Returns how
    many were told."""
    if user.role != Role.ADMIN or user.disabled:
        raise RumourError("Chỉ quản trị viên được trả lời tin đồn.")
    chosen, text = check_answer(verdict=verdict, answer=answer)
    group = session.get(RumourGroup, group_id)
    if group is None:
        raise RumourError("Không có nhóm câu hỏi này.")
    group.verdict = chosen.value
    group.answer = text
    group.answered_by_id = user.id
    group.answered_at = utcnow()
    session.flush()
    told = _tell_residents(session, group)
    record_audit(
        session=session,
        actor=f"user:{user.id}",
        action="rumour.answered",
        entity="rumour_group",
        entity_id=group.id,
        detail={"verdict": chosen.value, "questions": group.questions, "told": told},
    )
    return told


def _tell_residents(session: Session, group: RumourGroup) -> int:
    waiting = session.scalars(
        select(RumourQuestion).where(
            RumourQuestion.group_id == group.id,
            RumourQuestion.conversation_id.is_not(None),
            RumourQuestion.notified_at.is_(None),
        )
    ).all()
    told: set[str] = set()
    now = utcnow()
    for question in waiting:
        conversation_id = question.conversation_id or ""
        channel, _, address = conversation_id.partition(":")
        # one copy per resident and group, however often they asked
        key = f"rumour_answer:{group.id}:{conversation_id}"
        queued = session.scalar(select(OutboundMessage.id).where(OutboundMessage.dedupe_key == key))
        if queued is None:
            enqueue(
                session=session,
                channel=channel,
                address=address,
                reply=OutboundReply(
                    f"Bạn đã hỏi tổng đài về tin: “{question.text[:200]}”\n"
                    f"{resident_text(group.verdict or Verdict.UNCLEAR, group.answer or '')}"
                ),
                kind=RUMOUR_ANSWER_KIND,
                conversation_id=conversation_id,
                dedupe_key=key,
            )
            told.add(conversation_id)
        question.notified_at = now
    session.flush()
    return len(told)


def new_groups_on(*, session: Session, day: date) -> list[tuple[str, int]]:
    """Groups first asked on a day and still unanswered: (example, questions), most asked
    first (for the daily report)."""
    from bot.requests.workspace import day_bounds

    start, end = day_bounds(day, day)
    rows = session.execute(
        select(RumourGroup.example, RumourGroup.questions)
        .where(
            RumourGroup.created_at >= start,
            RumourGroup.created_at < end,
            RumourGroup.answer.is_(None),
        )
        .order_by(RumourGroup.questions.desc(), RumourGroup.id)
    ).all()
    return [(example, int(n)) for example, n in rows]
