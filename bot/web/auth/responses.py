"""The answers of the auth layer: to the login page, 401/403 for the API, a Vietnamese 403 page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import JSONResponse, RedirectResponse
from starlette.requests import Request
from starlette.responses import Response

from bot.web.templating import templates


def wants_json(request: Request) -> bool:
    """API callers get JSON; everything else is a page."""
    return request.url.path.startswith("/api/")


def safe_next(path: str | None) -> str | None:
    """A local path to return to after sign-in, or None (never another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    if any(ord(ch) < 33 for ch in path) or len(path) > 500:
        return None
    return path


def login_required(request: Request) -> Response:
    """Sends a page to the login form (coming back afterwards), an API call gets 401."""
    if wants_json(request):
        return JSONResponse({"detail": "Cần đăng nhập."}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method == "GET" and target != "/login" and safe_next(target):
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    return RedirectResponse("/login", status_code=303)


def forbidden(
    request: Request, message: str, *, title: str = "Không có quyền truy cập"
) -> Response:
    """403 with a clear reason: a page in Vietnamese, or JSON for the API."""
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=403)
    return templates.TemplateResponse(
        request, "error.html", {"title": title, "message": message}, status_code=403
    )


UNAVAILABLE = "Hệ thống đăng nhập đang tạm gián đoạn. Vui lòng thử lại sau ít phút."


def unavailable(request: Request) -> Response:
    """503 when the session store (Redis) cannot be reached: a clear message, not a stack trace."""
    if wants_json(request):
        return JSONResponse({"detail": UNAVAILABLE}, status_code=503)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"title": "Tạm thời gián đoạn", "message": UNAVAILABLE},
        status_code=503,
    )
