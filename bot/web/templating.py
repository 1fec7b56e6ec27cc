"""The one Jinja2 environment of the staff pages (autoescape on), with the signed-in user and
the CSRF token in every template's context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from bot.requests.validation import format_phone

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _auth_context(request: Request) -> dict[str, Any]:
    session = getattr(request.state, "auth_session", None)
    return {
        "current_user": getattr(request.state, "viewer", None),
        "csrf_token": session.csrf_token if session is not None else "",
    }


# Vietnam keeps UTC+7 all year (no daylight saving): no time-zone database needed.
VIETNAM = timezone(timedelta(hours=7), "ICT")


def vn_time(moment: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A stored (UTC) time as people in Vietnam read it; "—" when there is none."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM).strftime(fmt)


templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
    ),
    context_processors=[_auth_context],
)
templates.env.filters["vn_time"] = vn_time
# A stored phone (E.164, "+84912345678") shown the Vietnamese way ("0912 345 678").
templates.env.filters["phone"] = format_phone
