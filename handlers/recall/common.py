"""Shared parts of the recall capability: the router, loading what a card names, who may act,
and the view-models the recall cards are rendered from."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.core.context import Context, JobContext
from bot.core.errors import UserFacingError
from bot.core.log import dispatch_log
from bot.core.routing import Router
from handlers.referral.views import short
from handlers.sla.quiet_hours import next_delivery_time
from storage.models import (
    Candidate,
    Person,
    Position,
    RecallCampaign,
    RecallContact,
    TalentProfile,
)
from storage.repo.people import in_scope
from storage.repo.recall import get_campaign, get_contact, get_profile, list_contacts

router = Router("recall")

# Reason categories, as recorded on the no-show card
# (handlers.referral.workflow.NO_SHOW_CATEGORIES).
CATEGORIES = ("salary", "team", "career", "commute", "family", "counter_offer", "other")
# What people type for a category: the code, the Chinese label or a word of it.
CATEGORY_WORDS = {
    "salary": ("salary", "pay", "薪资", "薪酬", "工资", "待遇"),
    "team": ("team", "mentoring", "团队氛围", "团队", "氛围", "带教", "导师"),
    "career": ("career", "发展路径", "发展", "晋升", "路径"),
    "commute": ("commute", "通勤", "距离", "交通"),
    "family": ("family", "家庭", "家庭原因"),
    "counter_offer": ("counter_offer", "counter-offer", "counteroffer", "competitor",
                      "挽留", "竞争对手", "原单位", "竞对"),
    "other": ("other", "其他", "其它"),
}
HISTORY_SHOWN = 5
_MENTIONS = re.compile(r"^(?:@\S*\s*)+")


def parse_category(text: str) -> str | None:
    """The category a word names (``团队氛围`` → ``team``), None when it names none."""
    word = text.strip().lower()
    if not word:
        return None
    for category, words in CATEGORY_WORDS.items():
        if word in words:
            return category
    matches = {c for c, words in CATEGORY_WORDS.items() for w in words if len(w) > 1 and w in word}
    return matches.pop() if len(matches) == 1 else None


def typed_text(ctx: Context, after: str = "") -> str:
    """What the person typed, as typed (after the word ``after``, if given).

    Command text is normalised (full-width punctuation becomes ASCII); words that end up in
    a message to a candidate keep the punctuation they were written with.
    """
    raw = _MENTIONS.sub("", (ctx.event.text or "").strip())
    if after:
        at = raw.lower().find(after.lower())
        if at < 0:
            return ctx.args.partition(after)[2].strip()
        raw = raw[at + len(after):]
    return raw.strip()


def stage_for(index: int) -> str:
    """The stage of the ``index``-th cadence day: greeting, news, then openings."""
    return ("greeting", "news", "opening")[min(index, 2)]


def delivery_time(job: JobContext) -> datetime:
    """When a card prompted by the clock may reach people (after quiet hours)."""
    s = job.settings
    return next_delivery_time(
        job.now, tz=s.tz, start=s.quiet_start, end=s.quiet_end, weekends=s.quiet_weekends
    )


def as_delivered(job: JobContext) -> JobContext:
    """The job as of when its card will be read: views built from it count days then."""
    return replace(job, now=max(job.now, delivery_time(job)))


def days_between(earlier: datetime, later: datetime) -> int:
    return max(0, (later - earlier).days)


def parse_id(raw: str | None) -> int:
    """A card's or a command's id; anything else is a forged or mistyped value."""
    try:
        return int(str(raw).lstrip("#"))
    except (TypeError, ValueError):
        raise UserFacingError("bad_action") from None


def is_hr_for(person: Person, profile: TalentProfile) -> bool:
    return is_hr_of(person, profile.org_path)


def is_hr_of(person: Person, org_path: str) -> bool:
    """HR whose scope covers ``org_path`` (the store the candidate was referred to)."""
    return "hr" in person.roles and in_scope(person.org_path, org_path)


def may_handle(person: Person, profile: TalentProfile, contact: RecallContact | None) -> bool:
    """HR of the profile's org, or the person a recall was handed to (or prepared by)."""
    if is_hr_for(person, profile):
        return True
    return contact is not None and person.id in (contact.sender_id, contact.prepared_by)


def forbidden() -> UserFacingError:
    return UserFacingError("recall_blocked", {"reason": "forbidden"})


