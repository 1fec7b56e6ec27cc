"""Notices written through the real service."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.notices.models import Notice, NoticeKind
from bot.notices.service import NoticeIn, create_notice
from bot.users.models import User


def notice_in(
    *,
    wards: list[str] | None = None,
    province: str | None = None,
    kind: NoticeKind = NoticeKind.RESTRICTION,
    text: str = "Tổ dân phố 3 phong tỏa tạm thời.",
    starts: datetime | None = None,
    ends: datetime | None = None,
    place: str | None = None,
) -> NoticeIn:
    """A notice valid from an hour ago to tomorrow unless told otherwise."""
    now = utcnow()
    return NoticeIn(
        kind=kind,
        text=text,
        valid_from=starts or now - timedelta(hours=1),
        valid_to=ends or now + timedelta(days=1),
        province_code=province,
        ward_codes=wards or [],
        place=place,
    )


def make_notice(session: Session, author: User, **kwargs: object) -> Notice:
    return create_notice(
        session=session,
        user=author,
        data=notice_in(**kwargs),  # type: ignore[arg-type]
        path="/test",
    )
