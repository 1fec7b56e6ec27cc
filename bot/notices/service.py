"""Writing notices (who may, for which area, audited) and finding those a resident is told:
valid now, not withdrawn, of their ward or their province, never another ward's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.audit.service import record_audit
from bot.db.base import utcnow
from bot.notices.models import NOTICE_KIND_LABELS, Notice, NoticeKind, NoticeWard
from bot.places.wards import get_ward, province_name
from bot.residents.area import Area
from bot.users.models import Role, User
from bot.users.service import audit_actor, ward_scope
from hotline_nlu.normalize import clean, strip_diacritics

VIETNAM = timezone(timedelta(hours=7))
MAX_TEXT_CHARS = 1000  # well within one Telegram or Zalo message with the header
MAX_PLACE_CHARS = 300
MAX_WARDS = 200
MAX_VALIDITY = timedelta(days=366)
# At most this many notices go into one answer; the newest first.
MAX_ANSWERED = 5


class NoticeError(ValueError):
    """A notice that cannot be saved; the message says why, in Vietnamese."""


class NoticeRefused(PermissionError):
    """The user may not write a notice for this area (audited)."""


@dataclass(frozen=True)
class NoticeIn:
    """A notice as a page submits it; `ward_codes` empty means the whole `province_code`."""

    kind: str
    text: str
    valid_from: datetime
    valid_to: datetime
    province_code: str | None = None
    ward_codes: list[str] = field(default_factory=list)
    place: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def may_write(user: User) -> bool:
    """Admins write notices for any area, team members for their wards; staff do not."""
    return user.role in (Role.ADMIN, Role.TEAM)


def check_notice(data: NoticeIn) -> NoticeIn:
    """Returns the notice cleaned (codes checked, text trimmed); NoticeError names the problem."""
    if data.kind not in set(NoticeKind):
        raise NoticeError("Loại thông báo không hợp lệ.")
    text = data.text.strip()
    if not text:
        raise NoticeError("Nội dung thông báo còn trống.")
    if len(text) > MAX_TEXT_CHARS:
        raise NoticeError(f"Nội dung dài quá (tối đa {MAX_TEXT_CHARS} ký tự).")
    place = (data.place or "").strip() or None
    if place and len(place) > MAX_PLACE_CHARS:
        raise NoticeError(f"Địa điểm dài quá (tối đa {MAX_PLACE_CHARS} ký tự).")
    if data.valid_to <= data.valid_from:
        raise NoticeError("Ngày hết hiệu lực phải sau ngày bắt đầu hiệu lực.")
    if data.valid_to - data.valid_from > MAX_VALIDITY:
        raise NoticeError("Thông báo chỉ có hiệu lực tối đa một năm; hãy chia thành nhiều lần.")
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        raise NoticeError("Thời điểm kết thúc phải sau thời điểm bắt đầu.")
    wards = sorted(set(data.ward_codes))
    if len(wards) > MAX_WARDS:
        raise NoticeError(f"Tối đa {MAX_WARDS} phường/xã cho một thông báo.")
    unknown = [code for code in wards if get_ward(code) is None]
    if unknown:
        raise NoticeError(f"Không có phường/xã mã {', '.join(unknown[:5])}.")
    province = (data.province_code or "").strip() or None
    if wards:
        province = None
    elif province is None:
        raise NoticeError("Chọn phường/xã hoặc tỉnh/thành áp dụng.")
    elif province_name(province) is None:
        raise NoticeError(f"Không có tỉnh/thành mã {province}.")
    return NoticeIn(
        kind=data.kind,
        text=text,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        province_code=province,
        ward_codes=wards,
        place=place,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
    )


def _denied(session: Session, user: User, path: str, notice_id: int | None = None) -> None:
    record_audit(
        session=session,
        actor=audit_actor(user),
        action="access.denied",
        entity="notice",
        entity_id=notice_id,
        detail={"path": path[:200]},
    )
    session.flush()


def _check_area(session: Session, user: User, data: NoticeIn, path: str) -> None:
    """Team members write only for wards of their teams, never for a whole province."""
    if not may_write(user):
        _denied(session, user, path)
        raise NoticeRefused("Tài khoản của bạn không viết thông báo địa bàn.")
    wards = ward_scope(user)
    if wards is None:
        return
    if data.province_code is not None or not set(data.ward_codes) <= wards:
        _denied(session, user, path)
        raise NoticeRefused("Địa bàn này không thuộc phạm vi tổ của bạn.")


def _apply(notice: Notice, data: NoticeIn) -> None:
    notice.kind = data.kind
    notice.text = data.text
    notice.place = data.place
    notice.starts_at = data.starts_at
    notice.ends_at = data.ends_at
    notice.valid_from = data.valid_from
    notice.valid_to = data.valid_to
    notice.province_code = data.province_code
    notice.wards = [NoticeWard(ward_code=code) for code in data.ward_codes]
    notice.updated_at = utcnow()


def _audit(session: Session, user: User, action: str, notice: Notice) -> None:
    record_audit(
        session=session,
        actor=audit_actor(user),
        action=action,
        entity="notice",
        entity_id=notice.id,
        detail={
            "kind": notice.kind,
            "province": notice.province_code,
            "wards": notice.ward_codes[:50],
        },
    )


def create_notice(*, session: Session, user: User, data: NoticeIn, path: str) -> Notice:
    """Saves a new notice for an area the user may write for (audited)."""
    data = check_notice(data)
    _check_area(session, user, data, path)
    notice = Notice(author_id=user.id)
    _apply(notice, data)
    session.add(notice)
    session.flush()
    _audit(session, user, "notice.created", notice)
    return notice


def update_notice(
    *, session: Session, user: User, notice: Notice, data: NoticeIn, path: str
) -> Notice:
    """Changes a notice the user may see, to an area they may write for (audited)."""
    data = check_notice(data)
    if notice.withdrawn_at is not None:
        raise NoticeError("Thông báo đã thu hồi, không sửa được.")
    _check_area(session, user, data, path)
    _apply(notice, data)
    session.flush()
    _audit(session, user, "notice.updated", notice)
    return notice


def withdraw_notice(*, session: Session, user: User, notice: Notice) -> Notice:
    """Withdraws a notice: residents are no longer told it (audited)."""
    if notice.withdrawn_at is None:
        notice.withdrawn_at = utcnow()
        notice.updated_at = notice.withdrawn_at
        session.flush()
        _audit(session, user, "notice.withdrawn", notice)
    return notice


def _visible(user: User) -> ColumnElement[bool] | None:
    """A team member sees the notices all of whose wards are theirs; admins see all."""
    if user.role == Role.ADMIN:
        return None
    wards = ward_scope(user)
    if not may_write(user) or not wards:
        return false()
    outside = exists().where(NoticeWard.notice_id == Notice.id, NoticeWard.ward_code.not_in(wards))
    inside = exists().where(NoticeWard.notice_id == Notice.id)
    return and_(Notice.province_code.is_(None), inside, ~outside)


def _scoped(query: Select[Any], user: User) -> Select[Any]:
    condition = _visible(user)
    return query if condition is None else query.where(condition)


def list_notices(*, session: Session, user: User, include_past: bool = False) -> list[Notice]:
    """The notices a user may see, newest first; past and withdrawn ones on request."""
    query = _scoped(select(Notice).options(selectinload(Notice.wards)), user)
    if not include_past:
        query = query.where(Notice.withdrawn_at.is_(None), Notice.valid_to > utcnow())
    return list(session.scalars(query.order_by(Notice.valid_from.desc(), Notice.id.desc())))


def get_notice(*, session: Session, user: User, notice_id: int, path: str) -> Notice | None:
    """A notice the user may see, or None (a notice of another area is audited as denied)."""
    notice: Notice | None = session.scalar(
        _scoped(select(Notice).options(selectinload(Notice.wards)), user).where(
            Notice.id == notice_id
        )
    )
    if notice is None and session.get(Notice, notice_id) is not None:
        _denied(session, user, path, notice_id)
    return notice


def notices_for_area(
    *,
    session: Session,
    area: Area,
    kinds: set[NoticeKind] | None = None,
    now: datetime | None = None,
) -> list[Notice]:
    """The notices a resident of this area is told now: of their ward or their province,
    valid at this moment, not withdrawn, newest first."""
    moment = now or utcnow()
    where_area = Notice.province_code == area.province_code
    if area.ward_code:
        where_area = or_(
            where_area,
            exists().where(
                NoticeWard.notice_id == Notice.id, NoticeWard.ward_code == area.ward_code
            ),
        )
    query = select(Notice).where(
        where_area,
        Notice.withdrawn_at.is_(None),
        Notice.valid_from <= moment,
        Notice.valid_to > moment,
    )
    if kinds:
        query = query.where(Notice.kind.in_([str(k) for k in kinds]))
    return list(
        session.scalars(
            query.order_by(Notice.valid_from.desc(), Notice.id.desc()).limit(MAX_ANSWERED)
        )
    )


# Words that say which kind of notice a question is about (diacritic-free, whole words).
_KIND_WORDS: dict[NoticeKind, tuple[str, ...]] = {
    NoticeKind.RESTRICTION: (
        "phong toa",
        "cach ly",
        "gian cach",
        "han che",
        "lockdown",
        "chot",
        "vung do",
        "di lai",
        "ra duong",
    ),
    NoticeKind.DISTRIBUTION: (
        "gao",
        "phat",
        "nhan hang",
        "nhu yeu pham",
        "cho nhan",
        "diem nhan",
        "diem phat",
        "rau",
        "thuc pham",
    ),
    NoticeKind.TESTING: ("xet nghiem", "test", "lay mau", "pcr"),
    NoticeKind.VACCINATION: ("tiem", "chich", "vac xin", "vacxin", "vaccine"),
    NoticeKind.SUPPORT: ("ke hoach ho tro", "goi ho tro", "chinh sach", "tro cap"),
}


def asked_kinds(text: str) -> set[NoticeKind]:
    """The kinds of notice a question names ("chỗ nhận gạo" → distribution); empty: any."""
    folded = " " + " ".join(re.findall(r"[a-z0-9]+", strip_diacritics(clean(text)))) + " "
    return {
        kind
        for kind, phrases in _KIND_WORDS.items()
        if any(f" {phrase} " in folded for phrase in phrases)
    }


def _when(moment: datetime) -> str:
    local = moment.astimezone(VIETNAM)
    return f"{local:%H:%M} {local:%d/%m/%Y}".replace("00:00 ", "")


def describe_notice(notice: Notice) -> str:
    """One notice as a resident reads it: kind, text, place, from/to."""
    lines = [f"• {NOTICE_KIND_LABELS[NoticeKind(notice.kind)]}: {notice.text}"]
    if notice.place:
        lines.append(f"  Địa điểm: {notice.place}")
    if notice.starts_at and notice.ends_at:
        lines.append(f"  Từ {_when(notice.starts_at)} đến {_when(notice.ends_at)}")
    elif notice.starts_at:
        lines.append(f"  Từ {_when(notice.starts_at)}")
    elif notice.ends_at:
        lines.append(f"  Đến {_when(notice.ends_at)}")
    return "\n".join(lines)


def area_label(notice: Notice) -> str:
    """Where a notice applies, for staff pages."""
    if notice.province_code:
        return f"Toàn {province_name(notice.province_code) or notice.province_code}"
    names = [w.label if (w := get_ward(code)) else code for code in notice.ward_codes]
    return "; ".join(names[:5]) + (f" và {len(names) - 5} nơi khác" if len(names) > 5 else "")
