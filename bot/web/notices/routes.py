"""/notices pages (Vietnamese). Thin: who may write for which area, the checks and the audit
live in bot/notices/service.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from bot.notices.models import NOTICE_KIND_LABELS, Notice, NoticeKind
from bot.notices.service import (
    MAX_PLACE_CHARS,
    MAX_TEXT_CHARS,
    VIETNAM,
    NoticeError,
    NoticeIn,
    NoticeRefused,
    area_label,
    create_notice,
    get_notice,
    list_notices,
    may_write,
    update_notice,
    withdraw_notice,
)
from bot.places.wards import get_ward
from bot.users.models import User
from bot.users.service import ward_scope
from bot.web.auth.deps import TeamUser
from bot.web.auth.responses import forbidden
from bot.web.deps import SessionDep
from bot.web.templating import templates

router = APIRouter(prefix="/notices", tags=["notices"])
NOT_FOUND = "Không tìm thấy thông báo này trong địa bàn của bạn."
NO_WRITING = (
    "Tài khoản của bạn không viết thông báo địa bàn (dành cho quản trị viên và tổ phường/xã)."
)
FIELDS = ("kind", "text", "place", "starts_at", "ends_at", "valid_from", "valid_to")


def _writer(request: Request, user: User) -> Response | None:
    return None if may_write(user) else forbidden(request, NO_WRITING)


def _moment(raw: str, label: str, *, required: bool = False) -> datetime | None:
    """A datetime-local field (Vietnam time) as an aware datetime."""
    if not raw.strip():
        if required:
            raise NoticeError(f"Chưa nhập {label}.")
        return None
    try:
        return datetime.fromisoformat(raw.strip()).replace(tzinfo=VIETNAM).astimezone(UTC)
    except ValueError:
        raise NoticeError(
            f"{label.capitalize()} không hợp lệ (ngày và giờ, giờ Việt Nam)."
        ) from None


def _local(moment: datetime | None) -> str:
    return moment.astimezone(VIETNAM).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _ward_choices(user: User) -> list[tuple[str, str]]:
    wards = ward_scope(user) or frozenset()
    return sorted(
        ((code, w.label if (w := get_ward(code)) else code) for code in wards),
        key=lambda pair: pair[1],
    )


def _form_of(notice: Notice) -> dict[str, str]:
    return {
        "kind": notice.kind,
        "text": notice.text,
        "place": notice.place or "",
        "starts_at": _local(notice.starts_at),
        "ends_at": _local(notice.ends_at),
        "valid_from": _local(notice.valid_from),
        "valid_to": _local(notice.valid_to),
        "area_kind": "province" if notice.province_code else "wards",
        "province_code": notice.province_code or "",
        "ward_codes": ", ".join(notice.ward_codes),
    }


def _editor(
    request: Request,
    user: User,
    form: dict[str, str],
    *,
    notice: Notice | None = None,
    error: str | None = None,
) -> Response:
    return templates.TemplateResponse(
        request,
        "notices/edit.html",
        {
            "title": "Sửa thông báo" if notice else "Thông báo mới",
            "form": form,
            "notice": notice,
            "error": error,
            "kinds": NOTICE_KIND_LABELS,
            "all_areas": ward_scope(user) is None,
            "ward_choices": _ward_choices(user),
            "max_text": MAX_TEXT_CHARS,
            "max_place": MAX_PLACE_CHARS,
        },
        status_code=400 if error else 200,
    )


def _notice_in(form: dict[str, str], ward_codes: list[str]) -> NoticeIn:
    valid_from = _moment(form["valid_from"], "ngày bắt đầu hiệu lực", required=True)
    valid_to = _moment(form["valid_to"], "ngày hết hiệu lực", required=True)
    if valid_from is None or valid_to is None:
        raise NoticeError("Chưa nhập thời gian hiệu lực.")
    province = form["area_kind"] == "province"
    return NoticeIn(
        kind=form["kind"],
        text=form["text"],
        place=form["place"],
        starts_at=_moment(form["starts_at"], "thời điểm bắt đầu"),
        ends_at=_moment(form["ends_at"], "thời điểm kết thúc"),
        valid_from=valid_from,
        valid_to=valid_to,
        province_code=form["province_code"].strip() if province else None,
        ward_codes=[] if province else ward_codes,
    )


def _codes(raw: str, picked: list[str]) -> list[str]:
    return [c for c in raw.replace(",", " ").split() if c][:500] + picked[:500]


@router.get("")
def notices_page(request: Request, user: TeamUser, db: SessionDep, past: str = "") -> Response:
    if (refused := _writer(request, user)) is not None:
        return refused
    notices = list_notices(session=db, user=user, include_past=past == "1")
    return templates.TemplateResponse(
        request,
        "notices/list.html",
        {
            "title": "Thông báo địa bàn",
            "notices": notices,
            "kinds": NOTICE_KIND_LABELS,
            "area_label": area_label,
            "past": past == "1",
        },
    )


@router.get("/new")
def notice_new(request: Request, user: TeamUser) -> Response:
    if (refused := _writer(request, user)) is not None:
        return refused
    form = dict.fromkeys(FIELDS, "") | {
        "kind": NoticeKind.RESTRICTION.value,
        "area_kind": "wards",
        "province_code": "",
        "ward_codes": "",
    }
    return _editor(request, user, form)


def _posted_form(
    kind: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    place: Annotated[str, Form()] = "",
    starts_at: Annotated[str, Form()] = "",
    ends_at: Annotated[str, Form()] = "",
    valid_from: Annotated[str, Form()] = "",
    valid_to: Annotated[str, Form()] = "",
    area_kind: Annotated[str, Form()] = "wards",
    province_code: Annotated[str, Form()] = "",
    ward_codes: Annotated[str, Form()] = "",
    wards: Annotated[list[str] | None, Form()] = None,
) -> dict[str, str]:
    """The editor's fields as posted (create and edit post the same form)."""
    return {
        "kind": kind,
        "text": text,
        "place": place,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "area_kind": area_kind,
        "province_code": province_code,
        "ward_codes": ", ".join(_codes(ward_codes, wards or [])),
    }


