"""Due items of a case: the reminder ladder and escalation of the stage it waits in.

Rows point at the case (``due_item.case_id``) and carry the case version they were written
for, so a job that fires after the case moved on does nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.core.context import Context, JobContext
from handlers.sla.calendar import clockwork
from storage.models import Case
from storage.repo.due import cancel_due_items, schedule_due_item

if TYPE_CHECKING:
    from handlers.workflow.definition import Workflow


def case_subject(case_id: int) -> str:
    return f"case:{case_id}"


async def schedule_stage(
    ctx: Context | JobContext, wf: Workflow, case: Case, sla: timedelta | None
) -> None:
    """Cancel what the stage left had pending; write the ladder of the stage entered."""
    subject = case_subject(case.id or 0)
    await cancel_due_items(session=ctx.session, subject=subject, now=ctx.now)
    if sla is None or case.assignee_id is None:
        return
    clock = clockwork(ctx)
    for fraction in ctx.settings.reminder_fractions:
        await schedule_case_item(ctx, case, f"{wf.name}.remind",
                                 await clock.add(ctx.now, sla * fraction),
                                 {"fraction": fraction})
    deadline = await clock.add(ctx.now, sla)
    await schedule_case_item(ctx, case, f"{wf.name}.escalate",
                             await clock.add(deadline, ctx.settings.escalate_after), {})


async def schedule_case_item(
    ctx: Context | JobContext,
    case: Case,
    kind: str,
    due_at: datetime,
    payload: dict[str, object],
) -> None:
    """One due item about ``case``, valid while the case stays at its current version."""
    item = await schedule_due_item(
        session=ctx.session, kind=kind, subject=case_subject(case.id or 0), due_at=due_at,
        payload={**payload, "case_id": case.id, "version": case.version,
                 "state": case.state, "assignee_id": case.assignee_id},
        now=ctx.now,
    )
    item.case_id = case.id
    ctx.session.add(item)
    await ctx.session.flush()
