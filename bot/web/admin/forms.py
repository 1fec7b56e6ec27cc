"""What the management pages share: the posted form as lists, a 404 page, and their wiring."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from bot.web.templating import templates


class PageNotFound(Exception):
    """Answered with a 404 page in Vietnamese (a forged or stale id in a management URL)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def not_found(message: str) -> PageNotFound:
    return PageNotFound(message)


async def _posted_form(request: Request) -> dict[str, list[str]]:
    # Read here, in the event loop, so the page's handler can stay a sync function that runs
    # in the thread pool (database calls wait there, not in the loop).
    form = await request.form()
    posted: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            posted.setdefault(name, []).append(value)
    return posted


PostedForm = Annotated[dict[str, list[str]], Depends(_posted_form)]


def install_management_pages(app: FastAPI) -> None:
    """Adds the admins' management pages (content, teams, audit trail) and their 404 page."""
    from bot.web.admin import audit, content, teams

    async def on_not_found(request: Request, exc: Exception) -> Response:
        message = exc.message if isinstance(exc, PageNotFound) else "Không tìm thấy."
        return templates.TemplateResponse(
            request, "error.html", {"title": "Không tìm thấy", "message": message}, status_code=404
        )

    app.add_exception_handler(PageNotFound, on_not_found)
    app.include_router(content.router)
    app.include_router(teams.router)
    app.include_router(audit.router)
