"""Priority as a score with its reasons, one order for every list, and open-request updates."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound.claims import claim_due
from bot.outbound.models import OutboundMessage
from bot.requests.priority import LEVEL_THRESHOLDS, assess_priority, level_for
from bot.requests.service import (
    AidRequestUpdate,
    InvalidRequest,
    find_open_aid_request,
    list_aid_requests,
    submit_aid_request,
    update_open_aid_request,
)
from bot.requests.validation import MAX_HOUSEHOLD
from tests.requests.factories import SAI_GON, TAN_DINH, aid_in, conversation_id, make_team


def test_a_family_with_small_children_ranks_above_one_adult() -> None:
    family = assess_priority(
        needs=["food"],
        vulnerable=["child_under_6"],
        household_size=5,
        days_without_food=3,
        description="Nhà 5 người, 2 cháu nhỏ, hết gạo 3 ngày",
    )
    adult = assess_priority(
        needs=["food"],
        vulnerable=[],
        household_size=1,
        days_without_food=3,
        description="Hết gạo 3 ngày",
    )
    assert family.score > adult.score
    assert (adult.score, adult.level) == (55, 1)  # 10 essential + 3 × 15 days
    assert family.score == 55 + 4 + 15  # + 2 members beyond 3 + a child under 6
    assert family.reasons == [
        "Nhu cầu thiết yếu (lương thực, nước, thuốc, y tế) (+10)",
        "Đã 3 ngày không có lương thực (+45)",
        "Hộ đông người (5 người) (+4)",
        "Có trẻ dưới 6 tuổi (+15)",
    ]


@pytest.mark.parametrize(
    ("kwargs", "score", "level"),
    [
        ({"needs": ["money"], "household_size": 2}, 0, 4),
        ({"needs": ["food"], "household_size": 7}, 18, 3),
        ({"needs": ["food"], "vulnerable": ["elderly"], "days_without_food": 1}, 37, 2),
        ({"needs": ["medicine"], "vulnerable": ["infected"], "household_size": 3}, 50, 1),
        ({"needs": ["medicine"], "vulnerable": ["sick"], "household_size": 3}, 42, 1),
        ({"needs": ["other"], "description": "bố tôi khó thở"}, 60, 1),
        ({"needs": ["other"], "description": "bo toi kho tho"}, 60, 1),
        ({"needs": ["food"], "days_without_food": 30}, 85, 1),  # days counted up to 5
        ({"needs": ["food"], "household_size": 40}, 26, 2),  # household points capped
    ],
)
def test_scoring_table(kwargs: dict, score: int, level: int) -> None:
    args = {
        "needs": [],
        "vulnerable": [],
        "household_size": 2,
        "days_without_food": None,
        "description": "",
    } | kwargs
    priority = assess_priority(**args)
    assert (priority.score, priority.level) == (score, level)
    assert sum(int(r.rsplit("(+", 1)[1].rstrip(")")) for r in priority.reasons if "(+" in r) == (
        score
    )


def test_levels_follow_the_thresholds() -> None:
    for level, lowest in LEVEL_THRESHOLDS:
        assert level_for(lowest) == level
        assert level_for(lowest - 1) == level + 1


def test_lists_and_team_notices_follow_the_score(session: Session) -> None:
    team = make_team(session, slug="t-score", wards=[TAN_DINH])
    adult = submit_aid_request(
        session=session,
        conversation_id=conversation_id(),
        data=aid_in(ward_code=TAN_DINH, household_size=1, description="hết gạo 3 ngày"),
    ).request
    family = submit_aid_request(
        session=session,
        conversation_id=conversation_id(),
        data=aid_in(
            ward_code=TAN_DINH,
            household_size=5,
            vulnerable=["child_under_6"],
            description="nhà 5 người, 2 cháu nhỏ, hết gạo 3 ngày",
        ),
    ).request
    # Same level (1), so the old order (level, then time) put the adult first.
    assert adult.priority == family.priority == 1
    assert family.priority_score > adult.priority_score
    listed = list_aid_requests(session=session, team_slug="t-score")
    assert [r.id for r in listed] == [family.id, adult.id]
    # A tie on the score goes to the larger household, not to the earlier message.
    small = submit_aid_request(
        session=session,
        conversation_id=conversation_id(),
        data=aid_in(ward_code=TAN_DINH, needs=["money"], household_size=2),
    ).request
    large = submit_aid_request(
        session=session,
        conversation_id=conversation_id(),
        data=aid_in(ward_code=TAN_DINH, needs=["money"], household_size=3),
    ).request
    assert small.priority_score == large.priority_score == 0
    listed = list_aid_requests(session=session, team_slug="t-score")
    assert [r.id for r in listed] == [family.id, adult.id, large.id, small.id]
    from bot.db.base import utcnow

    claimed = claim_due(session=session, channels=["telegram"], now=utcnow(), limit=50)
    ours = {
        m.id: m.aid_request_id
        for m in session.scalars(select(OutboundMessage).where(OutboundMessage.team_id == team.id))
    }
    order = [ours[j.id] for j in claimed if j.id in ours]
    assert order == [family.id, adult.id, small.id, large.id]  # score, then queue order


def test_an_open_request_is_updated_with_what_changed(session: Session) -> None:
    make_team(session, slug="t-update", wards=[SAI_GON])
    conv = conversation_id()
    request = submit_aid_request(
        session=session, conversation_id=conv, data=aid_in(ward_code=SAI_GON, household_size=2)
    ).request
    assert find_open_aid_request(session=session, conversation_id=conv) is request
    assert find_open_aid_request(session=session, conversation_id=conversation_id()) is None
    before = request.priority_score
    updated = update_open_aid_request(
        session=session,
        conversation_id=conv,
        ref_code=request.ref_code,
        changes=AidRequestUpdate(
            vulnerable=["pregnant"], description="Vợ em đang mang thai, hết gạo 2 ngày"
        ),
    )
    assert updated.id == request.id
    assert updated.vulnerable == ["pregnant"]
    assert updated.days_without_food == 2
    assert updated.household_size == 2
    assert updated.address_detail == "12 Lê Lợi"
    assert updated.priority_score == before + 15 + 30
    assert updated.history[-1].extra == {
        "update": 1,
        "fields": ["description", "vulnerable", "days_without_food"],
    }
    notices = session.scalars(
        select(OutboundMessage.text).where(OutboundMessage.aid_request_id == request.id)
    ).all()
    assert len(notices) == 2
    assert notices[1].startswith("CẬP NHẬT")
    with pytest.raises(LookupError):  # another resident cannot update it
        update_open_aid_request(
            session=session,
            conversation_id=conversation_id(),
            ref_code=request.ref_code,
            changes=AidRequestUpdate(household_size=3),
        )
    with pytest.raises(InvalidRequest) as nothing:
        update_open_aid_request(
            session=session,
            conversation_id=conv,
            ref_code=request.ref_code,
            changes=AidRequestUpdate(),
        )
    assert nothing.value.field == "changes"
    with pytest.raises(InvalidRequest) as too_many:
        update_open_aid_request(
            session=session,
            conversation_id=conv,
            ref_code=request.ref_code,
            changes=AidRequestUpdate(household_size=MAX_HOUSEHOLD + 1),
        )
    assert too_many.value.field == "household_size"


def test_phones_are_stored_in_e164(session: Session) -> None:
    saved = submit_aid_request(
        session=session, conversation_id=conversation_id(), data=aid_in(phone="091 234 5678")
    ).request
    assert saved.phone == "+84912345678"
    with pytest.raises(InvalidRequest) as wrong:
        submit_aid_request(
            session=session, conversation_id=conversation_id(), data=aid_in(phone="12345")
        )
    assert wrong.value.field == "phone"


def _declaration_values(resident_id: int, consent_id: int | None = None) -> dict[str, Any]:
    from tests.requests.factories import HOAN_KIEM

    return {
        "resident_id": resident_id,
        "consent_id": consent_id,
        "full_name": "Trần Thị Mai",
        "birth_year": 1990,
        "phone": "+84912345678",
        "ward_code": HOAN_KIEM,
        "province_code": "01",
        "symptoms": [],
        "case_contact": False,
        "recent_travel": None,
        "vaccine_doses": 2,
    }


def test_a_broken_constraint_is_not_taken_for_a_code_collision(session: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    from bot.requests.models import HealthDeclaration
    from bot.requests.service import _insert_with_code
    from bot.residents.service import get_or_create_resident

    resident = get_or_create_resident(session=session, conversation_id=conversation_id())
    # No such consent: the foreign key refuses it.
    values = _declaration_values(resident.id, consent_id=987654321)
    with pytest.raises(IntegrityError):  # at once, not "could not draw a unique code"
        _insert_with_code(session, HealthDeclaration, values)


def test_a_code_already_taken_is_drawn_again(session: Session) -> None:
    from bot.requests.models import HealthDeclaration
    from bot.requests.service import _insert_with_code
    from bot.residents.service import get_or_create_resident

    resident = get_or_create_resident(session=session, conversation_id=conversation_id())
    values = _declaration_values(resident.id)
    first = _insert_with_code(session, HealthDeclaration, values, draw=lambda: "7KQ2M9XA")
    codes = iter(["7KQ2M9XA", "7KQ2M9XA", "8ZZZ0000"])
    second = _insert_with_code(session, HealthDeclaration, values, draw=lambda: next(codes))
    assert (first.ref_code, second.ref_code) == ("7KQ2M9XA", "8ZZZ0000")
    assert second.id != first.id
    with pytest.raises(RuntimeError, match="unique reference code"):
        _insert_with_code(session, HealthDeclaration, values, draw=lambda: "7KQ2M9XA")


def test_a_consent_of_someone_else_is_refused(session: Session) -> None:
    from bot.consents.service import record_consent

    other = record_consent(
        session=session, conversation_id=conversation_id(), purpose="aid_request", granted=True
    )
    with pytest.raises(InvalidRequest) as refused:
        submit_aid_request(
            session=session, conversation_id=conversation_id(), data=aid_in(), consent_id=other.id
        )
    assert refused.value.field == "consent"
