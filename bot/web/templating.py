"""The one Jinja2 environment of the staff pages (autoescape on), with the signed-in user and
the CSRF token in every template's context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _auth_context(request: Request) -> dict[str, Any]:
    session = getattr(request.state, "auth_session", None)
    return {
        "current_user": getattr(request.state, "viewer", None),
        "csrf_token": session.csrf_token if session is not None else "",
    }


templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
    ),
    context_processors=[_auth_context],
)
