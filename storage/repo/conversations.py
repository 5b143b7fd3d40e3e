"""Per-person conversation state that must survive restarts: drafts and awaited input."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import PendingInput, ReferralDraft


async def get_draft(*, session: AsyncSession, person_id: int) -> ReferralDraft | None:
    result = await session.exec(select(ReferralDraft).where(ReferralDraft.person_id == person_id))
    return result.first()


async def save_draft(
    *, session: AsyncSession, person_id: int, fields: dict[str, str], now: datetime
) -> ReferralDraft:
    draft = await get_draft(session=session, person_id=person_id)
    if draft is None:
        draft = ReferralDraft(person_id=person_id)
    draft.fields = dict(fields)
    draft.updated_at = now
    session.add(draft)
    await session.flush()
    return draft


async def delete_draft(*, session: AsyncSession, person_id: int) -> None:
    draft = await get_draft(session=session, person_id=person_id)
    if draft is not None:
        await session.delete(draft)
        await session.flush()


async def get_pending_input(*, session: AsyncSession, person_id: int) -> PendingInput | None:
    result = await session.exec(select(PendingInput).where(PendingInput.person_id == person_id))
    return result.first()


async def set_pending_input(
    *, session: AsyncSession, person_id: int, action: str, params: dict[str, str], now: datetime
) -> None:
    pending = await get_pending_input(session=session, person_id=person_id)
    if pending is None:
        pending = PendingInput(person_id=person_id, action=action)
    pending.action = action
    pending.params = dict(params)
    pending.created_at = now
    session.add(pending)
    await session.flush()


async def clear_pending_input(*, session: AsyncSession, person_id: int) -> None:
    pending = await get_pending_input(session=session, person_id=person_id)
    if pending is not None:
        await session.delete(pending)
        await session.flush()
