"""Every model, imported in one place so Alembic and `create_all` see the whole schema."""

from bot.db.base import Base
from bot.delivery.models import ChannelIncident, ChannelToken
from bot.handoff.models import HandoffRequest
from bot.residents.models import Resident

__all__ = ["Base", "ChannelIncident", "ChannelToken", "HandoffRequest", "Resident"]
