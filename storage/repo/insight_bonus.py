"""Referral bonuses: the payroll list, and HR's decisions on each bonus."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ReferralBonus
from storage.repo.insight_stats import prefix_match
from storage.sql import execute


def _key(org_path: str) -> str:
    parts = [p for p in org_path.split("/") if p]
    return "/".join(parts) + "/" if parts else ""


async def list_bonuses(
    *,
    session: AsyncSession,
    scope: str,
    referrer_id: int | None = None,
    statuses: Sequence[str] = ("open", "paid", "void"),
    since: datetime | None = None,
    limit: int | None = 50,
) -> list[ReferralBonus]:
    """Bonuses in ``scope`` (optionally one referrer's), those payable first."""
    query = select(ReferralBonus).where(
        prefix_match(col(ReferralBonus.org_key), _key(scope)),
        col(ReferralBonus.status).in_(list(statuses)),
    )
    if referrer_id is not None:
        query = query.where(col(ReferralBonus.referrer_id) == referrer_id)
    if since is not None:
        query = query.where(col(ReferralBonus.hired_at) >= since)
    query = query.order_by(col(ReferralBonus.eligible_at), col(ReferralBonus.id))
    if limit is not None:
        query = query.limit(limit)
    return list((await execute(session, query)).scalars().all())


async def count_payable(*, session: AsyncSession, scope: str, now: datetime) -> int:
    """Open bonuses whose probation is over (what payroll should pay now)."""
    query = select(func.count()).where(
        prefix_match(col(ReferralBonus.org_key), _key(scope)),
        col(ReferralBonus.status) == "open",
        col(ReferralBonus.eligible_at) <= now,
    )
    return int((await execute(session, query)).scalar_one())


async def get_bonus(*, session: AsyncSession, referral_id: int) -> ReferralBonus | None:
    query = select(ReferralBonus).where(col(ReferralBonus.referral_id) == referral_id)
    return (await execute(session, query)).scalars().first()


async def decide_bonus(
    *, session: AsyncSession, bonus_id: int, status: str, by: int | None, now: datetime,
    note: str = "",
) -> bool:
    """Mark an open bonus paid or void; False when someone decided it first."""
    result = await session.exec(
        update(ReferralBonus)
        .where(col(ReferralBonus.id) == bonus_id, col(ReferralBonus.status) == "open")
        .values(status=status, decided_by=by, decided_at=now, note=note[:200])
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def apply_bonus_settings(
    *, session: AsyncSession, probation_days: int | None, amount: int | None
) -> int:
    """Open bonuses follow a changed probation period, and get an amount if they had none."""
    rows = await list_bonuses(session=session, scope="", statuses=("open",), limit=None)
    for bonus in rows:
        if probation_days is not None:
            bonus.eligible_at = bonus.hired_at + timedelta(days=probation_days)
        if amount is not None and not bonus.amount:
            bonus.amount = amount
        session.add(bonus)
    await session.flush()
    return len(rows)
