"""Many residents at once, and one resident submitting twice at once, on a real database with
real commits (not the per-test rollback): 0 lost and 0 duplicated requests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.models import AuditEvent
from bot.requests.models import AidRequest
from bot.requests.rollups import uncount
from bot.requests.service import submit_aid_request
from bot.residents.models import Resident
from tests.requests.factories import aid_in


@pytest.fixture
def committing(engine: Engine) -> Iterator[tuple[sessionmaker[Session], str]]:
    """A session factory that really commits, and a prefix; the rows are deleted afterwards
    and taken out of the daily roll-ups, which other tests compare with the requests."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    prefix = f"web:conc{uuid.uuid4().hex[:8]}"
    yield factory, prefix
    with factory.begin() as session:
        ids = session.scalars(
            select(AidRequest.id).join(Resident).where(Resident.conversation_id.like(f"{prefix}%"))
        ).all()
        uncount(session=session, where=AidRequest.id.in_(ids))
        session.execute(
            delete(AuditEvent).where(
                AuditEvent.entity == "aid_request", AuditEvent.entity_id.in_(ids)
            )
        )
        session.execute(delete(Resident).where(Resident.conversation_id.like(f"{prefix}%")))


def _submit(factory: sessionmaker[Session], conversation: str) -> str:
    with factory.begin() as session:
        return submit_aid_request(
            session=session, conversation_id=conversation, data=aid_in()
        ).request.ref_code


def test_fifty_concurrent_submissions_give_fifty_rows_with_unique_codes(
    committing: tuple[sessionmaker[Session], str],
) -> None:
    factory, prefix = committing
    conversations = [f"{prefix}x{i}" for i in range(50)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(lambda c: _submit(factory, c), conversations))
    assert len(set(codes)) == 50
    with factory() as session:
        stored = session.scalars(
            select(AidRequest.ref_code)
            .join(Resident)
            .where(Resident.conversation_id.like(f"{prefix}%"))
        ).all()
    assert sorted(stored) == sorted(codes)


def test_a_duplicate_submission_at_the_same_time_gives_one_request(
    committing: tuple[sessionmaker[Session], str],
) -> None:
    factory, prefix = committing
    conversation = f"{prefix}dup"
    _submit(factory, conversation)  # the resident exists, as after the consent step
    with factory.begin() as session:
        theirs = AidRequest.resident_id.in_(
            select(Resident.id).where(Resident.conversation_id == conversation)
        )
        uncount(session=session, where=theirs)
        session.execute(delete(AidRequest).where(theirs))
    with ThreadPoolExecutor(max_workers=5) as pool:
        codes = list(pool.map(lambda _: _submit(factory, conversation), range(5)))
    assert len(set(codes)) == 1
    with factory() as session:
        rows = session.scalars(
            select(AidRequest).join(Resident).where(Resident.conversation_id == conversation)
        ).all()
        assert len(rows) == 1
        assert len(rows[0].history) == 2 + 4  # created, assigned, then 4 updates
