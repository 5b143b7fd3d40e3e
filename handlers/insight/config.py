"""Insight settings HR leads change from chat, with the defaults a new deployment starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.repo.insight_settings import get_settings

PREFIX = "insight."


@dataclass(frozen=True)
class InsightConfig:
    report_weekday: int = 0  # Monday; 0-6 as datetime.weekday()
    report_at: time = time(9, 0)
    report_enabled: bool = True
    probation_days: int = 90
    # A candidate referred again within this many days still credits the first referrer.
    credit_days: int = 365
    bonus_amount: int = 0  # yuan; 0 means not set



def _int(value: object, default: int, low: int, high: int) -> int:
    return value if isinstance(value, int) and low <= value <= high else default


async def load_config(session: AsyncSession) -> InsightConfig:
    """The stored settings over the defaults; a bad stored value falls back to its default."""
    raw = await get_settings(session=session, prefix=PREFIX)
    base = InsightConfig()
    at = raw.get(f"{PREFIX}report_at")
    try:
        report_at = time.fromisoformat(at) if isinstance(at, str) else base.report_at
    except ValueError:
        report_at = base.report_at
    enabled = raw.get(f"{PREFIX}report_enabled")
    return InsightConfig(
        report_weekday=_int(raw.get(f"{PREFIX}report_weekday"), base.report_weekday, 0, 6),
        report_at=report_at,
        report_enabled=enabled if isinstance(enabled, bool) else base.report_enabled,
        probation_days=_int(raw.get(f"{PREFIX}probation_days"), base.probation_days, 0, 3650),
        credit_days=_int(raw.get(f"{PREFIX}credit_days"), base.credit_days, 0, 3650),
        bonus_amount=_int(raw.get(f"{PREFIX}bonus_amount"), base.bonus_amount, 0, 10**7),
    )
