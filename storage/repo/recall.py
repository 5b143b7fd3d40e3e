"""Talent profiles, recall contacts and campaigns.

Changes to a contact, a profile or a campaign are conditional on the version the card showed,
so two people tapping the same card at once change it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Candidate,
    RecallCampaign,
    RecallContact,
    RecallStatus,
    Referral,
    ReferralEvent,
    ReferralState,
    TalentProfile,
)

# Contacts that reached, or are about to reach, the candidate: they count for the minimum gap.
CONTACTED = (RecallStatus.QUEUED, RecallStatus.SENT)
# Contacts still waiting for a person's decision.
OPEN = (RecallStatus.DRAFTED, RecallStatus.HANDED)


async def get_profile(*, session: AsyncSession, profile_id: int) -> TalentProfile | None:
    return await session.get(TalentProfile, profile_id)


async def get_profile_for_candidate(
    *, session: AsyncSession, candidate_id: int
) -> TalentProfile | None:
    result = await session.exec(
        select(TalentProfile).where(TalentProfile.candidate_id == candidate_id)
    )
    return result.first()


async def save_profile(*, session: AsyncSession, profile: TalentProfile) -> TalentProfile:
    session.add(profile)
    await session.flush()
    return profile


async def update_profile(
    *, session: AsyncSession, profile_id: int, expected_version: int, values: dict[str, Any]
) -> bool:
    """Apply ``values`` if the profile is still at ``expected_version``; bumps the version."""
    result = await session.exec(
        update(TalentProfile)
        .where(
            col(TalentProfile.id) == profile_id,
            col(TalentProfile.version) == expected_version,
        )
        .values(version=expected_version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def list_profiles(
    *, session: AsyncSession, category: str | None = None
) -> list[tuple[TalentProfile, Candidate]]:
    """Profiles (optionally of one reason category) with their candidates, oldest first."""
    query = (
        select(TalentProfile, Candidate)
        .where(col(TalentProfile.candidate_id) == col(Candidate.id))
        .order_by(col(TalentProfile.since), col(TalentProfile.id))
    )
    if category is not None:
        query = query.where(TalentProfile.category == category)
    return [(p, c) for p, c in (await session.exec(query)).all()]


async def find_unprofiled_closures(*, session: AsyncSession, limit: int = 20) -> list[Referral]:
    """Referrals that ended in a no-show or a declined offer after their candidate's profile
    was last written (or with no profile at all): each needs its profile made or renewed."""
    declined = exists().where(
        col(ReferralEvent.referral_id) == col(Referral.id),
        col(ReferralEvent.action) == "offer.declined",
    )
    profiled = exists().where(
        col(TalentProfile.candidate_id) == col(Referral.candidate_id),
        col(TalentProfile.since) >= col(Referral.closed_at),
    )
    result = await session.exec(
        select(Referral)
        .where(
            col(Referral.closed_at).is_not(None),
            or_(
                col(Referral.state) == ReferralState.NO_SHOW,
                and_(col(Referral.state) == ReferralState.WITHDRAWN, declined),
            ),
            ~profiled,
        )
        .order_by(col(Referral.closed_at), col(Referral.id))
        .limit(limit)
    )
    return list(result.all())


async def create_contact(*, session: AsyncSession, contact: RecallContact) -> RecallContact:
    session.add(contact)
    await session.flush()
    return contact


async def get_contact(*, session: AsyncSession, contact_id: int) -> RecallContact | None:
    return await session.get(RecallContact, contact_id)


async def update_contact(
    *, session: AsyncSession, contact_id: int, expected_version: int, values: dict[str, Any]
) -> bool:
    """Apply ``values`` if the contact is still at ``expected_version``; bumps the version."""
    result = await session.exec(
        update(RecallContact)
        .where(
            col(RecallContact.id) == contact_id,
            col(RecallContact.version) == expected_version,
        )
        .values(version=expected_version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def list_contacts(*, session: AsyncSession, profile_id: int) -> list[RecallContact]:
    """Every recall contact of a profile, oldest first (its contact history)."""
    result = await session.exec(
        select(RecallContact)
        .where(RecallContact.profile_id == profile_id)
        .order_by(col(RecallContact.created_at), col(RecallContact.id))
    )
    return list(result.all())


async def last_contacted_at(*, session: AsyncSession, profile_id: int) -> datetime | None:
    """When a person last confirmed a message to this candidate (None: never)."""
    result = await session.exec(
        select(func.max(RecallContact.confirmed_at)).where(
            RecallContact.profile_id == profile_id,
            col(RecallContact.status).in_([s.value for s in CONTACTED]),
        )
    )
    value = result.first()
    return value if isinstance(value, datetime) else None


async def cancel_open_contacts(*, session: AsyncSession, profile_id: int, now: datetime) -> int:
    """Withdraw drafts nobody decided on yet (the candidate opted out or withdrew consent)."""
    result = await session.exec(
        update(RecallContact)
        .where(
            col(RecallContact.profile_id) == profile_id,
            col(RecallContact.status).in_([s.value for s in OPEN]),
        )
        .values(
            status=RecallStatus.CANCELLED, updated_at=now, version=RecallContact.version + 1
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def profiles_with_open_contacts(*, session: AsyncSession) -> set[int]:
    result = await session.exec(
        select(RecallContact.profile_id)
        .where(col(RecallContact.status).in_([s.value for s in OPEN]))
        .distinct()
    )
    return set(result.all())


async def list_all_contacts(
    *, session: AsyncSession
) -> list[tuple[RecallContact, TalentProfile]]:
    """Every contact with its profile (for statistics)."""
    result = await session.exec(
        select(RecallContact, TalentProfile)
        .where(col(RecallContact.profile_id) == col(TalentProfile.id))
        .order_by(col(RecallContact.id))
    )
    return [(c, p) for c, p in result.all()]


async def list_returned_contacts(
    *, session: AsyncSession
) -> list[tuple[RecallContact, datetime]]:
    """Sent contacts not yet marked re-hired whose candidate was hired after the message,
    with the hire time."""
    result = await session.exec(
        select(RecallContact, func.min(Referral.closed_at))
        .join(TalentProfile, col(TalentProfile.id) == col(RecallContact.profile_id))
        .join(Referral, col(Referral.candidate_id) == col(TalentProfile.candidate_id))
        .where(
            col(RecallContact.sent_at).is_not(None),
            col(RecallContact.rehired_at).is_(None),
            col(Referral.state) == ReferralState.HIRED,
            col(Referral.closed_at) > col(RecallContact.sent_at),
        )
        .group_by(col(RecallContact.id))
    )
    # closed_at > sent_at above already excludes NULL; the test only narrows the type.
    return [(c, at) for c, at in result.all() if at is not None]


async def count_campaign_contacts(*, session: AsyncSession, campaign_id: int) -> int:
    result = await session.exec(
        select(func.count()).select_from(RecallContact).where(
            RecallContact.campaign_id == campaign_id)
    )
    return int(result.one())


async def create_campaign(*, session: AsyncSession, campaign: RecallCampaign) -> RecallCampaign:
    session.add(campaign)
    await session.flush()
    return campaign


async def get_campaign(*, session: AsyncSession, campaign_id: int) -> RecallCampaign | None:
    return await session.get(RecallCampaign, campaign_id)


async def update_campaign(
    *, session: AsyncSession, campaign_id: int, expected_version: int, values: dict[str, Any]
) -> bool:
    result = await session.exec(
        update(RecallCampaign)
        .where(
            col(RecallCampaign.id) == campaign_id,
            col(RecallCampaign.version) == expected_version,
        )
        .values(version=expected_version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)
