"""Teams and routing: a ward's team, else its province's team, else the central hotline team."""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Select, and_, bindparam, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.places.wards import get_ward, province_name
from bot.teams.models import Team, TeamLevel, TeamWard

logger = logging.getLogger(__name__)

CENTRAL_SLUG = "central"
CENTRAL_NAME = "Tổng đài trung tâm"


class TeamImportError(ValueError):
    """A teams file is malformed or names a ward/province that does not exist."""


@dataclass(frozen=True)
class Routing:
    team: Team
    note: str  # why this team, e.g. "Tổ của phường" / "Không có tổ phường: chuyển tỉnh"


def ensure_central_team(*, session: Session) -> Team:
    """Returns the central hotline team, creating it the first time it is needed."""
    team = session.scalar(select(Team).where(Team.slug == CENTRAL_SLUG))
    if team is None:
        team = Team(slug=CENTRAL_SLUG, name=CENTRAL_NAME, level=TeamLevel.CENTRAL)
        try:
            with session.begin_nested():
                session.add(team)
        except IntegrityError:  # created by a concurrent request a moment ago
            team = session.scalars(select(Team).where(Team.slug == CENTRAL_SLUG)).one()
    return team


ROUTING_NOTES = (
    "Tổ hỗ trợ của phường/xã",
    "Phường/xã chưa có tổ: chuyển tổ của tỉnh/thành",
    "Phường/xã và tỉnh/thành chưa có tổ: chuyển tổng đài trung tâm",
)


def _routing_query() -> Select[Team, int]:
    """The team of a ward (`:ward_code`, in `:province_code`) and its rank: 0 the ward's
    active team, 1 the province's, 2 the central team."""
    covers_ward = and_(Team.active.is_(True), TeamWard.ward_code.is_not(None))
    covers_province = and_(
        Team.active.is_(True),
        Team.level == TeamLevel.PROVINCE,
        Team.province_code == bindparam("province_code"),
    )
    rank = case((covers_ward, 0), (covers_province, 1), else_=2)
    on_ward = and_(TeamWard.team_id == Team.id, TeamWard.ward_code == bindparam("ward_code"))
    return (
        select(Team, rank)
        .outerjoin(TeamWard, on_ward)
        .where(or_(covers_ward, covers_province, Team.slug == CENTRAL_SLUG))
        .order_by(rank, Team.id)
        .limit(1)
    )


# Built once: routing runs in every saved request.
ROUTING = _routing_query()


def route_ward(*, session: Session, ward_code: str) -> Routing:
    """Returns the team that handles requests from this ward, and why: the ward's active team,
    else its province's, else the central team (one query)."""
    ward = get_ward(ward_code)
    province_code = ward.province_code if ward else None
    found = session.execute(
        ROUTING, {"ward_code": ward_code, "province_code": province_code}
    ).first()
    if found is None:
        return Routing(team=ensure_central_team(session=session), note=ROUTING_NOTES[2])
    team, rank = found
    return Routing(team=team, note=ROUTING_NOTES[rank])


