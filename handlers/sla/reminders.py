"""Clock jobs: SLA reminders to the assignee, escalation to their lead, the daily HR digest.

Jobs take only ids and plain values from the due item and re-read state: a reminder for a
task that has moved on (version or assignee changed) does nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.context import JobContext
from handlers.delegation.rules import escalation_target, task_view
from handlers.referral.announce import task_card_name
from handlers.referral.views import card_key, record_profile_shown, referral_view
from handlers.sla.calendar import delivery_time, is_working_day
from handlers.sla.timeouts import approve_on_timeout, reassign_on_timeout, timeout_policy
from storage.models import DueItem, Person, Position, Referral, ReferralState
from storage.repo.due import list_fallen_due_items, schedule_due_item, schedule_once
from storage.repo.people import list_people
from storage.repo.referrals import list_assigned_referrals

# A passed deadline is raised again every day (one rung higher each time) until it moves.
ESCALATION_REPEAT = timedelta(days=1)


async def _delivery(job: JobContext) -> datetime:
    """Now, unless it is night or a day off (weekend or public holiday): then next morning."""
    return await delivery_time(job)


async def _held_for_delivery(job: JobContext, item: DueItem) -> bool:
    """At night or on a day off, run this item again when its message may go out.

    The card is then built at that moment: durations are true when it is read, a task done
    in the meantime sends nothing (moving the task cancels the item), and reminders that
    piled up meet at one instant, where ``_superseded`` keeps only the newest.
    """
    deliver_at = await _delivery(job)
    if deliver_at <= job.now:
        return False
    await schedule_due_item(
        session=job.session,
        kind=item.kind,
        subject=item.subject,
        due_at=deliver_at,
        referral_id=item.referral_id,
        payload=dict(item.payload),
        now=job.now,
    )
    return True


async def _superseded(job: JobContext, item: DueItem) -> bool:
    """A later reminder of the same task has fallen due too: it alone speaks for both."""
    fraction = float(item.payload.get("fraction", 1.0))
    for other in await list_fallen_due_items(
        session=job.session, subject=item.subject, kind=item.kind, now=job.now
    ):
        same_task = all(
            other.payload.get(k) == item.payload.get(k) for k in ("version", "assignee_id")
        )
        if same_task and float(other.payload.get("fraction", 1.0)) > fraction:
            return True
    return False


async def _live_task(job: JobContext, item: DueItem) -> tuple[Referral, Person, Position] | None:
    """The referral, its assignee and position, if the task this item was for still waits."""
    referral = await job.session.get(Referral, item.referral_id) if item.referral_id else None
    if referral is None or referral.version != item.payload.get("version"):
        return None
    if referral.assignee_id is None or referral.assignee_id != item.payload.get("assignee_id"):
        return None
    assignee = await job.session.get(Person, referral.assignee_id)
    position = await job.session.get(Position, referral.position_id)
    if assignee is None or position is None:
        return None
    return referral, assignee, position


async def remind_assignee(job: JobContext, item: DueItem) -> None:
    """The task card again, with the deadline on top, so one tap from the reminder finishes it."""
    live = await _live_task(job, item)
    if live is None or await _superseded(job, item) or await _held_for_delivery(job, item):
        return
    referral, assignee, _ = live
    name = await task_card_name(job.session, referral)
    if name is None:
        return
    fraction = float(item.payload.get("fraction", 1.0))
    overdue = referral.stage_due_at is not None and job.now >= referral.stage_due_at
    job.notify(
        assignee,
        name,
        key=f"{card_key(referral, name)}-r{round(fraction * 100)}",
        r=await task_view(job, referral),
        reminder={"overdue": overdue, "due_at": referral.stage_due_at},
    )
    await record_profile_shown(job, referral, assignee, f"{name}-reminder")


async def escalate_to_lead(job: JobContext, item: DueItem) -> None:
    """Past the deadline: what the step's timeout policy says; by default the assignee's lead
    (or the nearest HR lead) hears about it, skipping anyone away."""
    live = await _live_task(job, item)
    if live is None:
        return
    referral, assignee, position = live
    stage = item.payload.get("stage")
    policy = timeout_policy(job, stage)
    if policy == "remind":
        return
    if policy == "approve" and await approve_on_timeout(job, referral, assignee, str(stage)):
        return
    if policy == "reassign" and await reassign_on_timeout(job, referral, assignee, position):
        return
    if await _held_for_delivery(job, item):
        return
    rung = int(item.payload.get("round", 1))
    lead = await _lead_at_rung(job, assignee, position.org_path, rung)
    if lead is None:
        return
    overdue = job.now - referral.stage_due_at if referral.stage_due_at else timedelta(0)
    job.notify(
        lead,
        "escalation",
        key=f"{card_key(referral, 'escalation')}-{lead.id}-{rung}",
        r=await task_view(job, referral),
        assignee=assignee.name,
        overdue_minutes=int(overdue.total_seconds() // 60),
        round=rung,
    )
    await record_profile_shown(job, referral, lead, "escalation")
    await _escalate_again(job, item, rung + 1)


async def _lead_at_rung(
    job: JobContext, assignee: Person, org_path: str, rung: int
) -> Person | None:
    """The first escalation goes to the assignee's lead, each later one a step higher; at
    the top of the chain it stays there."""
    target = await escalation_target(job, assignee, org_path)
    for _ in range(rung - 1):
        higher = await escalation_target(job, target, org_path) if target else None
        if higher is None or higher.id == assignee.id:
            break
        target = higher
    return target


async def _escalate_again(job: JobContext, item: DueItem, rung: int) -> None:
    """Until the task moves (which cancels this item), a day later, on the next working
    morning if that day is off."""
    later = await delivery_time(job, job.now + ESCALATION_REPEAT)
    await schedule_due_item(
        session=job.session,
        kind=item.kind,
        subject=item.subject,
        due_at=later,
        referral_id=item.referral_id,
        payload={**item.payload, "round": rung},
        now=job.now,
    )


async def ensure_daily_digest(job: JobContext) -> bool:
    """Schedule today's digest once, whichever replica gets here first."""
    local = job.now.astimezone(job.settings.tz)
    # A replica that starts late in the evening sends no digest that day rather than at night.
    if not job.settings.digest_at <= local.time() < job.settings.quiet_start:
        return False
    if job.settings.quiet_weekends and not await is_working_day(job, job.now):
        return False
    return await schedule_once(
        session=job.session,
        dedupe_key=f"digest:{local.date().isoformat()}",
        kind="digest.daily",
        subject="digest",
        due_at=job.now,
        now=job.now,
    )


async def send_daily_digest(job: JobContext, item: DueItem) -> None:
    """Each HR with something open gets one card: pending reviews, overdue, interviews."""
    for person in await list_people(session=job.session):
        if "hr" not in person.roles or not person.active:
            continue
        tasks = await list_assigned_referrals(session=job.session, assignee_id=person.id or 0)
        if not tasks:
            continue
        views = [await referral_view(job, r) for r in tasks]
        # Each item once, under its most urgent heading: overdue before its kind of step.
        overdue = [v for v in views if v["due_at"] and v["due_at"] <= job.now]
        rest = [v for v in views if v not in overdue]
        job.notify(
            person,
            "daily_digest",
            key=f"digest-{item.id}-{person.id}",
            reviews=[v for v in rest if v["state"] == ReferralState.HR_REVIEW],
            overdue=overdue,
            interviews=[v for v in rest if v["state"] == ReferralState.INTERVIEWING],
            date=job.now,
        )


DUE_HANDLERS = {
    "sla.remind": remind_assignee,
    "sla.escalate": escalate_to_lead,
    "digest.daily": send_daily_digest,
}
