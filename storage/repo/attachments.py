"""Files that came with a referral (a résumé, a photo): the platform's handle, not the bytes."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Attachment


async def list_attachments(*, session: AsyncSession, referral_id: int) -> list[Attachment]:
    result = await session.exec(
        select(Attachment)
        .where(Attachment.referral_id == referral_id)
        .order_by(col(Attachment.id))
    )
    return list(result.all())