def _rows_from_file(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            rows = []
            for row in csv.DictReader(fh):
                codes = row.get("ward_codes") or ""
                rows.append(
                    {**row, "ward_codes": [c for c in codes.replace(";", " ").split() if c]}
                )
            return rows
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    teams = data.get("teams") if isinstance(data, dict) else data
    if not isinstance(teams, list):
        raise TeamImportError("the file must hold a list of teams (under `teams:`)")
    return teams


def import_teams(*, session: Session, path: Path, actor: str = "cli") -> int:
    """Creates or updates the teams of a YAML/CSV file (slug, name, level, province, chat,
    ward codes); a ward moves to the team that lists it. Returns the number of teams."""
    rows = _rows_from_file(path)
    count = 0
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not row.get("slug") or not row.get("name"):
            raise TeamImportError(f"team {number}: `slug` and `name` are required")
        level = str(row.get("level") or TeamLevel.WARD)
        if level not in set(TeamLevel):
            raise TeamImportError(f"team {row['slug']}: level must be ward, province or central")
        province = str(row["province_code"]).zfill(2) if row.get("province_code") else None
        ward_codes = [str(c).zfill(5) for c in row.get("ward_codes") or []]
        for code in ward_codes:
            ward = get_ward(code)
            if ward is None:
                raise TeamImportError(f"team {row['slug']}: unknown ward code {code}")
            province = province or ward.province_code
        if province and province_name(province) is None:
            raise TeamImportError(f"team {row['slug']}: unknown province code {province}")
        if level == TeamLevel.PROVINCE and not province:
            raise TeamImportError(f"team {row['slug']}: a province team needs province_code")
        team = session.scalar(select(Team).where(Team.slug == row["slug"]))
        if team is None:
            team = Team(slug=str(row["slug"]))
            session.add(team)
        team.name = str(row["name"])
        team.level = level
        team.province_code = province
        chat = row.get("telegram_chat_id")
        team.telegram_chat_id = str(chat) if chat not in (None, "") else None
        team.active = bool(row.get("active", True))
        session.flush()
        existing = {
            w.ward_code: w
            for w in session.scalars(select(TeamWard).where(TeamWard.ward_code.in_(ward_codes)))
        }
        for code in ward_codes:
            link = existing.get(code)
            if link is None:
                session.add(TeamWard(team_id=team.id, ward_code=code))
            elif link.team_id != team.id:
                link.team_id = team.id
        record_audit(
            session=session,
            actor=actor,
            action="team.imported",
            entity="team",
            entity_id=team.id,
            detail={"slug": team.slug, "wards": len(ward_codes)},
        )
        count += 1
    session.flush()
    return count


def list_teams(*, session: Session) -> list[Team]:
    """Lists the teams, central first, then provinces, then wards."""
    order = {TeamLevel.CENTRAL: 0, TeamLevel.PROVINCE: 1, TeamLevel.WARD: 2}
    teams = session.scalars(select(Team).order_by(Team.name)).all()
    return sorted(teams, key=lambda t: order.get(TeamLevel(t.level), 3))


def has_teams(*, session: Session) -> bool:
    """True once any team other than the automatic central one exists."""
    return session.scalar(select(Team.id).where(Team.slug != CENTRAL_SLUG).limit(1)) is not None


# --- the admins' team pages (/admin/teams) -----------------------------------------------------

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
MAX_TEAM_NAME = 200
CHAT_ID_RE = re.compile(r"^-?\d{1,20}$|^@[A-Za-z0-9_]{5,32}$")


class TeamError(ValueError):
    """A team change that cannot be made; the message says why, in Vietnamese."""


@dataclass(frozen=True)
class TeamRow:
    team: Team
    wards: int
    members: int
    open_requests: int


def _counts(rows: Iterable[Any]) -> dict[int, int]:
    return {int(team_id): int(count) for team_id, count in rows if team_id is not None}


def team_overview(*, session: Session) -> list[TeamRow]:
    """Every team with its number of wards, members and open requests (three grouped counts)."""
    from bot.requests.models import OPEN_STATUSES, AidRequest
    from bot.users.models import user_teams

    wards = _counts(
        session.execute(select(TeamWard.team_id, func.count()).group_by(TeamWard.team_id))
    )
    members = _counts(
        session.execute(select(user_teams.c.team_id, func.count()).group_by(user_teams.c.team_id))
    )
    open_requests = _counts(
        session.execute(
            select(AidRequest.team_id, func.count())
            .where(AidRequest.status.in_([s.value for s in OPEN_STATUSES]))
            .group_by(AidRequest.team_id)
        )
    )
    return [
        TeamRow(t, wards.get(t.id, 0), members.get(t.id, 0), open_requests.get(t.id, 0))
        for t in list_teams(session=session)
    ]


def get_team(*, session: Session, team_id: int) -> Team | None:
    return session.get(Team, team_id)


def _check_team_fields(name: str, chat_id: str) -> tuple[str, str | None]:
    name = " ".join(name.split())
    if not name:
        raise TeamError("Tên tổ không được để trống.")
    if len(name) > MAX_TEAM_NAME:
        raise TeamError(f"Tên tổ tối đa {MAX_TEAM_NAME} ký tự.")
    chat = chat_id.strip()
    if chat and not CHAT_ID_RE.match(chat):
        raise TeamError(
            "Mã nhóm Telegram là một số (ví dụ -1001234567890) hoặc tên kênh bắt đầu bằng @."
        )
    return name, chat or None


def create_team(
    *,
    session: Session,
    slug: str,
    name: str,
    level: str,
    province_code: str,
    telegram_chat_id: str,
    actor: str,
) -> Team:
    """Creates a team (no wards yet); the slug is how files and the CLI name it."""
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise TeamError(
            "Mã tổ gồm chữ thường không dấu, số và dấu gạch ngang (ví dụ: hcm-ben-thanh)."
        )
    if session.scalar(select(Team.id).where(Team.slug == slug)) is not None:
        raise TeamError(f"Mã tổ “{slug}” đã có; chọn mã khác.")
    if level not in set(TeamLevel):
        raise TeamError("Cấp của tổ phải là phường/xã, tỉnh/thành hoặc trung tâm.")
    province = province_code.strip().zfill(2) if province_code.strip() else None
    if province and province_name(province) is None:
        raise TeamError(f"Không có tỉnh/thành mã {province_code.strip()}.")
    if level == TeamLevel.PROVINCE and not province:
        raise TeamError("Tổ cấp tỉnh/thành cần mã tỉnh/thành.")
    clean_name, chat = _check_team_fields(name, telegram_chat_id)
    team = Team(
        slug=slug, name=clean_name, level=level, province_code=province, telegram_chat_id=chat
    )
    session.add(team)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="team.created",
        entity="team",
        entity_id=team.id,
        detail={"slug": slug, "level": level, "province_code": province},
    )
    return team


