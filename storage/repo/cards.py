"""Card instances: where each card went, so a later update replaces it in place.

One row per (card key, platform, recipient), holding the newest instance: the platform's
handle for it (DingTalk outTrackId, WeCom task_id) and, on WeCom, the newest
``response_code``. WeCom response codes are single use and expire after 72 hours; each
click callback brings a fresh one, so the newest code wins and a used one is cleared.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CardInstance


async def get_card_instance(
    *, session: AsyncSession, card_key: str, platform: str, recipient: str
) -> CardInstance | None:
    result = await session.exec(
        select(CardInstance).where(
            CardInstance.card_key == card_key,
            CardInstance.platform == platform,
            CardInstance.recipient == recipient,
        )
    )
    return result.first()


async def find_card_instance_by_ref(
    *, session: AsyncSession, platform: str, platform_ref: str, recipient: str
) -> CardInstance | None:
    """The instance a platform handle (e.g. a WeCom TaskId) belongs to, for that recipient."""
    if not platform_ref:
        return None
    result = await session.exec(
        select(CardInstance).where(
            CardInstance.platform == platform,
            CardInstance.platform_ref == platform_ref,
            CardInstance.recipient == recipient,
        )
    )
    return result.first()


async def save_card_instance(
    *,
    session: AsyncSession,
    card_key: str,
    platform: str,
    recipient: str,
    platform_ref: str,
    response_code: str,
    now: datetime | None = None,
) -> CardInstance:
    """Insert or replace the instance of ``card_key`` shown to ``recipient``.

    Safe against a concurrent insert of the same row: the loser updates the winner's row.
    """
    now = now or datetime.now(UTC)
    for _ in range(2):
        row = await get_card_instance(
            session=session, card_key=card_key, platform=platform, recipient=recipient
        )
        if row is not None:
            row.platform_ref = platform_ref
            row.response_code = response_code
            row.updated_at = now
            session.add(row)
            await session.flush()
            return row
        try:
            async with session.begin_nested():
                row = CardInstance(
                    card_key=card_key,
                    platform=platform,
                    recipient=recipient,
                    platform_ref=platform_ref,
                    response_code=response_code,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
            return row
        except IntegrityError:
            continue  # someone inserted it meanwhile: update theirs
    raise RuntimeError(f"could not save card instance {card_key!r}")  # pragma: no cover


async def set_response_code(
    *,
    session: AsyncSession,
    card_key: str,
    platform: str,
    recipient: str,
    response_code: str,
    platform_ref: str | None = None,
    now: datetime | None = None,
) -> CardInstance:
    """Record the newest response code for (card, recipient), creating the row if needed.

    Args:
        platform_ref: The instance handle the code came with (WeCom TaskId); kept as is
            when None.
    """
    row = await get_card_instance(
        session=session, card_key=card_key, platform=platform, recipient=recipient
    )
    ref = platform_ref if platform_ref is not None else (row.platform_ref if row else "")
    return await save_card_instance(
        session=session,
        card_key=card_key,
        platform=platform,
        recipient=recipient,
        platform_ref=ref,
        response_code=response_code,
        now=now,
    )


async def clear_response_code(
    *, session: AsyncSession, card_key: str, platform: str, recipient: str, response_code: str
) -> bool:
    """Forget ``response_code`` once used; a newer code saved meanwhile is kept.

    Returns:
        True when the stored code was the one given and is now cleared.
    """
    row = await get_card_instance(
        session=session, card_key=card_key, platform=platform, recipient=recipient
    )
    if row is None or not response_code or row.response_code != response_code:
        return False
    row.response_code = ""
    session.add(row)
    await session.flush()
    return True
