"""Metered API calls per platform and month (DingTalk standard edition: 5,000 a month)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ApiUsage

# Both platforms are Chinese services: their months turn over at midnight in China.
_PLATFORM_TZ = ZoneInfo("Asia/Shanghai")


def usage_period(now: datetime) -> str:
    """The quota month ``now`` falls in, e.g. ``"2026-11"``."""
    return now.astimezone(_PLATFORM_TZ).strftime("%Y-%m")


async def add_api_calls(
    *, session: AsyncSession, platform: str, period: str, calls: int, now: datetime
) -> int:
    """Add ``calls`` to the month's count and return the new total.

    One atomic UPDATE, so replicas counting at once never lose an increment; the row is
    created by whoever counts first in a month.
    """
    for _ in range(2):
        result = await session.exec(
            update(ApiUsage)
            .where(col(ApiUsage.platform) == platform, col(ApiUsage.period) == period)
            .values(calls=col(ApiUsage.calls) + calls, updated_at=now)
            .returning(col(ApiUsage.calls))
            .execution_options(synchronize_session=False)
        )
        total = result.scalar_one_or_none()
        if total is not None:
            return int(total)
        try:
            async with session.begin_nested():
                row = ApiUsage(platform=platform, period=period, calls=calls, updated_at=now)
                session.add(row)
            return calls
        except IntegrityError:
            continue  # another replica created the month's row first: add to it
    raise RuntimeError(f"could not count api calls for {platform} {period}")


async def api_calls(*, session: AsyncSession, platform: str, period: str) -> int:
    """Calls counted for ``platform`` in ``period`` (0 when none)."""
    result = await session.exec(
        select(ApiUsage.calls).where(ApiUsage.platform == platform, ApiUsage.period == period)
    )
    return int(result.first() or 0)
