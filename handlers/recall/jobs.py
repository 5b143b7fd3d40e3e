"""Recall on the clock: profiles for new no-shows, the 30/90/180-day prompts, what WeCom said
about sent messages, and candidates who came back.

Each clock beat only looks (cheap queries) and schedules one due item per piece of work,
deduplicated, so several replicas do each once. The items do the work and send the cards.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.context import JobContext
from handlers.recall.common import as_delivered, contact_key, contact_view, delivery_time
from handlers.recall.drafts import draft_contact, send_preview
from handlers.recall.profiles import make_profile
from handlers.recall.rules import contact_block, subject_of
from storage.models import DueItem, Person, RecallContact, RecallStatus, TalentProfile
from storage.repo.due import schedule_due_item, schedule_once
from storage.repo.people import nearest_with_role
from storage.repo.recall import (
    find_unprofiled_closures,
    get_contact,
    get_profile,
    list_returned_contacts,
    profiles_with_open_contacts,
    update_contact,
)
from storage.repo.recall_delivery import first_unapplied_delivery, take_unapplied_deliveries

S = RecallStatus


async def find_recall_work(job: JobContext) -> bool:
    """Schedule profile making, delivery news and the daily re-hire check (once each)."""
    scheduled = False
    for referral in await find_unprofiled_closures(session=job.session):
        assert referral.closed_at is not None
        scheduled |= await schedule_once(
            session=job.session,
            dedupe_key=f"recall-profile:{referral.id}:{int(referral.closed_at.timestamp())}",
            kind="recall.profile", subject=f"recall-referral:{referral.id}", due_at=job.now,
            payload={"referral_id": referral.id}, now=job.now,
        )
    first = await first_unapplied_delivery(session=job.session)
    if first is not None:
        scheduled |= await schedule_once(
            session=job.session, dedupe_key=f"recall-delivery:{first}", kind="recall.sync",
            subject="recall", due_at=job.now, now=job.now,
        )
    day = job.now.astimezone(job.settings.tz).date().isoformat()
    scheduled |= await schedule_once(
        session=job.session, dedupe_key=f"recall-rehire:{day}", kind="recall.rehire",
        subject="recall", due_at=job.now, now=job.now,
    )
    return scheduled


async def _hr_for(job: JobContext, profile: TalentProfile) -> Person | None:
    """Who gets the prompt: the HR who recorded the no-show, else the nearest HR."""
    owner = await job.session.get(Person, profile.owner_id) if profile.owner_id else None
    if owner is not None and owner.active and "hr" in owner.roles:
        return owner
    return await nearest_with_role(session=job.session, role="hr", org_path=profile.org_path)


async def prompt_recall(job: JobContext, item: DueItem) -> None:
    """Day 30 / 90 / 180: a draft for HR to decide on, if the candidate may be contacted."""
    profile = await get_profile(session=job.session, profile_id=item.payload["profile_id"])
    # A newer no-show of the same candidate restarted the cadence; this prompt is moot.
    if profile is None or profile.since.isoformat() != item.payload.get("since"):
        return
    day = int(item.payload["day"])
    later = [d for d in job.settings.recall_cadence_days if d > day]
    if later and profile.since + timedelta(days=later[0]) <= job.now:
        return  # the clock ran late and the next stage is due too: prompt that one only
    block = await contact_block(job.session, profile, now=job.now,
                                min_days=job.settings.recall_min_days_between)
    if block is not None:
        if block.reason == "too_soon" and block.until is not None:
            await schedule_due_item(
                session=job.session, kind=item.kind, subject=subject_of(profile),
                due_at=block.until, payload=dict(item.payload), now=job.now,
            )
        return
    if profile.id in await profiles_with_open_contacts(session=job.session):
        return  # a draft already waits for HR; a second one would only crowd it
    hr = await _hr_for(job, profile)
    if hr is None:
        return
    contact = await draft_contact(job, profile, stage=str(item.payload["stage"]), day=day,
                                  prepared_by=hr)
    await send_preview(job, hr, contact, profile)


async def _tell(job: JobContext, contact: RecallContact, profile: TalentProfile,
                suffix: str) -> None:
    view = await contact_view(as_delivered(job), contact, profile)
    for person_id in dict.fromkeys((contact.prepared_by, contact.sender_id)):
        person = await job.session.get(Person, person_id) if person_id else None
        if person is not None and person.active:
            job.notify(person, "recall_outcome", key=contact_key(contact, f"-{suffix}{person.id}"),
                       not_before=delivery_time(job), r=view)


async def apply_deliveries(job: JobContext, item: DueItem) -> None:
    """Record what the platform said about queued messages, and tell who prepared them."""
    for row in await take_unapplied_deliveries(session=job.session, now=job.now):
        contact = await get_contact(session=job.session, contact_id=row.contact_id)
        if contact is None or contact.id is None or contact.status != S.QUEUED:
            continue
        profile = await get_profile(session=job.session, profile_id=contact.profile_id)
        assert profile is not None
        values: dict[str, object] = {"updated_at": job.now}
        if row.status == "sent":
            at = row.send_time or job.now
            values.update(status=S.SENT, sent_at=at, delivered_at=at)
        else:
            values.update(status=S.FAILED, failure=f"{row.status}:{row.error}"[:250])
        await update_contact(session=job.session, contact_id=contact.id,
                             expected_version=contact.version, values=values)
        await job.session.refresh(contact)
        await _tell(job, contact, profile, f"d{row.id}-")


async def detect_rehires(job: JobContext, item: DueItem) -> None:
    """A recalled candidate hired through a later referral counts as re-hired by the recall."""
    for contact, hired_at in await list_returned_contacts(session=job.session):
        assert contact.id is not None
        values: dict[str, datetime] = {"rehired_at": hired_at}
        for step in ("replied_at", "interested_at"):
            if getattr(contact, step) is None:
                values[step] = hired_at
        await update_contact(session=job.session, contact_id=contact.id,
                             expected_version=contact.version, values=values)


DUE_HANDLERS = {
    "recall.profile": make_profile,
    "recall.cadence": prompt_recall,
    "recall.sync": apply_deliveries,
    "recall.rehire": detect_rehires,
}
