"""Which notices a resident is told (valid now, their ward or province, never another ward's,
never an expired or withdrawn one) and who may write them (audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.db.base import utcnow
from bot.notices.models import NoticeKind
from bot.notices.service import (
    NoticeError,
    NoticeRefused,
    asked_kinds,
    create_notice,
    get_notice,
    list_notices,
    notices_for_area,
    update_notice,
    withdraw_notice,
)
from bot.residents.area import Area
from bot.users.models import Role
from tests.notices.factories import make_notice, notice_in
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON
from tests.users.factories import make_user
from tests.workspace.conftest import Wards

BEN_THANH_AREA = Area(province_code="79", ward_code=BEN_THANH)


def _texts(session: Session, area: Area, **kwargs: object) -> list[str]:
    return [n.text for n in notices_for_area(session=session, area=area, **kwargs)]  # type: ignore[arg-type]


def test_a_resident_gets_their_ward_and_province_notices_only(
    session: Session, wards: Wards
) -> None:
    make_notice(session, wards.admin, wards=[BEN_THANH], text="Bến Thành")
    make_notice(session, wards.admin, wards=[SAI_GON], text="Sài Gòn")
    make_notice(session, wards.admin, province="79", text="Toàn thành phố")
    make_notice(session, wards.admin, province="01", text="Hà Nội")
    make_notice(session, wards.admin, wards=[HOAN_KIEM], text="Hoàn Kiếm")
    assert sorted(_texts(session, BEN_THANH_AREA)) == ["Bến Thành", "Toàn thành phố"]
    # A resident who gave only the province gets no ward's notice.
    assert _texts(session, Area(province_code="79")) == ["Toàn thành phố"]


def test_expired_future_and_withdrawn_notices_are_never_told(
    session: Session, wards: Wards
) -> None:
    now = utcnow()
    make_notice(
        session,
        wards.admin,
        wards=[BEN_THANH],
        text="Hết hạn",
        starts=now - timedelta(days=3),
        ends=now - timedelta(minutes=1),
    )
    make_notice(
        session,
        wards.admin,
        wards=[BEN_THANH],
        text="Chưa tới",
        starts=now + timedelta(hours=2),
        ends=now + timedelta(days=2),
    )
    withdrawn = make_notice(session, wards.admin, wards=[BEN_THANH], text="Thu hồi")
    withdraw_notice(session=session, user=wards.admin, notice=withdrawn)
    make_notice(session, wards.admin, wards=[BEN_THANH], text="Đang hiệu lực")
    assert _texts(session, BEN_THANH_AREA) == ["Đang hiệu lực"]
    # Valid until its last moment, not after it; the later one has begun by then.
    assert _texts(session, BEN_THANH_AREA, now=now + timedelta(days=1, minutes=1)) == ["Chưa tới"]


def test_kinds_asked_narrow_the_answer(session: Session, wards: Wards) -> None:
    make_notice(session, wards.admin, wards=[BEN_THANH], text="Phong tỏa")
    make_notice(
        session, wards.admin, wards=[BEN_THANH], kind=NoticeKind.DISTRIBUTION, text="Phát gạo"
    )
    kinds = asked_kinds("chỗ nhận gạo ở đâu")
    assert kinds == {NoticeKind.DISTRIBUTION}
    assert _texts(session, BEN_THANH_AREA, kinds=kinds) == ["Phát gạo"]
    assert asked_kinds("o phuong toi co bi phong toa khong") == {NoticeKind.RESTRICTION}
    assert asked_kinds("lịch tiêm ở xã mình") == {NoticeKind.VACCINATION}
    assert asked_kinds("lịch test ở p e") == {NoticeKind.TESTING}
    assert asked_kinds("phường có thông báo gì không") == set()


def test_a_team_member_writes_only_for_their_wards(session: Session, wards: Wards) -> None:
    own = make_notice(session, wards.member, wards=[BEN_THANH, SAI_GON])
    with pytest.raises(NoticeRefused):
        make_notice(session, wards.member, wards=[HOAN_KIEM])
    with pytest.raises(NoticeRefused):
        make_notice(session, wards.member, wards=[BEN_THANH, HOAN_KIEM])
    with pytest.raises(NoticeRefused):
        make_notice(session, wards.member, province="79")
    with pytest.raises(NoticeRefused):  # nor move their notice elsewhere
        update_notice(
            session=session,
            user=wards.member,
            notice=own,
            data=notice_in(wards=[HOAN_KIEM]),
            path="/notices/1",
        )
    assert own.ward_codes == sorted([BEN_THANH, SAI_GON])
    staff = make_user(session, role=Role.STAFF)
    with pytest.raises(NoticeRefused):
        make_notice(session, staff, wards=[BEN_THANH])
    denied = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "access.denied", AuditEvent.entity == "notice"
        )
    ).all()
    assert len(denied) == 5


def test_a_team_member_sees_only_notices_of_their_wards(session: Session, wards: Wards) -> None:
    own = make_notice(session, wards.member, wards=[SAI_GON])
    other = make_notice(session, wards.outsider, wards=[HOAN_KIEM])
    mixed = make_notice(session, wards.admin, wards=[BEN_THANH, HOAN_KIEM])
    province = make_notice(session, wards.admin, province="79")
    assert [n.id for n in list_notices(session=session, user=wards.member)] == [own.id]
    assert {n.id for n in list_notices(session=session, user=wards.admin)} == {
        own.id,
        other.id,
        mixed.id,
        province.id,
    }
    for hidden in (other, mixed, province):
        assert (
            get_notice(session=session, user=wards.member, notice_id=hidden.id, path="/x") is None
        )
    assert get_notice(session=session, user=wards.member, notice_id=own.id, path="/x") is own


def test_every_change_is_audited_without_the_text(session: Session, wards: Wards) -> None:
    notice = make_notice(session, wards.member, wards=[BEN_THANH], text="Điểm phát ở nhà văn hóa")
    update_notice(
        session=session,
        user=wards.member,
        notice=notice,
        data=notice_in(wards=[BEN_THANH], text="Điểm phát ở trường học"),
        path="/notices/1",
    )
    withdraw_notice(session=session, user=wards.member, notice=notice)
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "notice").order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["notice.created", "notice.updated", "notice.withdrawn"]
    assert all(e.actor == f"user:{wards.member.id}" for e in events)
    assert "Điểm phát" not in str([e.detail for e in events])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"text": "  "}, "còn trống"),
        ({"text": "x" * 1001}, "dài quá"),
        ({"wards": ["99999"]}, "Không có phường/xã"),
        ({"province": "00"}, "Không có tỉnh/thành"),
        ({}, "Chọn phường/xã hoặc tỉnh/thành"),
    ],
)
def test_bad_notices_are_refused_with_the_reason(
    session: Session, wards: Wards, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(NoticeError, match=message):
        create_notice(
            session=session,
            user=wards.admin,
            data=notice_in(**changes),  # type: ignore[arg-type]
            path="/notices/new",
        )


def test_validity_must_end_after_it_starts(session: Session, wards: Wards) -> None:
    now = utcnow()
    with pytest.raises(NoticeError, match="sau ngày bắt đầu"):
        make_notice(session, wards.admin, wards=[BEN_THANH], starts=now, ends=now)
