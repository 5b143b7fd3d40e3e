"""Generic routes of a workflow: its buttons, the reason a button asks for, its clock jobs,
and its progress views. A workflow's capability builds these from its definition."""

from __future__ import annotations

from bot.core.context import Context, JobContext
from bot.core.errors import UserFacingError
from bot.core.registry import DueHandler, RecurringJob, TypedInput
from bot.core.routing import Router
from bot.core.text import normalize_text
from handlers.delegation.rules import escalation_target
from handlers.sla.calendar import delivery_time
from handlers.workflow.actions import CaseAction
from handlers.workflow.cards import announce, case_view, reply_stale, send_task, timeline
from handlers.workflow.definition import Workflow
from handlers.workflow.engine import NeedsInput, StaleCase, apply_action, involved
from handlers.workflow.schedule import case_subject
from storage.models import Case, DueItem, PendingInput
from storage.repo.cases import (
    get_case,
    list_assigned_cases,
    list_cases_about,
    list_open_cases,
)
from storage.repo.conversations import clear_pending_input, set_pending_input
from storage.repo.due import schedule_once
from storage.repo.people import get_person

CANCEL_WORDS = {"取消", "cancel", "算了"}


async def load_case(ctx: Context | JobContext, wf: Workflow, case_id: int) -> Case:
    case = await get_case(session=ctx.session, case_id=case_id)
    if case is None or case.workflow != wf.name:
        raise UserFacingError("workflow/not_found", {"wf": wf.name, "case_id": case_id})
    return case


async def run_action(
    ctx: Context, wf: Workflow, case_id: int, action: str, version: int, note: str = ""
) -> None:
    """Apply ``action`` for the actor and answer every outcome with a card."""
    case = await load_case(ctx, wf, case_id)
    try:
        moved = await apply_action(ctx, wf, case, action, version=version, note=note)
    except StaleCase as stale:
        await reply_stale(ctx, wf, stale)
        return
    except NeedsInput as need:
        await set_pending_input(
            session=ctx.session, person_id=ctx.person.id or 0, action=f"{wf.name}.input",
            params={"case": str(case_id), "v": str(version), "action": action}, now=ctx.now)
        ctx.reply("workflow/input_prompt", wf=wf.name, c=await case_view(ctx, wf, case),
                  action=action, requires=need.what)
        return
    await announce(ctx, wf, moved)
    if moved.from_assignee_id != ctx.person.id:
        ctx.reply("workflow/notice", wf=wf.name, c=await case_view(ctx, wf, moved.case),
                  o={"action": action, "by": ctx.person.name, "by_for": "", "at": ctx.now,
                     "note": note})


def workflow_router(wf: Workflow) -> Router:
    """Card actions for every transition of ``wf`` that is a button."""
    router = Router(f"{wf.name}.engine")

    async def tap(ctx: Context) -> None:
        assert ctx.event.action is not None
        act = CaseAction.unpack(ctx.event.action.action_id, ctx.params)
        action = act.action.removeprefix(f"{wf.name}.")
        await run_action(ctx, wf, act.case_id, action, act.version)

    ids = [wf.action_id(t.action) for t in wf.transitions.values() if t.button]
    router.action(*ids)(tap)
    return router


def typed_inputs(wf: Workflow) -> dict[str, TypedInput]:
    """The reason a button asked for, typed as the next message."""

    async def answer(ctx: Context, pending: PendingInput) -> None:
        text = normalize_text(ctx.event.text or "")
        await clear_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
        action = pending.params.get("action", "")
        if text.lower() in CANCEL_WORDS:
            ctx.reply("workflow/input_cancelled", wf=wf.name, action=action)
            return
        if not text:
            raise UserFacingError("workflow/input_prompt_again", {"wf": wf.name})
        # The reason is kept as typed (full-width punctuation included), only trimmed.
        await run_action(ctx, wf, int(pending.params.get("case", "0")), action,
                         int(pending.params.get("v", "0")),
                         note=(ctx.event.text or "").strip())

    return {f"{wf.name}.input": answer}


