"""Referrals and their append-only audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import TERMINAL_STATES, Referral, ReferralEvent, ReferralState


async def create_referral(*, session: AsyncSession, referral: Referral) -> Referral:
    session.add(referral)
    await session.flush()
    return referral


async def get_referral(*, session: AsyncSession, referral_id: int) -> Referral | None:
    return await session.get(Referral, referral_id)


async def move_referral(
    *,
    session: AsyncSession,
    referral_id: int,
    expected_state: ReferralState,
    expected_version: int,
    values: dict[str, Any],
) -> bool:
    """Apply a transition only if nobody else did first (state and version still as read).

    Returns False when the referral moved on meanwhile; the caller then answers "already
    handled" and changes nothing.
    """
    result = await session.exec(
        update(Referral)
        .where(
            col(Referral.id) == referral_id,
            col(Referral.state) == expected_state,
            col(Referral.version) == expected_version,
        )
        .values(version=expected_version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def add_referral_event(*, session: AsyncSession, event: ReferralEvent) -> ReferralEvent:
    session.add(event)
    await session.flush()
    return event


async def list_referral_events(*, session: AsyncSession, referral_id: int) -> list[ReferralEvent]:
    result = await session.exec(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral_id)
        .order_by(col(ReferralEvent.at), col(ReferralEvent.id))
    )
    return list(result.all())


async def find_version_event(
    *, session: AsyncSession, referral_id: int, from_version: int
) -> ReferralEvent | None:
    """The audit entry of the transition that left ``from_version`` (who handled a card)."""
    for event in await list_referral_events(session=session, referral_id=referral_id):
        if event.data.get("from_version") == from_version:
            return event
    return None


async def active_referral_for_candidate(
    *, session: AsyncSession, candidate_id: int
) -> Referral | None:
    result = await session.exec(
        select(Referral)
        .where(
            Referral.candidate_id == candidate_id,
            col(Referral.state).not_in([s.value for s in TERMINAL_STATES]),
        )
        .order_by(col(Referral.id))
    )
    return result.first()


async def list_referrals_by_referrer(
    *, session: AsyncSession, referrer_id: int, limit: int = 20
) -> list[Referral]:
    result = await session.exec(
        select(Referral)
        .where(Referral.referrer_id == referrer_id)
        .order_by(col(Referral.id).desc())
        .limit(limit)
    )
    return list(result.all())


async def list_assigned_referrals(*, session: AsyncSession, assignee_id: int) -> list[Referral]:
    result = await session.exec(
        select(Referral)
        .where(
            Referral.assignee_id == assignee_id,
            col(Referral.state).not_in([s.value for s in TERMINAL_STATES]),
        )
        .order_by(col(Referral.stage_due_at), col(Referral.id))
    )
    return list(result.all())


async def list_referrals_in_state(
    *, session: AsyncSession, referrer_id: int, state: ReferralState
) -> list[Referral]:
    result = await session.exec(
        select(Referral)
        .where(Referral.referrer_id == referrer_id, Referral.state == state)
        .order_by(col(Referral.id))
    )
    return list(result.all())


def stage_timestamps(events: list[ReferralEvent]) -> list[tuple[str, datetime, datetime | None]]:
    """(state, entered, left) for each state the referral has been in, in order."""
    spans: list[tuple[str, datetime, datetime | None]] = []
    for event in events:
        if event.to_state is None or event.to_state == event.from_state:
            continue
        if spans:
            state, entered, _ = spans[-1]
            spans[-1] = (state, entered, event.at)
        spans.append((event.to_state, event.at, None))
    return spans