PostedForm = Annotated[dict[str, str], Depends(_posted_form)]


@router.post("/new")
def notice_create(
    request: Request,
    user: TeamUser,
    db: SessionDep,
    form: PostedForm,
) -> Response:
    if (refused := _writer(request, user)) is not None:
        return refused

    def create(data: NoticeIn) -> int:
        return create_notice(session=db, user=user, data=data, path=request.url.path).id

    return _save(request, user, db, form, create)


def _save(
    request: Request,
    user: User,
    db: SessionDep,
    form: dict[str, str],
    write: Callable[[NoticeIn], int],
    notice: Notice | None = None,
) -> Response:
    """Checks the posted editor and writes it (`write` returns the notice's id): back to the
    list, or the editor again with what is wrong. A refused area is audited and forbidden;
    nothing was changed then (the area is checked first)."""
    try:
        notice_id = write(_notice_in(form, _codes(form["ward_codes"], [])))
    except NoticeRefused as exc:
        db.commit()  # the refusal stays in the audit trail
        return forbidden(request, str(exc))
    except NoticeError as exc:
        return _editor(request, user, form, notice=notice, error=str(exc))
    db.commit()
    return RedirectResponse(f"/notices?saved={notice_id}", status_code=303)


def _found(request: Request, user: User, db: SessionDep, notice_id: int) -> Notice | Response:
    notice = get_notice(session=db, user=user, notice_id=notice_id, path=request.url.path)
    if notice is None:
        db.commit()  # an attempt on another area's notice is audited
        return templates.TemplateResponse(
            request,
            "error.html",
            {"title": "Không tìm thấy", "message": NOT_FOUND},
            status_code=404,
        )
    return notice


@router.get("/{notice_id}")
def notice_page(request: Request, notice_id: int, user: TeamUser, db: SessionDep) -> Response:
    if (refused := _writer(request, user)) is not None:
        return refused
    notice = _found(request, user, db, notice_id)
    if isinstance(notice, Response):
        return notice
    return _editor(request, user, _form_of(notice), notice=notice)


@router.post("/{notice_id}")
def notice_update(
    request: Request,
    notice_id: int,
    user: TeamUser,
    db: SessionDep,
    form: PostedForm,
) -> Response:
    if (refused := _writer(request, user)) is not None:
        return refused
    notice = _found(request, user, db, notice_id)
    if isinstance(notice, Response):
        return notice
    found = notice

    def update(data: NoticeIn) -> int:
        update_notice(session=db, user=user, notice=found, data=data, path=request.url.path)
        return notice_id

    return _save(request, user, db, form, update, notice=notice)


@router.post("/{notice_id}/withdraw")
def notice_withdraw(request: Request, notice_id: int, user: TeamUser, db: SessionDep) -> Response:
    if (refused := _writer(request, user)) is not None:
        return refused
    notice = _found(request, user, db, notice_id)
    if isinstance(notice, Response):
        return notice
    withdraw_notice(session=db, user=user, notice=notice)
    db.commit()
    return RedirectResponse("/notices", status_code=303)
