"""/admin/teams: teams, their wards (a searchable picker over the 3,321 units) and members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import select
from starlette.responses import Response

from bot.places.search import search_wards
from bot.places.wards import get_ward
from bot.teams.models import Team, TeamLevel, TeamWard
from bot.teams.service import (
    TeamError,
    add_ward,
    create_team,
    get_team,
    remove_ward,
    team_overview,
    team_ward_codes,
    update_team,
)
from bot.users.service import (
    UserError,
    add_to_team,
    audit_actor,
    get_user,
    remove_from_team,
    team_candidates,
    team_members,
)
from bot.web.admin.forms import not_found
from bot.web.auth.deps import AdminUser
from bot.web.deps import SessionDep
from bot.web.templating import templates

router = APIRouter(prefix="/admin", tags=["admin"])
LEVEL_LABELS = {
    TeamLevel.WARD: "Phường/xã",
    TeamLevel.PROVINCE: "Tỉnh/thành",
    TeamLevel.CENTRAL: "Trung tâm",
}


def _owners(db: SessionDep, codes: list[str]) -> dict[str, Team]:
    """Which team covers each of these wards (a ward has at most one)."""
    if not codes:
        return {}
    rows = db.execute(
        select(TeamWard.ward_code, Team).join(Team).where(TeamWard.ward_code.in_(codes))
    )
    return {code: team for code, team in rows}


def _teams_page(
    request: Request,
    db: SessionDep,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "admin/teams.html",
        {
            "title": "Tổ hỗ trợ",
            "rows": team_overview(session=db),
            "levels": LEVEL_LABELS,
            "error": error,
            "form": form or {"level": "ward"},
        },
        status_code=status_code,
    )


def _team(db: SessionDep, team_id: int) -> Team:
    team = get_team(session=db, team_id=team_id)
    if team is None:
        raise not_found("Không có tổ này.")
    return team


def _team_page(
    request: Request,
    db: SessionDep,
    team: Team,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    query = request.query_params.get("q", "")[:100]
    results = search_wards(query) if query.strip() else []
    codes = team_ward_codes(session=db, team=team)
    owners = _owners(db, [w.code for w in results])
    return templates.TemplateResponse(
        request,
        "admin/team.html",
        {
            "title": team.name,
            "team": team,
            "levels": LEVEL_LABELS,
            "wards": [(code, get_ward(code)) for code in codes],
            "members": team_members(session=db, team=team),
            "candidates": team_candidates(session=db, team=team),
            "query": query,
            "results": [(w, owners.get(w.code)) for w in results],
            "error": error,
            "saved": request.query_params.get("saved"),
        },
        status_code=status_code,
    )


def _back(team: Team, saved: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/teams/{team.id}?saved={saved}", status_code=303)


@router.get("/teams")
def teams_page(request: Request, user: AdminUser, db: SessionDep) -> Response:
    return _teams_page(request, db)


@router.post("/teams")
def teams_create(
    request: Request,
    user: AdminUser,
    db: SessionDep,
    slug: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    level: Annotated[str, Form()] = "ward",
    province_code: Annotated[str, Form()] = "",
    telegram_chat_id: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "slug": slug,
        "name": name,
        "level": level,
        "province_code": province_code,
        "telegram_chat_id": telegram_chat_id,
    }
    try:
        team = create_team(
            session=db,
            slug=slug,
            name=name,
            level=level,
            province_code=province_code,
            telegram_chat_id=telegram_chat_id,
            actor=audit_actor(user),
        )
    except TeamError as exc:
        return _teams_page(request, db, error=str(exc), form=form, status_code=400)
    db.commit()
    return _back(team, "created")


@router.get("/wards/search")
def wards_search(user: AdminUser, db: SessionDep, q: str = "") -> JSONResponse:
    """The picker's results as JSON: code, name, province, and the team that covers it."""
    wards = search_wards(q[:100]) if q.strip() else []
    owners = _owners(db, [w.code for w in wards])
    return JSONResponse(
        {
            "results": [
                {
                    "code": w.code,
                    "name": w.name,
                    "province": w.province_name,
                    "team": {"id": owners[w.code].id, "name": owners[w.code].name}
                    if w.code in owners
                    else None,
                }
                for w in wards
            ]
        }
    )


@router.get("/teams/{team_id}")
def team_page(request: Request, team_id: int, user: AdminUser, db: SessionDep) -> Response:
    return _team_page(request, db, _team(db, team_id))


@router.post("/teams/{team_id}")
def team_update(
    request: Request,
    team_id: int,
    user: AdminUser,
    db: SessionDep,
    name: Annotated[str, Form()] = "",
    telegram_chat_id: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    team = _team(db, team_id)
    try:
        update_team(
            session=db,
            team=team,
            name=name,
            telegram_chat_id=telegram_chat_id,
            active=bool(active),
            actor=audit_actor(user),
        )
    except TeamError as exc:
        return _team_page(request, db, team, error=str(exc), status_code=400)
    db.commit()
    return _back(team, "team")


@router.post("/teams/{team_id}/wards")
def team_add_ward(
    request: Request,
    team_id: int,
    user: AdminUser,
    db: SessionDep,
    ward_code: Annotated[str, Form()] = "",
) -> Response:
    team = _team(db, team_id)
    try:
        add_ward(session=db, team=team, ward_code=ward_code, actor=audit_actor(user))
    except TeamError as exc:
        return _team_page(request, db, team, error=str(exc), status_code=400)
    db.commit()
    return _back(team, "ward_added")


@router.post("/teams/{team_id}/wards/{ward_code}/remove")
def team_remove_ward(
    request: Request, team_id: int, ward_code: str, user: AdminUser, db: SessionDep
) -> Response:
    team = _team(db, team_id)
    if not remove_ward(session=db, team=team, ward_code=ward_code, actor=audit_actor(user)):
        raise not_found("Phường/xã này không thuộc tổ.")
    db.commit()
    return _back(team, "ward_removed")


@router.post("/teams/{team_id}/members")
def team_add_member(
    request: Request,
    team_id: int,
    user: AdminUser,
    db: SessionDep,
    user_id: Annotated[str, Form()] = "",
) -> Response:
    team = _team(db, team_id)
    member = get_user(session=db, user_id=int(user_id)) if user_id.isdigit() else None
    if member is None:
        return _team_page(request, db, team, error="Hãy chọn một tài khoản.", status_code=400)
    try:
        add_to_team(session=db, user=member, team=team, actor=audit_actor(user))
    except UserError as exc:
        return _team_page(request, db, team, error=str(exc), status_code=400)
    db.commit()
    return _back(team, "member_added")


@router.post("/teams/{team_id}/members/{member_id}/remove")
def team_remove_member(
    request: Request, team_id: int, member_id: int, user: AdminUser, db: SessionDep
) -> Response:
    team = _team(db, team_id)
    member = get_user(session=db, user_id=member_id)
    if member is None:
        raise not_found("Không có tài khoản này.")
    try:
        remove_from_team(session=db, user=member, team=team, actor=audit_actor(user))
    except UserError as exc:
        return _team_page(request, db, team, error=str(exc), status_code=400)
    db.commit()
    return _back(team, "member_removed")
