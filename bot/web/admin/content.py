"""/admin/content: admins edit the FAQ, rumours, facts and canned replies, with a preview as a
resident sees it, the history of each entry and a revert. Effective without retraining."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from bot.content.kinds import KINDS, ContentKind, Preview, is_verified
from bot.content.revisions import (
    ContentEditError,
    Entry,
    create_entry,
    form_from_value,
    get_entry,
    history,
    list_entries,
    revert,
    save_entry,
    validate_entry,
    value_from_form,
)
from bot.content.service import ContentError
from bot.web.admin.forms import PostedForm, not_found
from bot.web.auth.deps import AdminUser
from bot.web.deps import SessionDep
from bot.web.templating import templates

router = APIRouter(prefix="/admin/content", tags=["admin"])


def _kind(kind: str) -> ContentKind:
    found = KINDS.get(kind)
    if found is None:
        raise not_found("Không có loại nội dung này.")
    return found


def _entry(db: SessionDep, kind: ContentKind, key: str) -> Entry:
    entry = get_entry(session=db, kind=kind, key=key)
    if entry is None:
        raise not_found("Không có mục nội dung này.")
    return entry


KindDep = Annotated[ContentKind, Depends(_kind)]


@router.get("")
def content_home(request: Request, user: AdminUser, db: SessionDep, kind: str = "faq") -> Response:
    chosen = _kind(kind)
    return templates.TemplateResponse(
        request,
        "admin/content_list.html",
        {
            "title": "Nội dung trả lời",
            "kinds": KINDS,
            "kind": chosen,
            "entries": list_entries(session=db, kind=chosen),
            "is_verified": is_verified,
        },
    )


def _preview(kind: ContentKind, value: dict[str, Any]) -> tuple[Preview | None, list[str]]:
    try:
        return kind.preview(value), []
    except (ContentError, KeyError, TypeError, ValueError) as exc:
        return None, [f"Không xem trước được: {exc}"]


def _editor(
    request: Request,
    kind: ContentKind,
    *,
    entry: Entry | None,
    value: dict[str, Any],
    problems: list[str] | None = None,
    preview: Preview | None = None,
    note: str = "",
    status_code: int = 200,
) -> Response:
    fields = kind.fields(value)
    return templates.TemplateResponse(
        request,
        "admin/content_edit.html",
        {
            "title": f"{kind.label}: {entry.title if entry else 'mục mới'}",
            "kind": kind,
            "entry": entry,
            "fields": fields,
            "form": form_from_value(fields, value),
            "problems": problems or [],
            "preview": preview,
            "note": note,
            "saved": request.query_params.get("saved") == "1",
        },
        status_code=status_code,
    )


@router.get("/{kind}/new")
def content_new(request: Request, kind: KindDep, user: AdminUser) -> Response:
    if kind.key_field is None:
        raise not_found("Loại nội dung này không thêm mục mới được.")
    return _editor(request, kind, entry=None, value={})


@router.post("/{kind}/new")
def content_create(
    request: Request, kind: KindDep, user: AdminUser, db: SessionDep, form: PostedForm
) -> Response:
    if kind.key_field is None:
        raise not_found("Loại nội dung này không thêm mục mới được.")
    value = value_from_form(kind.fields({}), form)

    def create() -> str:
        create_entry(session=db, kind=kind, value=value, author=user, note=_note(form))
        return str(value.get(kind.key_field or "") or "")

    return _submit(request, db, kind, None, value, form, create)


@router.get("/{kind}/{key}")
def content_edit(
    request: Request, kind: KindDep, key: str, user: AdminUser, db: SessionDep
) -> Response:
    entry = _entry(db, kind, key)
    preview, problems = _preview(kind, entry.value)
    return _editor(
        request, kind, entry=entry, value=entry.value, preview=preview, problems=problems
    )


def _note(form: dict[str, list[str]]) -> str:
    return (form.get("note") or [""])[0]


def _submit(
    request: Request,
    db: SessionDep,
    kind: ContentKind,
    entry: Entry | None,
    value: dict[str, Any],
    form: dict[str, list[str]],
    save: Callable[[], str],
) -> Response:
    """*Xem trước* renders the draft as a resident would see it, saving nothing; *Lưu* saves
    (`save` returns the entry's key) or shows the form again with the reasons (400)."""
    note = _note(form)
    try:
        if (form.get("action") or [""])[0] == "preview":
            labels = {f.name: f.label for f in kind.fields(value)}
            preview, problems = _preview(kind, validate_entry(kind, value, labels))
            return _editor(
                request,
                kind,
                entry=entry,
                value=value,
                preview=preview,
                problems=problems,
                note=note,
            )
        key = save()
    except ContentEditError as exc:
        return _editor(
            request,
            kind,
            entry=entry,
            value=value,
            problems=exc.problems,
            note=note,
            status_code=400,
        )
    db.commit()
    return RedirectResponse(f"/admin/content/{kind.name}/{key}?saved=1", status_code=303)


@router.post("/{kind}/{key}")
def content_save(
    request: Request, kind: KindDep, key: str, user: AdminUser, db: SessionDep, form: PostedForm
) -> Response:
    entry = _entry(db, kind, key)
    value = value_from_form(kind.fields(entry.value), form, base=entry.value)

    def save() -> str:
        save_entry(session=db, kind=kind, key=key, value=value, author=user, note=_note(form))
        return key

    return _submit(request, db, kind, entry, value, form, save)


@router.get("/{kind}/{key}/history")
def content_history(
    request: Request, kind: KindDep, key: str, user: AdminUser, db: SessionDep
) -> Response:
    entry = _entry(db, kind, key)
    return templates.TemplateResponse(
        request,
        "admin/content_history.html",
        {
            "title": f"Lịch sử: {entry.title}",
            "kind": kind,
            "entry": entry,
            "lines": history(session=db, entry=entry),
            "error": request.query_params.get("error"),
        },
    )


@router.post("/{kind}/{key}/revert")
def content_revert(
    request: Request, kind: KindDep, key: str, user: AdminUser, db: SessionDep, form: PostedForm
) -> Response:
    entry = _entry(db, kind, key)
    raw = (form.get("revision") or [""])[0]
    revision_id: int | None = None
    if raw != "file":
        if not raw.isdigit():
            raise not_found("Không có phiên bản này.")
        revision_id = int(raw)
    try:
        revert(session=db, entry=entry, revision_id=revision_id, author=user)
    except LookupError:
        raise not_found("Không có phiên bản này của mục nội dung.") from None
    except ContentEditError as exc:
        return templates.TemplateResponse(
            request,
            "admin/content_history.html",
            {
                "title": f"Lịch sử: {entry.title}",
                "kind": kind,
                "entry": entry,
                "lines": history(session=db, entry=entry),
                "error": " ".join(exc.problems),
            },
            status_code=400,
        )
    db.commit()
    return RedirectResponse(f"/admin/content/{kind.name}/{key}?saved=1", status_code=303)
