"""Data-subject requests and consent: export what is held, erase (anonymise) on request.

Erasure anonymises instead of deleting rows: referral counts, bonuses and the audit trail stay
correct, while nothing left identifies the candidate. The act itself is audited.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from bot.core.text import normalize_text
from handlers.referral.permissions import CONSENT, ERASE, PERMISSIONS, permits
from handlers.referral.progress import visible_referral
from storage.models import (
    Attachment,
    AuditRecord,
    Candidate,
    PoolEntry,
    Position,
    Referral,
    ReferralEvent,
    TalentProfile,
)
from storage.repo.audit import list_candidate_trail, record_audit
from storage.repo.personal_data import scrub_personal_values, scrub_values

router = Router("gdpr")

ANONYMIZED_NAME = "已匿名"
dispatch_log = logging.getLogger("hrbot.dispatch")


async def _referrals(session: AsyncSession, candidate_id: int) -> list[Referral]:
    rows = await session.exec(select(Referral).where(Referral.candidate_id == candidate_id))
    return list(rows.all())


async def anonymize_candidate(
    session: AsyncSession,
    candidate: Candidate,
    *,
    now: datetime,
    action: str,
    actor_id: int | None = None,
    actor: str = "",
    platform: str = "",
) -> None:
    """Remove everything that identifies ``candidate``; keep the rows and one audit record.

    Args:
        action: ``erase`` (a data-subject request) or ``anonymize`` (retention).
    """
    assert candidate.id is not None
    # Inbox, outbox and drafts quote the person by value, not by id: scrub those values
    # before the candidate row forgets them.
    personal = (candidate.phone, candidate.email, candidate.name)
    scrubbed = await scrub_personal_values(session=session, values=personal)
    candidate.name = ANONYMIZED_NAME
    candidate.phone = candidate.email = candidate.education = None
    candidate.work_history, candidate.achievements, candidate.tags = [], "", []
    candidate.wecom_external_userid = None
    candidate.consent, candidate.consent_at = False, None
    candidate.anonymized_at = now
    session.add(candidate)
    referrals = await _referrals(session, candidate.id)
    ids = [r.id for r in referrals]
    for referral in referrals:
        # Free text about the person (why they were referred, notes on the way).
        referral.reason = ""
        session.add(referral)
    if ids:
        for event in (await session.exec(
            select(ReferralEvent).where(col(ReferralEvent.referral_id).in_(ids))
        )).all():
            event.note = ""
            event.data = scrub_values(event.data, personal)
            session.add(event)
        for file in (await session.exec(
            select(Attachment).where(col(Attachment.referral_id).in_(ids))
        )).all():
            file.filename, file.ref = "", ""
            session.add(file)
    profile = (await session.exec(
        select(TalentProfile).where(TalentProfile.candidate_id == candidate.id)
    )).first()
    if profile is not None:
        profile.notes, profile.needs, profile.questions = "", [], []
        profile.evaluations, profile.interest, profile.tags = [], "", []
        profile.consent, profile.consent_at, profile.opted_out_at = False, None, now
        session.add(profile)
    pool = await session.get(PoolEntry, candidate.id)
    if pool is not None:
        pool.search, pool.tags = "", []
        session.add(pool)
    await record_audit(
        session=session, at=now, action=action, candidate_id=candidate.id,
        actor_id=actor_id, actor=actor, platform=platform,
        detail={"referrals": len(ids), "scrubbed": scrubbed.rows},
    )


def _dump(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in row.model_dump().items()}


async def export_candidate(session: AsyncSession, candidate: Candidate) -> dict[str, Any]:
    """Everything held about ``candidate``, as plain JSON-ready data (contacts decrypted)."""
    assert candidate.id is not None
    referrals = await _referrals(session, candidate.id)
    ids = [r.id for r in referrals]
    attachments = list((await session.exec(
        select(Attachment).where(col(Attachment.referral_id).in_(ids))
    )).all()) if ids else []
    profile = (await session.exec(
        select(TalentProfile).where(TalentProfile.candidate_id == candidate.id)
    )).first()
    trail = await list_candidate_trail(session=session, candidate_id=candidate.id)
    data = _dump(candidate)
    for hidden in ("phone_hash", "email_hash"):
        data.pop(hidden, None)
    return {
        "candidate": data,
        "referrals": [_dump(r) for r in referrals],
        "events": [_dump(e) for e in trail if isinstance(e, ReferralEvent)],
        "attachments": [_dump(a) for a in attachments],
        "talent_profile": _dump(profile) if profile else None,
        "audit": [_dump(a) for a in trail if isinstance(a, AuditRecord)],
    }


@router.command("删除候选人", "erase-candidate")
async def erase_candidate(ctx: Context) -> None:
    """`删除候选人 12`: anonymise candidate 12 at their request (HR lead or admin)."""
    arg = normalize_text(ctx.args).lstrip("#")
    if not arg.isdigit():
        raise UserFacingError("privacy", {"outcome": "usage"})
    if not PERMISSIONS[ERASE] & set(ctx.person.roles):
        raise UserFacingError("forbidden", {"action": ERASE})
    candidate = await ctx.session.get(Candidate, int(arg))
    if candidate is None or candidate.anonymized_at is not None:
        raise UserFacingError("privacy", {"outcome": "not_found", "candidate_id": int(arg)})
    # Erasure touches every referral of the person, so every one must be in the lead's scope.
    for referral in await _referrals(ctx.session, candidate.id or 0):
        position = await ctx.session.get(Position, referral.position_id)
        assert position is not None
        if not permits(ctx.person, PERMISSIONS[ERASE], referral, position):
            dispatch_log.warning(
                "refused: event=%s actor=%s action=%s candidate=%s referral=%s",
                ctx.event.event_id, ctx.person.id, ERASE, candidate.id, referral.id,
            )
            raise UserFacingError("forbidden", {"action": ERASE})
    await anonymize_candidate(
        ctx.session, candidate, now=ctx.now, action="erase",
        actor_id=ctx.person.id, platform=ctx.event.platform,
    )
    ctx.reply("privacy", outcome="erased", candidate_id=candidate.id)


@router.command("候选人同意", "consent")
async def record_consent(ctx: Context) -> None:
    """`候选人同意 12`: the referrer confirms the candidate of referral 12 agreed to be referred
    and to have their data processed (PIPL consent), recorded with who and when."""
    arg = normalize_text(ctx.args).lstrip("#")
    if not arg.isdigit():
        raise UserFacingError("privacy", {"outcome": "usage"})
    await _consent(ctx, int(arg))


@router.action("gdpr.consent")
async def tap_consent(ctx: Context) -> None:
    """The 候选人已同意 button on the referral-submitted card: consent at referral time."""
    rid = ctx.params.get("rid", "")
    if not rid.isdigit():
        raise UserFacingError("bad_action")
    await _consent(ctx, int(rid))


async def _consent(ctx: Context, referral_id: int) -> None:
    referral = await visible_referral(ctx, referral_id, CONSENT)
    position = await ctx.session.get(Position, referral.position_id)
    assert position is not None
    if not permits(ctx.person, PERMISSIONS[CONSENT], referral, position):
        raise UserFacingError("forbidden", {"action": CONSENT, "referral_id": referral.id})
    candidate = await ctx.session.get(Candidate, referral.candidate_id)
    assert candidate is not None
    if not candidate.consent:
        candidate.consent, candidate.consent_at = True, ctx.now
        ctx.session.add(candidate)
        await record_audit(
            session=ctx.session, at=ctx.now, action="consent", candidate_id=candidate.id,
            referral_id=referral.id, actor_id=ctx.person.id, platform=ctx.event.platform,
        )
    ctx.reply("privacy", outcome="consent", referral_id=referral.id, at=candidate.consent_at)
