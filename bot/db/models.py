"""Every model, imported in one place so Alembic and `create_all` see the whole schema."""

from bot.advisories.models import Advisory, AdvisoryDelivery
from bot.audit.models import AuditEvent
from bot.channels.models import ChannelIncident, ChannelToken
from bot.consents.models import Consent
from bot.content.models import ContentRevision
from bot.db.base import Base
from bot.delivery.models import DeadJob
from bot.handoff.models import ConversationMessage, HandoffRequest
from bot.notices.models import Notice, NoticeWard
from bot.outbound.models import OutboundMessage
from bot.requests.models import AidRequest, HealthDeclaration, RequestStatusChange
from bot.residents.area_models import ResidentArea
from bot.residents.models import Resident
from bot.rumours.models import RumourGroup, RumourQuestion
from bot.stats.models import IntentDailyCount
from bot.subscriptions.models import Subscription
from bot.teams.models import Team, TeamWard
from bot.users.models import User

__all__ = [
    "Advisory",
    "AdvisoryDelivery",
    "AidRequest",
    "AuditEvent",
    "Base",
    "ChannelIncident",
    "ChannelToken",
    "Consent",
    "ContentRevision",
    "ConversationMessage",
    "DeadJob",
    "HandoffRequest",
    "HealthDeclaration",
    "IntentDailyCount",
    "Notice",
    "NoticeWard",
    "OutboundMessage",
    "RequestStatusChange",
    "Resident",
    "ResidentArea",
    "RumourGroup",
    "RumourQuestion",
    "Subscription",
    "Team",
    "TeamWard",
    "User",
]
