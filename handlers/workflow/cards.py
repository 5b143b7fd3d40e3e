"""What people see of a case: the view templates read, task buttons, and who is told what.

Every template gets ``wf`` (the workflow's name; its labels live in
``<name>/_labels.j2``) and
``c`` (the case view), so one set of generic templates serves every workflow.
"""

from __future__ import annotations

from typing import Any

from bot.core.context import Context, JobContext, Outgoing
from handlers.workflow.actions import CaseAction
from handlers.workflow.definition import Workflow
from handlers.workflow.engine import Moved, StaleCase
from handlers.workflow.resolvers import RESOLVERS
from storage.models import Case, Person
from storage.repo.cases import list_case_events
from storage.repo.people import get_person


def case_card_key(case_id: int, state: str) -> str:
    # WeCom task_id allows [0-9A-Za-z_-@] up to 128 bytes; one key per step of a case.
    return f"case-{case_id}-{state}"


async def _name(ctx: Context | JobContext, person_id: int | None) -> str:
    person = await get_person(session=ctx.session, person_id=person_id)
    return person.name if person else ""


async def case_view(ctx: Context | JobContext, wf: Workflow, case: Case) -> dict[str, Any]:
    """Plain values of a case for templates (names resolved, no ORM objects)."""
    return {
        "id": case.id,
        "wf": wf.name,
        "state": case.state,
        "version": case.version,
        "subject": await _name(ctx, case.subject_person_id),
        "applicant": await _name(ctx, case.created_by),
        "assignee": await _name(ctx, case.assignee_id),
        "acting_for": await _name(ctx, case.acting_for_id),
        "due_at": case.stage_due_at,
        "org_path": case.org_path,
        "data": dict(case.data),
        "closed": case.state in wf.terminal,
        "created_at": case.created_at,
    }


async def timeline(ctx: Context | JobContext, case: Case) -> list[dict[str, Any]]:
    """The case's events oldest first, with the time each stage took (for 进度 and 统计)."""
    rows: list[dict[str, Any]] = []
    entered = case.created_at
    for event in await list_case_events(session=ctx.session, case_id=case.id or 0):
        minutes = int((event.at - entered).total_seconds() // 60) if event.from_state else 0
        rows.append({
            "action": event.action, "from": event.from_state or "", "to": event.to_state or "",
            "actor": await _name(ctx, event.actor_id), "auto": bool(event.data.get("auto")),
            "note": event.note, "at": event.at, "minutes": minutes,
        })
        if event.to_state != event.from_state:
            entered = event.at
    return rows


def task_buttons(wf: Workflow, case: Case) -> list[dict[str, Any]]:
    """The task card's buttons, packed (and size-checked) once here."""
    return [
        {
            "action": t.action,
            "id": wf.action_id(t.action),
            "params": CaseAction(wf.action_id(t.action), case.id or 0, case.version).pack(),
            "style": t.style,
        }
        for t in wf.buttons_of(case.state)
    ]


def todo_key(case_id: int, state: str) -> str:
    return f"todo-{case_card_key(case_id, state)}"


async def send_task(
    ctx: Context | JobContext, wf: Workflow, case: Case, to: Person, *, todo: bool = True
) -> None:
    """The task card, and a to-do in the holder's platform list (DingTalk 待办) if it keeps one."""
    step = wf.steps[case.state]
    view = await case_view(ctx, wf, case)
    card = ctx.card(step.task_card, key=case_card_key(case.id or 0, case.state), wf=wf.name,
                    c=view, buttons=task_buttons(wf, case))
    ctx.outgoing.append(Outgoing(card=card, to_person=to))
    if todo:
        ctx.open_task(to, "workflow/todo", key=todo_key(case.id or 0, case.state), wf=wf.name,
                      c=view)


async def announce(ctx: Context | JobContext, wf: Workflow, moved: Moved) -> None:
    """The finished step's card loses its buttons; the next holder gets theirs; notices."""
    case = moved.case
    view = await case_view(ctx, wf, case)
    actor = ctx.person if isinstance(ctx, Context) else None
    outcome = {"action": moved.transition.action, "by": actor.name if actor else "",
               "by_for": await _name(ctx, moved.event.data.get("actor_for")),
               "at": ctx.now, "note": moved.event.note}
    if moved.from_state in wf.steps and moved.from_assignee_id is not None:
        holder = await get_person(session=ctx.session, person_id=moved.from_assignee_id)
        if holder is not None:
            card = ctx.card("workflow/done", key=case_card_key(case.id or 0, moved.from_state),
                            wf=wf.name, c=view, step=moved.from_state, o=outcome)
            ctx.outgoing.append(Outgoing(card=card, to_person=holder, update=True))
            ctx.close_task(holder, todo_key(case.id or 0, moved.from_state))
    if moved.assignee is not None:
        await send_task(ctx, wf, case, moved.assignee)
    told = {p for p in (moved.from_assignee_id, moved.assignee and moved.assignee.id) if p}
    if actor is not None:
        told.add(actor.id or 0)
    for notice in moved.transition.notify:
        person = await RESOLVERS[notice.to](ctx.session, case, ())
        if person is None or person.id in told:
            continue
        told.add(person.id or 0)
        ctx.outgoing.append(Outgoing(
            card=ctx.card(notice.card, wf=wf.name, c=view, o=outcome), to_person=person))


async def reply_stale(ctx: Context, wf: Workflow, stale: StaleCase) -> None:
    """"已由 X 于 HH:MM 处理": who handled the tapped card, and where the case is now."""
    event = stale.event
    view = await case_view(ctx, wf, stale.case)
    ctx.reply(
        "workflow/stale", wf=wf.name, c=view,
        by=await _name(ctx, event.actor_id) if event else "",
        by_for=await _name(ctx, event.data.get("actor_for")) if event else "",
        at=event.at if event else None, action=event.action if event else "",
        auto=bool(event and event.data.get("auto")),
    )