def update_team(
    *, session: Session, team: Team, name: str, telegram_chat_id: str, active: bool, actor: str
) -> None:
    """Changes a team's name, notification chat and whether it takes new requests."""
    clean_name, chat = _check_team_fields(name, telegram_chat_id)
    changed = [
        field
        for field, old, new in (
            ("name", team.name, clean_name),
            ("telegram_chat_id", team.telegram_chat_id, chat),
            ("active", team.active, active),
        )
        if old != new
    ]
    if not changed:
        return
    team.name, team.telegram_chat_id, team.active = clean_name, chat, active
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="team.updated",
        entity="team",
        entity_id=team.id,
        detail={"changed": changed},
    )


def team_ward_codes(*, session: Session, team: Team) -> list[str]:
    return list(
        session.scalars(
            select(TeamWard.ward_code)
            .where(TeamWard.team_id == team.id)
            .order_by(TeamWard.ward_code)
        )
    )


def add_ward(*, session: Session, team: Team, ward_code: str, actor: str) -> None:
    """Gives a ward to a team; a ward already covered by another team is refused (a ward has
    one team, and moving one should be a choice made on the other team's page)."""
    ward = get_ward(ward_code.strip())
    if ward is None:
        raise TeamError("Không có phường/xã này. Hãy chọn từ kết quả tìm kiếm.")
    link = session.scalar(select(TeamWard).where(TeamWard.ward_code == ward.code))
    if link is not None:
        if link.team_id == team.id:
            raise TeamError(f"{ward.name} đã thuộc tổ này.")
        other = session.get(Team, link.team_id)
        raise TeamError(
            f"{ward.name} đang thuộc tổ “{other.name if other else link.team_id}”; "
            "gỡ khỏi tổ đó trước."
        )
    session.add(TeamWard(team_id=team.id, ward_code=ward.code))
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="team.ward_added",
        entity="team",
        entity_id=team.id,
        detail={"ward_code": ward.code},
    )


def remove_ward(*, session: Session, team: Team, ward_code: str, actor: str) -> bool:
    """Takes a ward from a team; its new requests go to the province's team. False: not there."""
    link = session.scalar(
        select(TeamWard).where(TeamWard.team_id == team.id, TeamWard.ward_code == ward_code)
    )
    if link is None:
        return False
    session.delete(link)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="team.ward_removed",
        entity="team",
        entity_id=team.id,
        detail={"ward_code": ward_code},
    )
    return True
