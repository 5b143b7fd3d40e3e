"""Moving a waiting task to another person: delegation, hand-back, reassignment, timeout.

A move keeps the referral's state, bumps its version (cards shown to the previous holder
turn stale and answer where the task went), writes one audit event naming both people,
and carries the deadline and reminders over. A task already past its deadline starts a
fresh SLA with its new holder, who could not have been late.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import Context, JobContext
from handlers.delegation.rules import SLA_STAGE, task_kind, task_view
from handlers.referral.announce import close_previous_todo, send_task_card
from handlers.referral.closing import close_moved_task_cards
from handlers.referral.workflow import move_or_stale, write_event
from handlers.sla.calendar import clockwork
from handlers.sla.deadlines import carry_reminders, reschedule_sla
from storage.models import Person, Position, Referral, ReferralEvent


@dataclass(frozen=True)
class TaskMove:
    referral: Referral
    previous: Person | None
    holder: Person
    event: ReferralEvent
    assignee_for: Person | None


async def move_task(
    ctx: Context | JobContext,
    referral: Referral,
    holder: Person,
    *,
    action: str,
    assignee_for: Person | None = None,
    version: int | None = None,
    note: str = "",
) -> TaskMove:
    """Give ``referral``'s waiting task to ``holder`` (for ``assignee_for``, a delegation).

    Raises:
        StaleAction: the referral moved on since ``version`` (default: as loaded).
    """
    assert referral.id is not None
    version = referral.version if version is None else version
    previous = (
        await ctx.session.get(Person, referral.assignee_id) if referral.assignee_id else None
    )
    kind = await task_kind(ctx.session, referral)
    stage = SLA_STAGE.get(kind) if kind else None
    values: dict[str, object] = {"assignee_id": holder.id, "updated_at": ctx.now}
    sla = None
    overdue = referral.stage_due_at is not None and referral.stage_due_at <= ctx.now
    if stage is not None and overdue:
        position = await ctx.session.get(Position, referral.position_id)
        sla = ctx.settings.sla(stage, position.sla_hours if position else None)
        if sla is not None:
            values["stage_due_at"] = await clockwork(ctx).add(ctx.now, sla)
    await move_or_stale(ctx, referral, version, values)
    await ctx.session.refresh(referral)
    data: dict[str, object] = {
        "from_version": version,
        "version": version + 1,
        "assignee_id": holder.id,
        "from_assignee_id": previous.id if previous else None,
    }
    if assignee_for is not None:
        data["assignee_for"] = assignee_for.id
    actor = ctx.person if isinstance(ctx, Context) else None
    event = await write_event(
        ctx, referral, action=action, actor=actor, from_state=referral.state,
        to_state=referral.state, note=note, data=data,
    )
    if sla is not None:
        await reschedule_sla(ctx, referral, holder, stage, sla, route=False)
    else:
        await carry_reminders(ctx, referral, holder)
    return TaskMove(referral, previous, holder, event, assignee_for)


async def hand_over(ctx: Context | JobContext, move: TaskMove) -> dict[str, object] | None:
    """The new holder gets the task card (and to-do); the old holder's to-do is completed.

    Returns the task's view as the new holder sees it (None: no card for this state).
    """
    await close_previous_todo(ctx, move.referral, move.event)
    from_version = move.event.data.get("from_version")
    if isinstance(from_version, int):
        await close_moved_task_cards(
            ctx, move.referral, from_version, await task_view(ctx, move.referral),
            action=move.event.action, to=move.holder.name)
    return await send_task_card(ctx, move.referral, move.holder)
