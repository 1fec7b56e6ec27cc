"""Two fan-outs of one advisory at the same moment (a double click, a restarted worker next
to the old one): real threads with their own connections and transactions, committed. Each
resident still gets one copy and one outbound message."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import sessionmaker

from bot.advisories.models import Advisory, AdvisoryDelivery
from bot.advisories.runtime import run_fan_out
from bot.advisories.service import create_advisory, start_sending, submit
from bot.audit.models import AuditEvent
from bot.db import session as db_session
from bot.outbound.models import OutboundMessage
from bot.residents.models import Resident
from bot.subscriptions.models import Subscription
from bot.users.models import Role, User
from tests.advisories.factories import subscribers
from tests.users.factories import make_user

RESIDENTS = 60


@pytest.fixture
def factory(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker]:
    """Committing sessions; what the test wrote (rows past the ids there were) is deleted."""
    made = sessionmaker(bind=engine, expire_on_commit=False)
    monkeypatch.setattr(db_session, "get_sessionmaker", lambda: made)
    models = (AuditEvent, OutboundMessage, Subscription, Resident, User)
    with made() as session:
        before = {m: session.scalar(select(func.coalesce(func.max(m.id), 0))) for m in models}
    yield made
    with engine.begin() as conn:
        ids = select(Advisory.id).where(Advisory.title == "race")
        conn.execute(delete(AdvisoryDelivery).where(AdvisoryDelivery.advisory_id.in_(ids)))
        conn.execute(delete(Advisory).where(Advisory.title == "race"))
        for model in models:
            conn.execute(delete(model).where(model.id > before[model]))


def test_two_fan_outs_at_once_queue_one_copy_each(factory: sessionmaker) -> None:
    with factory.begin() as session:
        subscribers(session, RESIDENTS)
        admin = make_user(session, role=Role.ADMIN, username="race.admin")
        advisory = create_advisory(
            session=session,
            author=admin,
            title="race",
            text="Tin thử.",
            target_kind="all",
            target_codes=[],
        )
        submit(session=session, advisory=advisory, user=admin, threshold=1000)
        start_sending(session=session, advisory=advisory, user=admin)
        advisory_id = advisory.id
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def fan_out() -> None:
        try:
            barrier.wait(timeout=10)
            # small fixed batches, so the two runs interleave
            run_fan_out(advisory_id=advisory_id, batch_size=7, adaptive=False)
        except BaseException as exc:  # noqa: BLE001  reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=fan_out) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with factory() as session:
        copies = session.scalars(
            select(AdvisoryDelivery.conversation_id).where(
                AdvisoryDelivery.advisory_id == advisory_id
            )
        ).all()
        assert len(copies) == len(set(copies)) == RESIDENTS
        outbound = session.execute(
            select(OutboundMessage.conversation_id, func.count())
            .where(OutboundMessage.kind == "advisory")
            .group_by(OutboundMessage.conversation_id)
        ).all()
        assert len(outbound) == RESIDENTS
        assert {n for _cid, n in outbound} == {1}
        linked = session.scalar(
            select(func.count())
            .select_from(AdvisoryDelivery)
            .where(
                AdvisoryDelivery.advisory_id == advisory_id,
                AdvisoryDelivery.outbound_id.is_not(None),
            )
        )
        assert linked == RESIDENTS
