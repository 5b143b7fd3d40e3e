"""Signed callbacks seen: a signature may come back only with the body it first came with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CallbackSignature


async def claim_signature(
    *, session: AsyncSession, platform: str, signature: str, body_digest: str,
    expires_at: datetime, now: datetime,
) -> bool:
    """True for a signature not seen before, or seen with this same body (a retry).

    Rows past ``expires_at`` are removed on the way (the signature is refused as stale by
    then anyway), so the table holds about an hour of callbacks.
    """
    await session.exec(
        delete(CallbackSignature).where(col(CallbackSignature.expires_at) < now)
    )
    try:
        async with session.begin_nested():
            session.add(CallbackSignature(platform=platform, signature=signature,
                                          body_digest=body_digest, expires_at=expires_at))
    except IntegrityError:
        result = await session.exec(
            select(CallbackSignature.body_digest).where(
                CallbackSignature.platform == platform,
                CallbackSignature.signature == signature,
            )
        )
        return result.first() == body_digest
    return True
