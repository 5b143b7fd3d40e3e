"""Talent profiles: made when an offer ends in a no-show or is declined (or HR pools a
candidate), edited from the profile card or by command, and the cadence they start.

The no-show card records the reason category; the next clock beat turns the closed referral
into a profile (or renews the candidate's profile) and sends HR the profile card to add the
candidate's own words, needs, questions and consent.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.context import Context, JobContext
from bot.core.errors import UserFacingError
from handlers.recall.common import (
    CATEGORIES,
    as_delivered,
    delivery_time,
    is_hr_of,
    parse_category,
    profile_key,
    profile_view,
    stage_for,
    typed_text,
)
from handlers.recall.rules import opt_out, subject_of
from handlers.referral.views import short
from storage.models import (
    DueItem,
    Person,
    Position,
    Referral,
    ReferralEvent,
    ReferralState,
    TalentProfile,
)
from storage.repo.due import cancel_due_items, schedule_due_item
from storage.repo.people import nearest_with_role
from storage.repo.recall import (
    cancel_open_contacts,
    get_profile_for_candidate,
    save_profile,
    update_profile,
)
from storage.repo.referrals import get_referral, list_referral_events

CLOSING_ACTIONS = {"offer.no_show": "no_show", "offer.declined": "declined"}
EVALUATIONS = ("interview.pass", "interview.fail", "feedback.hire", "feedback.another",
               "feedback.no")
# Closures older than this get a profile quietly (e.g. history at the first start), no card.
ANNOUNCE_WITHIN = timedelta(days=7)
LIST_FIELDS = ("needs", "questions", "tags")
TEXT_FIELDS = ("notes", "interest")


def split_items(text: str) -> list[str]:
    for sep in ("；", ";", "、", "\n"):
        text = text.replace(sep, "\n")
    return [item.strip() for item in text.split("\n") if item.strip()]


async def _evaluations(
    ctx: Context | JobContext, events: list[ReferralEvent]
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for event in events:
        if event.action not in EVALUATIONS:
            continue
        actor = await ctx.session.get(Person, event.actor_id) if event.actor_id else None
        rows.append({
            "action": event.action,
            "round": event.data.get("round"),
            "score": event.data.get("score"),
            "note": short(event.note, 120),
            "by": actor.name if actor else "",
        })
    return rows


async def schedule_cadence(ctx: Context | JobContext, profile: TalentProfile) -> None:
    """Replace the profile's prompts by one per cadence day still ahead."""
    await cancel_due_items(session=ctx.session, subject=subject_of(profile), now=ctx.now)
    if profile.opted_out_at is not None:
        return  # an opt-out is for good, whatever happens to a later referral
    for index, day in enumerate(ctx.settings.recall_cadence_days):
        due_at = profile.since + timedelta(days=day)
        if due_at <= ctx.now:
            continue
        await schedule_due_item(
            session=ctx.session,
            kind="recall.cadence",
            subject=subject_of(profile),
            due_at=due_at,
            payload={"profile_id": profile.id, "stage": stage_for(index), "day": day,
                     "since": profile.since.isoformat()},
            now=ctx.now,
        )


async def profile_from_referral(
    ctx: Context | JobContext,
    referral: Referral,
    *,
    source: str,
    category: str,
    note: str,
    owner_id: int | None,
) -> TalentProfile:
    """Make or renew the candidate's profile from ``referral``; the cadence starts again."""
    events = await list_referral_events(session=ctx.session, referral_id=referral.id or 0)
    position = await ctx.session.get(Position, referral.position_id)
    profile = await get_profile_for_candidate(
        session=ctx.session, candidate_id=referral.candidate_id
    ) or TalentProfile(candidate_id=referral.candidate_id, created_at=ctx.now)
    since = referral.closed_at if source != "pool" and referral.closed_at else ctx.now
    if profile.id is not None:
        profile.version += 1
    profile.referral_id = referral.id
    profile.position_id = referral.position_id
    profile.org_path = position.org_path if position else ""
    profile.source = source
    profile.category = category
    if note.strip():
        profile.notes = note.strip()
    profile.evaluations = await _evaluations(ctx, events)
    profile.owner_id = owner_id or profile.owner_id
    profile.since = since
    profile.updated_at = ctx.now
    await save_profile(session=ctx.session, profile=profile)
    await schedule_cadence(ctx, profile)
    return profile


