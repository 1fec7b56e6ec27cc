"""The inbound job queue's dead letters: kept, listed and replayed."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.channels.incidents import record_incident
from bot.channels.models import IncidentKind
from bot.db.base import utcnow
from bot.delivery.models import DeadJob
from bot.delivery.queue import Job


def record_dead_job(
    *, session: Session, entry_id: str, job: Job, error: str, attempts: int
) -> DeadJob:
    """Keeps a job that failed every try, with an incident for the admins."""
    dead = DeadJob(
        entry_id=entry_id,
        channel=job.channel,
        kind=job.kind,
        conversation_id=job.conversation_id,
        job=job.dumps(),
        error=error[:300],
        attempts=attempts,
    )
    session.add(dead)
    record_incident(
        session=session,
        channel=job.channel,
        kind=IncidentKind.JOB_FAILED,
        conversation_id=job.conversation_id,
        code=error[:32],
        detail=f"dead letter {entry_id} after {attempts} tries",
    )
    session.flush()
    return dead


def dead_jobs(*, session: Session, limit: int = 100) -> list[DeadJob]:
    """The dead letters of the job queue, newest first."""
    return list(session.scalars(select(DeadJob).order_by(DeadJob.id.desc()).limit(limit)))


def request_replay(*, session: Session, dead_job_id: int | None = None) -> int:
    """Asks the worker to put one dead job (or all, with None) back on the queue; returns how
    many were asked."""
    query = select(DeadJob).where(DeadJob.replay_requested_at.is_(None))
    if dead_job_id is not None:
        query = query.where(DeadJob.id == dead_job_id)
    rows = list(session.scalars(query))
    for row in rows:
        row.replay_requested_at = utcnow()
    session.flush()
    return len(rows)


def replays_requested(*, session: Session, limit: int = 50) -> list[tuple[int, Job]]:
    """The dead jobs an operator asked to replay, with their jobs."""
    rows = session.scalars(
        select(DeadJob)
        .where(DeadJob.replay_requested_at.is_not(None))
        .order_by(DeadJob.id)
        .limit(limit)
    )
    return [(row.id, Job.loads(row.job)) for row in rows]


def forget_dead_jobs(*, session: Session, ids: list[int]) -> None:
    """Removes dead jobs that are back on the queue."""
    session.execute(delete(DeadJob).where(DeadJob.id.in_(ids)))
