"""SLA clocks of a waiting task: the deadline and its reminder ladder as due items.

Deadlines are counted the way the deployment counts SLA time (wall clock, working days or
working hours, see handlers.sla.calendar); every change is written in the transaction of the
transition or task move that causes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.context import Context, JobContext
from handlers.delegation.rules import (
    delegate_for,
    latest_assignment,
    task_kind,
    task_view,
)
from handlers.sla.calendar import Clockwork, clockwork
from storage.models import DueItem, Person, Referral, ReferralEvent
from storage.repo.due import cancel_due_items, list_pending_due_items, schedule_due_item
from storage.repo.referrals import add_referral_event, list_referral_events


def subject_of(referral_id: int) -> str:
    return f"referral:{referral_id}"


async def reschedule_sla(
    ctx: Context | JobContext,
    referral: Referral,
    assignee: Person | None,
    stage: str | None,
    sla: timedelta | None,
    *,
    route: bool = True,
    clock: Clockwork | None = None,
) -> None:
    """Replace the reminders of the stage left by those of the stage entered (same transaction).

    The deadline is counted the way the deployment counts SLA time (working days or hours).
    With ``route``, a new task whose assignee has handed their tasks to a delegate goes to the
    delegate (a referral just submitted while its HR is on leave).
    """
    assert referral.id is not None
    subject = subject_of(referral.id)
    clock = clock or clockwork(ctx)
    await cancel_due_items(session=ctx.session, subject=subject, now=ctx.now)
    if route and assignee is not None:
        assignee = await _route_new_task(ctx, referral, assignee)
    if sla is None or assignee is None or stage is None:
        return
    due_at = await clock.add(ctx.now, sla)
    if referral.stage_due_at != due_at:
        referral.stage_due_at = due_at
        ctx.session.add(referral)
        await ctx.session.flush()
    await schedule_reminders(ctx, referral, assignee, stage, sla, clock=clock)


async def schedule_reminders(
    ctx: Context | JobContext,
    referral: Referral,
    assignee: Person,
    stage: str,
    sla: timedelta,
    *,
    clock: Clockwork | None = None,
    start: datetime | None = None,
) -> None:
    """The reminder ladder of one SLA counted from ``start`` (default now)."""
    clock = clock or clockwork(ctx)
    start = start or ctx.now
    subject = subject_of(referral.id or 0)
    for fraction in ctx.settings.reminder_fractions:
        await _due(
            ctx,
            "sla.remind",
            subject,
            referral,
            await clock.add(start, sla * fraction),
            {
                "stage": stage,
                "fraction": fraction,
                "assignee_id": assignee.id,
                "version": referral.version,
            },
        )
    deadline = await clock.add(start, sla)
    await _due(
        ctx,
        "sla.escalate",
        subject,
        referral,
        await clock.add(deadline, ctx.settings.escalate_after),
        {"stage": stage, "assignee_id": assignee.id, "version": referral.version},
    )


async def carry_reminders(
    ctx: Context | JobContext, referral: Referral, assignee: Person
) -> list[DueItem]:
    """The reminders still to come go to the task's new holder, at the same times."""
    subject = subject_of(referral.id or 0)
    pending = await list_pending_due_items(session=ctx.session, subject=subject)
    await cancel_due_items(session=ctx.session, subject=subject, now=ctx.now)
    carried = []
    for item in pending:
        payload = {**item.payload, "assignee_id": assignee.id, "version": referral.version}
        carried.append(
            await schedule_due_item(
                session=ctx.session,
                kind=item.kind,
                subject=subject,
                due_at=item.due_at,
                referral_id=referral.id,
                payload=payload,
                now=ctx.now,
            )
        )
    return carried


async def _route_new_task(
    ctx: Context | JobContext, referral: Referral, assignee: Person
) -> Person:
    """A fresh referral's assignee away with a delegate: the delegate holds it from the start."""
    if referral.assignee_id != assignee.id:
        return assignee
    events = await list_referral_events(session=ctx.session, referral_id=referral.id or 0)
    last = latest_assignment(events)
    if last is not None and "assignee_for" in last.data:
        return assignee  # already routed
    delegate = await delegate_for(ctx, referral, assignee, await task_kind(ctx.session, referral))
    if delegate is None:
        return assignee
    referral.assignee_id = delegate.id
    ctx.session.add(referral)
    await add_referral_event(
        session=ctx.session,
        event=ReferralEvent(
            referral_id=referral.id or 0,
            actor_id=None,
            action="task.delegate",
            from_state=referral.state,
            to_state=referral.state,
            data={
                "assignee_id": delegate.id,
                "assignee_for": assignee.id,
                "from_assignee_id": assignee.id,
            },
            at=ctx.now,
        ),
    )
    await ctx.session.flush()
    ctx.notify(assignee, "task_moved", reason="delegate", tasks=[await task_view(ctx, referral)],
               to=delegate.name, at=ctx.now)
    return delegate


async def _due(
    ctx: Context | JobContext,
    kind: str,
    subject: str,
    referral: Referral,
    at: datetime,
    payload: dict,
) -> None:
    await schedule_due_item(
        session=ctx.session,
        kind=kind,
        subject=subject,
        due_at=at,
        referral_id=referral.id,
        payload=payload,
        now=ctx.now,
    )
