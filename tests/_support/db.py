"""Read the database the way assertions need it."""

from __future__ import annotations

from sqlmodel import col, select

from storage.db import SessionFactory
from storage.models import Candidate, DueItem, Referral, ReferralDraft, ReferralEvent


async def all_rows(factory: SessionFactory, model: type) -> list:  # type: ignore[type-arg]
    async with factory() as session:
        return list((await session.exec(select(model))).all())


async def referral(factory: SessionFactory, referral_id: int) -> Referral:
    async with factory() as session:
        row = await session.get(Referral, referral_id)
        assert row is not None
        return row


async def events(factory: SessionFactory, referral_id: int) -> list[ReferralEvent]:
    async with factory() as session:
        rows = await session.exec(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(col(ReferralEvent.id))
        )
        return list(rows.all())


async def pending_due(factory: SessionFactory, referral_id: int) -> list[DueItem]:
    async with factory() as session:
        rows = await session.exec(
            select(DueItem)
            .where(DueItem.referral_id == referral_id, col(DueItem.done_at).is_(None))
            .order_by(col(DueItem.due_at))
        )
        return list(rows.all())


async def counts(factory: SessionFactory) -> dict[str, int]:
    return {
        "referrals": len(await all_rows(factory, Referral)),
        "candidates": len(await all_rows(factory, Candidate)),
        "events": len(await all_rows(factory, ReferralEvent)),
        "drafts": len(await all_rows(factory, ReferralDraft)),
    }