def due_handlers(wf: Workflow) -> dict[str, DueHandler]:
    """Reminders and escalation of a waiting step; stale rows (case moved on) do nothing."""

    async def current(ctx: JobContext, item: DueItem) -> Case | None:
        case = await get_case(session=ctx.session, case_id=int(item.payload.get("case_id", 0)))
        if case is None or case.version != item.payload.get("version"):
            return None
        return case

    async def remind(ctx: JobContext, item: DueItem) -> None:
        case = await current(ctx, item)
        assignee = await get_person(
            session=ctx.session, person_id=case.assignee_id if case is not None else None
        )
        if case is None or assignee is None:
            return
        ctx.notify(assignee, "workflow/reminder", not_before=await delivery_time(ctx),
                   wf=wf.name, c=await case_view(ctx, wf, case),
                   overdue=float(item.payload.get("fraction", 1.0)) >= 1.0)

    async def escalate(ctx: JobContext, item: DueItem) -> None:
        case = await current(ctx, item)
        assignee = await get_person(
            session=ctx.session, person_id=case.assignee_id if case is not None else None
        )
        if case is None or assignee is None:
            return
        # Up the chain of leads, skipping anyone away; then the nearest HR lead.
        lead = await escalation_target(ctx, assignee, case.org_path)
        if lead is None:
            return
        ctx.notify(lead, "workflow/escalation", not_before=await delivery_time(ctx),
                   wf=wf.name, c=await case_view(ctx, wf, case))

    return {f"{wf.name}.remind": remind, f"{wf.name}.escalate": escalate}


def find_leavers(wf: Workflow) -> RecurringJob:
    """A clock check: an open case about someone who left gets a due item that closes it.

    Recurring checks only schedule; the due item does the work (and its sends) in its own
    transaction, once however many replicas noticed.
    """

    async def check(ctx: JobContext) -> int:
        count = 0
        for case in await list_open_cases(session=ctx.session, workflow=wf.name,
                                          open_states=wf.open_states):
            person = await get_person(session=ctx.session, person_id=case.subject_person_id)
            if person is not None and person.active:
                continue
            count += await schedule_once(
                session=ctx.session, dedupe_key=f"{wf.name}.left:{case.id}:{case.version}",
                kind=f"{wf.name}.left", subject=case_subject(case.id or 0), due_at=ctx.now,
                payload={"case_id": case.id, "version": case.version}, now=ctx.now)
        return count

    return check


def leaver_handler(wf: Workflow, action: str) -> dict[str, DueHandler]:
    """The due item of ``find_leavers``: the case ends by ``action`` (the system acts)."""

    async def close(ctx: JobContext, item: DueItem) -> None:
        case = await get_case(session=ctx.session, case_id=int(item.payload.get("case_id", 0)))
        if case is None or case.version != item.payload.get("version"):
            return
        await announce(ctx, wf, await apply_action(ctx, wf, case, action, version=case.version))

    return {f"{wf.name}.left": close}


async def show_cases(ctx: Context, wf: Workflow) -> None:
    """The actor's cases (as subject or applicant) and the steps waiting on them."""
    mine = await list_cases_about(session=ctx.session, workflow=wf.name,
                                  person_id=ctx.person.id or 0)
    waiting = [c for c in await list_assigned_cases(
        session=ctx.session, assignee_id=ctx.person.id or 0, open_states=frozenset(wf.steps))
        if c.workflow == wf.name]
    ctx.reply("workflow/list", wf=wf.name, rows=[await case_view(ctx, wf, c) for c in mine],
              waiting=[await case_view(ctx, wf, c) for c in waiting])


async def show_case(ctx: Context, wf: Workflow, case_id: int) -> None:
    """One case's timeline; its holder also gets the live task card again."""
    case = await load_case(ctx, wf, case_id)
    if not await involved(ctx.session, ctx.person, case, wf):
        raise UserFacingError("workflow/forbidden", {"wf": wf.name, "case_id": case_id})
    ctx.reply("workflow/timeline", wf=wf.name, c=await case_view(ctx, wf, case),
              events=await timeline(ctx, case))
    if case.assignee_id == ctx.person.id and case.state in wf.steps:
        await send_task(ctx, wf, case, ctx.person, todo=False)


__all__ = [
    "due_handlers",
    "find_leavers",
    "leaver_handler",
    "run_action",
    "show_case",
    "show_cases",
    "typed_inputs",
    "workflow_router",
]
