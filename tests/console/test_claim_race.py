"""Two staff claim the same conversation at the same moment, 100 times: one owner every time.

Real threads with their own connections and transactions (PostgreSQL when configured, else
SQLite); the claim is one conditional UPDATE, so the loser sees 0 rows and is told who won.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import sessionmaker

from bot.console.service import Actor, ConsoleError, claim
from bot.handoff.models import ConversationMessage, HandoffReason, HandoffRequest
from bot.handoff.service import request_handoff
from bot.residents.models import Resident

ROUNDS = 100
AN = Actor(id=1, name="Nguyễn An", role="staff")
BINH = Actor(id=2, name="Trần Bình", role="staff")


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker]:
    made = sessionmaker(bind=engine, expire_on_commit=False)
    yield made
    with engine.begin() as conn:
        conn.execute(delete(ConversationMessage))
        conn.execute(delete(HandoffRequest))
        conn.execute(delete(Resident).where(Resident.conversation_id.like("web:race%")))


def test_two_staff_claiming_at_once_get_one_owner_every_time(factory) -> None:
    with factory.begin() as session:
        ids = [
            request_handoff(
                session=session, conversation_id=f"web:race{n}", reason=HandoffReason.ASKED
            ).id
            for n in range(ROUNDS)
        ]
    for handoff_id in ids:
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def attempt(  # type: ignore[no-untyped-def]
            actor: Actor, handoff_id: int = handoff_id, barrier=barrier, outcomes=outcomes
        ) -> None:
            session = factory()
            try:
                barrier.wait(timeout=10)
                claim(session=session, handoff_id=handoff_id, actor=actor)
                session.commit()
                outcomes[actor.name] = "owner"
            except ConsoleError as exc:
                session.rollback()
                outcomes[actor.name] = str(exc)
            finally:
                session.close()

        threads = [threading.Thread(target=attempt, args=(a,)) for a in (AN, BINH)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        winners = [name for name, result in outcomes.items() if result == "owner"]
        assert len(winners) == 1, outcomes
        loser = next(name for name in outcomes if name not in winners)
        assert outcomes[loser].startswith(f"{winners[0]} đã nhận"), outcomes
        with factory() as session:
            row = session.get(HandoffRequest, handoff_id)
            assert row is not None
            assert row.status == "taken"
            assert row.owner_name == winners[0]
            claims = session.scalars(
                select(ConversationMessage).where(ConversationMessage.handoff_id == handoff_id)
            ).all()
            assert len(claims) == 1  # one "… đã nhận" line: the loser wrote nothing
