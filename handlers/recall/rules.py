"""Respect for the candidate: consent first, an opt-out is final, and never more than one
message within ``recall_min_days_between`` days, whoever prompted it.

Every path that could put a message in front of a candidate asks :func:`contact_block`
first: the clock before it prompts, a campaign before it drafts, and the confirm tap before
anything is queued or marked sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import TalentProfile
from storage.repo.due import cancel_due_items
from storage.repo.recall import cancel_open_contacts, last_contacted_at, update_profile

# WeCom takes at most 4000 bytes of text in a mass-send task (add_msg_template).
MAX_TEXT_BYTES = 4000


@dataclass(frozen=True)
class Block:
    """Why a candidate may not be contacted now; ``until`` when it is only a matter of time."""

    reason: str  # opted_out | no_consent | too_soon
    until: datetime | None = None


def subject_of(profile: TalentProfile) -> str:
    return f"recall:{profile.id}"


async def contact_block(
    session: AsyncSession, profile: TalentProfile, *, now: datetime, min_days: int
) -> Block | None:
    """None when a recall message to this candidate may go out now."""
    if profile.opted_out_at is not None:
        return Block("opted_out")
    if not profile.consent:
        return Block("no_consent")
    assert profile.id is not None
    last = await last_contacted_at(session=session, profile_id=profile.id)
    if last is not None and now < last + timedelta(days=min_days):
        return Block("too_soon", last + timedelta(days=min_days))
    return None


def text_problem(text: str) -> str | None:
    """Why a message text cannot be sent as it is (None: it can)."""
    if not text.strip():
        return "empty"
    if len(text.encode()) > MAX_TEXT_BYTES:
        return "too_long"
    return None


async def opt_out(
    session: AsyncSession, profile: TalentProfile, *, version: int, now: datetime
) -> bool:
    """Stop every future prompt for the candidate: due items cancelled, drafts withdrawn.

    Returns:
        False when the profile changed meanwhile (nothing done).
    """
    assert profile.id is not None
    if not await update_profile(
        session=session, profile_id=profile.id, expected_version=version,
        values={"opted_out_at": now, "updated_at": now},
    ):
        return False
    await cancel_due_items(session=session, subject=subject_of(profile), now=now)
    await cancel_open_contacts(session=session, profile_id=profile.id, now=now)
    return True
