"""Team notifications of aid requests, queued on the one outbound path in the caller's
transaction (the outbox pattern)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.conversations.messages import OutboundReply
from bot.outbound.models import OutboundMessage
from bot.outbound.service import enqueue
from bot.places.wards import get_ward
from bot.requests.codes import format_ref
from bot.requests.models import AidRequest
from bot.requests.priority import PRIORITY_LABELS
from bot.requests.validation import NEED_LABELS
from bot.settings import get_settings
from bot.teams.models import Team


def team_notification_text(request: AidRequest, *, updated: bool = False) -> str:
    """The message a team's Telegram group gets: code, need, priority, ward and a link to the
    request in the workspace (sign-in required). No personal data: a group chat on a foreign
    platform is outside the team's control (Law 91/2025 on sending personal data abroad)."""
    ward = get_ward(request.ward_code)
    place = ward.label if ward else request.ward_code
    needs = ", ".join(NEED_LABELS.get(n, n) for n in request.needs)
    head = "CẬP NHẬT đề nghị hỗ trợ" if updated else "Đề nghị hỗ trợ mới"
    link = f"{get_settings().public_base_url.rstrip('/')}/team/requests/{request.ref_code}"
    return (
        f"{head} {format_ref(request.ref_code)} — ưu tiên {request.priority} "
        f"({PRIORITY_LABELS[request.priority]}, {request.priority_score} điểm)\n"
        f"Nhu cầu: {needs}\n"
        f"Địa bàn: {place}\n"
        f"Xem và xử lý (cần đăng nhập): {link}"
    )


TEAM_NOTIFICATION = "team_notification"


def enqueue_team_notification(
    *, session: Session, request: AidRequest, team: Team, event: str
) -> OutboundMessage:
    """Queues one notification of `event` ("created", "updated-3") about a request to a
    team's Telegram group; the same event is queued only once."""
    return enqueue(
        session=session,
        channel="telegram",
        address=team.telegram_chat_id,
        reply=OutboundReply(team_notification_text(request, updated=event != "created")),
        kind=TEAM_NOTIFICATION,
        dedupe_key=f"aid:{request.id}:{event}:team:{team.id}",
        aid_request_id=request.id,
        team_id=team.id,
    )