async def load_profile(ctx: Context, raw: str | None) -> TalentProfile:
    profile = await get_profile(session=ctx.session, profile_id=parse_id(raw))
    if profile is None:
        dispatch_log.warning("recall card names no profile: person=%s", ctx.person.id)
        raise UserFacingError("bad_action")
    return profile


async def load_contact(ctx: Context, raw: str | None) -> tuple[RecallContact, TalentProfile]:
    contact = await get_contact(session=ctx.session, contact_id=parse_id(raw))
    profile = None
    if contact is not None:
        profile = await get_profile(session=ctx.session, profile_id=contact.profile_id)
    if contact is None or profile is None:
        dispatch_log.warning("recall card names no contact: person=%s", ctx.person.id)
        raise UserFacingError("bad_action")
    return contact, profile


async def load_campaign(ctx: Context, raw: str | None) -> RecallCampaign:
    campaign = await get_campaign(session=ctx.session, campaign_id=parse_id(raw))
    if campaign is None:
        raise UserFacingError("bad_action")
    return campaign


def card_version(ctx: Context) -> int | None:
    raw = ctx.params.get("v", "")
    return int(raw) if raw.isdigit() else None


async def _name(ctx: Context | JobContext, person_id: int | None) -> str:
    person = await ctx.session.get(Person, person_id) if person_id else None
    return person.name if person else ""


async def profile_view(ctx: Context | JobContext, profile: TalentProfile) -> dict[str, Any]:
    """What the profile cards show: reason, notes, needs, evaluations, consent, history."""
    session = ctx.session
    candidate = await session.get(Candidate, profile.candidate_id)
    position = await session.get(Position, profile.position_id) if profile.position_id else None
    assert candidate is not None and profile.id is not None
    contacts = await list_contacts(session=session, profile_id=profile.id)
    return {
        "id": profile.id,
        "version": profile.version,
        "candidate": {"name": candidate.name},
        "position": position.title if position else "",
        "org": profile.org_path,
        "referral_id": profile.referral_id or "",
        "source": profile.source,
        "category": profile.category,
        "notes": short(profile.notes),
        "needs": [short(n, 80) for n in profile.needs],
        "questions": [short(q, 80) for q in profile.questions],
        "interest": profile.interest,
        "tags": sorted({*candidate.tags, *profile.tags}),
        "evaluations": [dict(e) for e in profile.evaluations],
        "consent": profile.consent,
        "opted_out": profile.opted_out_at is not None,
        "since": profile.since,
        "days": days_between(profile.since, ctx.now),
        "wecom": bool(candidate.wecom_external_userid),
        "history": [
            {"id": c.id, "stage": c.stage, "status": c.status.value, "template": c.template,
             "at": c.sent_at or c.confirmed_at or c.created_at,
             "replied": c.replied_at is not None, "rehired": c.rehired_at is not None}
            for c in contacts[-HISTORY_SHOWN:]
        ],
        "contacts": len(contacts),
    }


async def contact_view(
    ctx: Context | JobContext, contact: RecallContact, profile: TalentProfile
) -> dict[str, Any]:
    """What the recall cards show: the exact text (or why there is none), whose it is, and
    what came of it."""
    base = await profile_view(ctx, profile)
    kind, _, detail = contact.error.partition(":")
    return {
        **base,
        "id": contact.id,
        "version": contact.version,
        "profile_id": profile.id,
        "profile_version": profile.version,
        "status": contact.status.value,
        "stage": contact.stage,
        "day": contact.day or 0,
        "category": contact.category,
        "template": contact.template,
        "text": contact.text,
        "edited": contact.edited,
        "error": {"kind": kind, "detail": detail} if contact.error else None,
        "concern": short(profile.notes),
        "sender": await _name(ctx, contact.sender_id),
        "prepared_by": await _name(ctx, contact.prepared_by),
        "decided_by": await _name(ctx, contact.decided_by),
        "handed": contact.sender_id is not None and contact.sender_id != contact.prepared_by,
        "channel": contact.channel,
        "updated_at": contact.updated_at,
        "sent_at": contact.sent_at,
        "delivered_at": contact.delivered_at,
        "outcomes": {
            "replied": contact.replied_at is not None,
            "interested": contact.interested_at is not None,
            "rehired": contact.rehired_at is not None,
            "opted_out": contact.opted_out_at is not None or base["opted_out"],
        },
        "failure": contact.failure,
    }


def contact_key(contact: RecallContact, suffix: str = "") -> str:
    return f"recall-c{contact.id}{suffix}"


def profile_key(profile: TalentProfile) -> str:
    return f"recall-p{profile.id}"
