"""The Zalo OA access token, refreshed ahead of expiry with OAuth v4.

Refresh tokens are single-use: using one twice loses the pair. So a refresh first takes a
lease on the `channel_tokens` row with one conditional UPDATE (atomic on SQLite and
PostgreSQL, across processes), calls Zalo, and stores the new pair (compare-and-set on the old
refresh token) before anyone uses it. Others wait for the lease and read the new pair. A
failed refresh is logged at ERROR and recorded as a channel incident for the admins.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update

from bot.channels.incidents import record_incident
from bot.channels.models import ChannelToken, IncidentKind
from bot.db.base import utcnow
from bot.db.session import session_scope
from bot.settings import Settings

logger = logging.getLogger(__name__)

CHANNEL = "zalo"
LEASE_SECONDS = 30
WAIT_SECONDS = 35


class TokenUnavailable(RuntimeError):
    """No usable access token (none configured, or the refresh failed). `transient`: a
    passing fault (network, another process refreshing) rather than refused credentials."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: datetime


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)


def load_pair() -> TokenPair | None:
    with session_scope() as session:
        row = session.get(ChannelToken, CHANNEL)
        if row is None:
            return None
        return TokenPair(row.access_token, row.refresh_token, _aware(row.expires_at))


def save_pair(pair: TokenPair) -> None:
    """Stores a pair given by an operator (`hotline zalo set-tokens`), replacing any other."""
    with session_scope() as session:
        row = session.get(ChannelToken, CHANNEL)
        if row is None:
            row = ChannelToken(channel=CHANNEL)
            session.add(row)
        row.access_token = pair.access_token
        row.refresh_token = pair.refresh_token
        row.expires_at = pair.expires_at
        row.lease_owner = None
        row.lease_until = None
        row.updated_at = utcnow()


def _claim_lease(owner: str) -> TokenPair | None:
    """Takes the refresh lease; returns the pair as it is now, or None when another holds it."""
    now = utcnow()
    with session_scope() as session:
        result = session.execute(
            update(ChannelToken)
            .where(ChannelToken.channel == CHANNEL)
            .where(or_(ChannelToken.lease_until.is_(None), ChannelToken.lease_until < now))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=LEASE_SECONDS))
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
    return load_pair()


