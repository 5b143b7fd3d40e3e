"""The audit trail of personal data: one INSERT per read or act, read back per candidate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditRecord, Referral, ReferralEvent


async def record_audit(
    *,
    session: AsyncSession,
    at: datetime,
    action: str,
    candidate_id: int | None,
    referral_id: int | None = None,
    actor_id: int | None = None,
    actor: str = "",
    platform: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    row = AuditRecord(
        at=at, action=action, candidate_id=candidate_id, referral_id=referral_id,
        actor_id=actor_id, actor=actor, platform=platform, detail=detail or {},
    )
    session.add(row)
    await session.flush()
    return row


async def record_audits(*, session: AsyncSession, rows: list[AuditRecord]) -> None:
    """Many audit rows in one flush (a directory sync writes one per changed person)."""
    session.add_all(rows)
    await session.flush()


async def list_candidate_trail(
    *, session: AsyncSession, candidate_id: int
) -> list[AuditRecord | ReferralEvent]:
    """Reads and acts on the candidate plus every workflow event of their referrals, by time."""
    audits = list((await session.exec(
        select(AuditRecord).where(AuditRecord.candidate_id == candidate_id)
    )).all())
    events = list((await session.exec(
        select(ReferralEvent)
        .join(Referral, col(Referral.id) == col(ReferralEvent.referral_id))
        .where(Referral.candidate_id == candidate_id)
    )).all())
    rows: list[AuditRecord | ReferralEvent] = [*audits, *events]
    return sorted(rows, key=lambda r: (r.at, isinstance(r, AuditRecord), r.id or 0))
