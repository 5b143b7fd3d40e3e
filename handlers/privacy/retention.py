"""Retention: candidates with no activity for ``[retention] days`` are anonymised, audited;
payloads of inbox events and outbox messages are emptied ``[retention] payload_days`` after
they were handled or sent.

Activity is the newest of the candidate's creation and any referral's update; a candidate with
a referral still in progress is never touched, however old.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, func, select

from bot.core.context import JobContext
from handlers.privacy.gdpr import anonymize_candidate
from storage.models import TERMINAL_STATES, Candidate, DueItem, Referral
from storage.repo.due import schedule_once
from storage.repo.personal_data import prune_payloads

SWEEP = "retention.sweep"
# Bounded per run so one sweep stays one short transaction; the next day continues.
BATCH = 500


async def schedule_retention(job: JobContext) -> bool:
    """Once a day (per Shanghai date), whatever the number of replicas."""
    day = job.now.astimezone(job.settings.tz).date().isoformat()
    return await schedule_once(
        session=job.session, dedupe_key=f"retention:{day}", kind=SWEEP,
        subject="retention", due_at=job.now, now=job.now,
    )


async def expired_candidates(job: JobContext, limit: int = BATCH) -> list[Candidate]:
    """Candidates past retention: not yet anonymised, no open referral, quiet since the cut."""
    cut = job.now - timedelta(days=job.settings.retention_days)
    open_ids = select(Referral.candidate_id).where(
        col(Referral.state).not_in([s.value for s in TERMINAL_STATES])
    )
    last_update = (
        select(func.max(Referral.updated_at))
        .where(Referral.candidate_id == Candidate.id)
        .scalar_subquery()
    )
    rows = await job.session.exec(
        select(Candidate)
        .where(
            col(Candidate.anonymized_at).is_(None),
            col(Candidate.id).not_in(open_ids),
            Candidate.created_at < cut,
            func.coalesce(last_update, Candidate.created_at) < cut,
        )
        .order_by(col(Candidate.id))
        .limit(limit)
    )
    return list(rows.all())


async def purge_expired(job: JobContext, item: DueItem) -> None:
    await prune_payloads(
        session=job.session,
        handled_before=job.now - timedelta(days=job.settings.payload_retention_days),
    )
    for candidate in await expired_candidates(job):
        await anonymize_candidate(
            job.session, candidate, now=job.now, action="anonymize", actor="system:retention",
            platform="",
        )


DUE_HANDLERS = {SWEEP: purge_expired}