def _store_refreshed(owner: str, old_refresh: str, pair: TokenPair) -> bool:
    with session_scope() as session:
        result = session.execute(
            update(ChannelToken)
            .where(ChannelToken.channel == CHANNEL)
            .where(ChannelToken.lease_owner == owner)
            .where(ChannelToken.refresh_token == old_refresh)
            .values(
                access_token=pair.access_token,
                refresh_token=pair.refresh_token,
                expires_at=pair.expires_at,
                lease_owner=None,
                lease_until=None,
                updated_at=utcnow(),
            )
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _release_lease(owner: str) -> None:
    with session_scope() as session:
        session.execute(
            update(ChannelToken)
            .where(ChannelToken.channel == CHANNEL, ChannelToken.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def _record_failure(detail: str) -> None:
    with session_scope() as session:
        record_incident(
            session=session, channel=CHANNEL, kind=IncidentKind.TOKEN_REFRESH_FAILED, detail=detail
        )


def _seed_from_settings(settings: Settings) -> None:
    """Stores the first pair from the settings when the database has none."""
    if settings.zalo_access_token is None or settings.zalo_refresh_token is None:
        return
    with session_scope() as session:
        if session.scalar(select(ChannelToken.channel).where(ChannelToken.channel == CHANNEL)):
            return
        session.add(
            ChannelToken(
                channel=CHANNEL,
                access_token=settings.zalo_access_token.get_secret_value(),
                refresh_token=settings.zalo_refresh_token.get_secret_value(),
                # Unknown age: treat it as due, so the first use refreshes it.
                expires_at=utcnow(),
            )
        )


class ZaloTokens:
    """Hands out a valid access token, refreshing it when due (or when Zalo said it expired)."""

    def __init__(self, *, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._http = http or httpx.AsyncClient(timeout=15)
        self._owner = f"{uuid.uuid4().hex[:12]}"
        self._local = asyncio.Lock()  # one refresh attempt at a time within this process

    async def aclose(self) -> None:
        await self._http.aclose()

    async def access_token(self, *, rejected: str | None = None) -> str:
        """A usable access token; `rejected` is one Zalo just refused (forces a refresh)."""
        pair = await asyncio.to_thread(load_pair)
        if pair is None:
            await asyncio.to_thread(_seed_from_settings, self._settings)
            pair = await asyncio.to_thread(load_pair)
            if pair is None:
                raise TokenUnavailable("no Zalo token: run `hotline zalo set-tokens`")
        if not self._due(pair, rejected):
            return pair.access_token
        async with self._local:
            return await self._refresh(rejected)

    def _due(self, pair: TokenPair, rejected: str | None) -> bool:
        if rejected is not None and pair.access_token == rejected:
            return True
        margin = timedelta(seconds=self._settings.zalo_token_refresh_margin_seconds)
        return pair.expires_at - utcnow() <= margin

    async def _refresh(self, rejected: str | None) -> str:
        deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
        while True:
            current = await asyncio.to_thread(load_pair)
            if current is not None and not self._due(current, rejected):
                return current.access_token  # refreshed meanwhile by someone else
            claimed = await asyncio.to_thread(_claim_lease, self._owner)
            if claimed is not None:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TokenUnavailable("another process holds the refresh lease", transient=True)
            await asyncio.sleep(0.1)
        if not self._due(claimed, rejected):  # refreshed between our read and the lease
            await asyncio.to_thread(_release_lease, self._owner)
            return claimed.access_token
        try:
            pair = await self._call_oauth(claimed.refresh_token)
        except TokenUnavailable as exc:
            await asyncio.to_thread(_release_lease, self._owner)
            logger.error("Zalo token refresh failed: %s; admins alerted", exc)
            await asyncio.to_thread(_record_failure, str(exc))
            raise
        if not await asyncio.to_thread(_store_refreshed, self._owner, claimed.refresh_token, pair):
            # Our lease expired and someone else refreshed; their pair is the valid one.
            logger.error("Zalo token refresh lost its lease; using the stored pair")
            stored = await asyncio.to_thread(load_pair)
            if stored is None:
                raise TokenUnavailable("token row vanished", transient=True)
            return stored.access_token
        logger.info("Zalo access token refreshed; valid until %s", pair.expires_at.isoformat())
        return pair.access_token

    async def _call_oauth(self, refresh_token: str) -> TokenPair:
        """OAuth v4 refresh (form post with the app secret in a header)."""
        secret = self._settings.zalo_app_secret
        if secret is None:
            raise TokenUnavailable("ZALO_APP_SECRET is not set")
        url = f"{self._settings.zalo_oauth_base_url.rstrip('/')}/v4/oa/access_token"
        try:
            response = await self._http.post(
                url,
                headers={"secret_key": secret.get_secret_value()},
                data={
                    "refresh_token": refresh_token,
                    "app_id": self._settings.zalo_app_id,
                    "grant_type": "refresh_token",
                },
            )
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TokenUnavailable(
                f"OAuth call failed: {type(exc).__name__}", transient=True
            ) from exc
        if response.status_code != 200 or not isinstance(data, dict):
            raise TokenUnavailable(
                f"OAuth answered HTTP {response.status_code}",
                transient=response.status_code >= 500 or response.status_code == 429,
            )
        if "access_token" not in data or "refresh_token" not in data:
            raise TokenUnavailable(f"OAuth error {data.get('error')}: {data.get('error_name', '')}")
        try:
            expires_in = int(data.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600
        return TokenPair(
            str(data["access_token"]),
            str(data["refresh_token"]),
            utcnow() + timedelta(seconds=expires_in),
        )
