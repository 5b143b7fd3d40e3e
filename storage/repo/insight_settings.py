"""Insight settings (a small key/value table), rendered charts, and the sync's lock."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InsightChart, InsightSetting
from storage.sql import execute

CHART_REF_PREFIX = "chart:"
# Any fixed number: replicas agree on it, nothing else in the database takes this lock.
_SYNC_LOCK = 0x68726274  # "hrbt"


async def get_setting(*, session: AsyncSession, key: str, default: Any = None) -> Any:
    row = await session.get(InsightSetting, key)
    return default if row is None or row.value is None else row.value


async def get_settings(*, session: AsyncSession, prefix: str) -> dict[str, Any]:
    result = await execute(
        session, select(InsightSetting).where(col(InsightSetting.key).startswith(prefix))
    )
    return {row.key: row.value for row in result.scalars().all()}


async def set_setting(
    *, session: AsyncSession, key: str, value: Any, now: datetime, by: int | None = None
) -> None:
    row = await session.get(InsightSetting, key)
    if row is None:
        session.add(InsightSetting(key=key, value=value, updated_by=by, updated_at=now))
    else:
        row.value, row.updated_by, row.updated_at = value, by, now
        session.add(row)
    await session.flush()


async def try_sync_lock(*, session: AsyncSession) -> bool:
    """Take the insight sync lock for this transaction; False when another replica has it.

    SQLite runs one writing transaction at a time (storage.db takes the write lock at BEGIN),
    so only PostgreSQL needs the advisory lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    result = await execute(
        session, text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=_SYNC_LOCK)
    )
    return bool(result.scalar_one())


async def save_chart(*, session: AsyncSession, png: bytes, now: datetime) -> str:
    """Store a PNG once (by content) and return the reference a card carries."""
    digest = hashlib.sha256(png).hexdigest()
    found = await execute(
        session, select(col(InsightChart.id)).where(col(InsightChart.digest) == digest)
    )
    chart_id = found.scalar_one_or_none()
    if chart_id is None:
        try:
            async with session.begin_nested():
                row = InsightChart(digest=digest, png=png, created_at=now)
                session.add(row)
                await session.flush()
                chart_id = row.id
        except IntegrityError:  # the same chart stored by a concurrent request
            found = await execute(
                session, select(col(InsightChart.id)).where(col(InsightChart.digest) == digest)
            )
            chart_id = found.scalar_one()
    return f"{CHART_REF_PREFIX}{chart_id}"


async def load_chart(*, session: AsyncSession, ref: str) -> bytes | None:
    """The PNG behind a card's image reference (None: unknown or pruned)."""
    if not ref.startswith(CHART_REF_PREFIX) or not ref[len(CHART_REF_PREFIX):].isdigit():
        return None
    row = await session.get(InsightChart, int(ref[len(CHART_REF_PREFIX):]))
    return row.png if row is not None else None


async def prune_charts(*, session: AsyncSession, before: datetime) -> int:
    result = await session.exec(
        delete(InsightChart).where(col(InsightChart.created_at) < before)
    )
    return int(result.rowcount or 0)