async def make_profile(job: JobContext, item: DueItem) -> None:
    """Clock job: the profile of a referral that just ended in a no-show or a decline."""
    referral = await get_referral(session=job.session, referral_id=item.payload["referral_id"])
    if referral is None or referral.closed_at is None:
        return
    events = await list_referral_events(session=job.session, referral_id=referral.id or 0)
    closing = next((e for e in reversed(events) if e.action in CLOSING_ACTIONS), None)
    if closing is None:
        return
    source = CLOSING_ACTIONS[closing.action]
    category = referral.no_show_reason if referral.no_show_reason in CATEGORIES else "other"
    profile = await profile_from_referral(
        job, referral, source=source, category=category if source == "no_show" else "other",
        note=closing.note, owner_id=closing.actor_id,
    )
    if job.now - referral.closed_at > ANNOUNCE_WITHIN:
        return
    owner = await job.session.get(Person, closing.actor_id) if closing.actor_id else None
    if owner is None or not owner.active:
        owner = await nearest_with_role(session=job.session, role="hr", org_path=profile.org_path)
    if owner is not None:
        job.notify(owner, "recall_profile", key=f"{profile_key(profile)}-v{profile.version}",
                   not_before=delivery_time(job), r=await profile_view(as_delivered(job), profile),
                   stale=False)


async def change_profile(
    ctx: Context, profile: TalentProfile, version: int, field: str, value: str
) -> bool:
    """Apply one edit from a card or a command; False when the profile moved on meanwhile."""
    now = ctx.now
    values: dict[str, object] = {"updated_at": now}
    if field in TEXT_FIELDS:
        values[field] = value.strip()
    elif field in LIST_FIELDS:
        values[field] = [*getattr(profile, field), *split_items(value)]
    elif field == "category":
        values["category"] = value
    elif field == "consent":
        values.update(consent=value == "1", consent_at=now)
    else:
        raise ValueError(field)
    assert profile.id is not None
    if not await update_profile(
        session=ctx.session, profile_id=profile.id, expected_version=version, values=values
    ):
        return False
    if field == "consent" and value != "1":
        # Drafts waiting for a decision must not go out once consent is withdrawn.
        await cancel_open_contacts(session=ctx.session, profile_id=profile.id, now=now)
    await ctx.session.refresh(profile)
    return True


async def profile_of_referral(ctx: Context, raw: str) -> tuple[Referral, TalentProfile | None]:
    """The referral a command names (by its number) and its candidate's profile."""
    try:
        referral_id = int(raw.lstrip("#"))
    except ValueError:
        raise UserFacingError("recall_usage", {"command": "profile"}) from None
    referral = await get_referral(session=ctx.session, referral_id=referral_id)
    if referral is None:
        raise UserFacingError("not_found", {"referral_id": referral_id})
    position = await ctx.session.get(Position, referral.position_id)
    if not is_hr_of(ctx.person, position.org_path if position else ""):
        raise UserFacingError("recall_blocked", {"reason": "forbidden"})
    profile = await get_profile_for_candidate(
        session=ctx.session, candidate_id=referral.candidate_id
    )
    return referral, profile


# Words after `档案 12` and the edit each makes.
EDIT_WORDS = {
    "备注": "notes", "note": "notes", "notes": "notes",
    "需求": "needs", "needs": "needs", "need": "needs",
    "问题": "questions", "question": "questions", "questions": "questions",
    "兴趣": "interest", "interest": "interest",
    "标签": "tags", "tag": "tags", "tags": "tags",
    "原因": "category", "reason": "category",
}
CONSENT_WORDS = {"同意": "1", "同意联系": "1", "consent": "1",
                 "不同意": "0", "撤回同意": "0", "noconsent": "0"}
OPT_OUT_WORDS = {"不再联系", "退订", "optout", "opt-out"}


async def edit_by_command(ctx: Context, profile: TalentProfile, text: str) -> None:
    """`档案 12 备注 …` and friends: one edit, then the profile card."""
    word, _, rest = text.partition(" ")
    word = word.lower()
    if word in OPT_OUT_WORDS:
        await opt_out(ctx.session, profile, version=profile.version, now=ctx.now)
    elif word in CONSENT_WORDS:
        await change_profile(ctx, profile, profile.version, "consent", CONSENT_WORDS[word])
    elif word in EDIT_WORDS and rest.strip():
        field, value = EDIT_WORDS[word], typed_text(ctx, after=word) or rest.strip()
        if field == "category":
            category = parse_category(value)
            if category is None:
                raise UserFacingError("recall_usage", {"command": "profile",
                                                       "problem": "unknown_reason"})
            value = category
        await change_profile(ctx, profile, profile.version, field, value)
    else:
        raise UserFacingError("recall_usage", {"command": "profile"})
    await ctx.session.refresh(profile)


def pool_allowed(referral: Referral) -> bool:
    """Only a referral that is over may be pooled; a hired candidate is no recall."""
    return referral.state in (ReferralState.REJECTED, ReferralState.WITHDRAWN,
                              ReferralState.NO_SHOW)

