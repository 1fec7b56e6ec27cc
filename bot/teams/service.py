"""Teams and routing: a ward's team, else its province's team, else the central hotline team."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
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


def route_ward(*, session: Session, ward_code: str) -> Routing:
    """Returns the team that handles requests from this ward, and why."""
    team = session.scalar(
        select(Team)
        .join(TeamWard, TeamWard.team_id == Team.id)
        .where(TeamWard.ward_code == ward_code, Team.active.is_(True))
    )
    if team is not None:
        return Routing(team=team, note="Tổ hỗ trợ của phường/xã")
    ward = get_ward(ward_code)
    if ward is not None:
        team = session.scalar(
            select(Team)
            .where(
                Team.level == TeamLevel.PROVINCE,
                Team.province_code == ward.province_code,
                Team.active.is_(True),
            )
            .order_by(Team.id)
            .limit(1)
        )
        if team is not None:
            return Routing(team=team, note="Phường/xã chưa có tổ: chuyển tổ của tỉnh/thành")
    return Routing(
        team=ensure_central_team(session=session),
        note="Phường/xã và tỉnh/thành chưa có tổ: chuyển tổng đài trung tâm",
    )


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
