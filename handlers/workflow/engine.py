"""One engine for every workflow: start a case, apply a transition, answer stale taps.

Each step checks, in this order: the actor may see the case at all (else ``forbidden``, so
a stale card shows nobody out of scope who handled what), the card is current (else
"已由 X 于 HH:MM 处理"), the actor may take this action (relation or role from the
definition), required input, separation of duties. The write is one conditional UPDATE
(state and version as read), so of two concurrent taps exactly one wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.core.context import Context, JobContext
from bot.core.errors import UserFacingError
from handlers.delegation.rules import active_delegation
from handlers.sla.calendar import clockwork
from handlers.workflow.definition import Transition, Workflow
from handlers.workflow.resolvers import RESOLVERS, has_role_over
from handlers.workflow.schedule import schedule_stage
from storage.models import Case, CaseEvent, Person
from storage.repo.cases import (
    add_case_event,
    create_case,
    find_case_version_event,
    list_case_events,
    move_case,
)
from storage.repo.people import get_person


class StaleCase(Exception):
    """The card was handled already; ``event`` says by whom and when (None if unknown)."""

    def __init__(self, case: Case, event: CaseEvent | None) -> None:
        super().__init__("stale")
        self.case = case
        self.event = event


class NeedsInput(Exception):
    """The action needs typed input (a reason) that the tap did not carry."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class Moved:
    case: Case
    transition: Transition
    from_state: str
    from_assignee_id: int | None
    assignee: Person | None
    event: CaseEvent


def relations(person: Person, case: Case, wf: Workflow, by: frozenset[str]) -> bool:
    """Whether ``person`` stands to ``case`` in one of the relations ``by`` names."""
    for rel in by:
        if rel == "assignee" and person.id in (case.assignee_id, case.acting_for_id):
            return True
        if rel == "applicant" and person.id == case.created_by:
            return True
        if rel == "subject" and person.id == case.subject_person_id:
            return True
        if rel.startswith("role:") and has_role_over(person, rel[5:], case.org_path):
            return True
    return False


async def involved(session: Any, person: Person, case: Case, wf: Workflow) -> bool:
    """May see the case: a party to it, anyone who held a step of it, HR or a leader over its
    org, the definition's viewers, or a manager of the org the subject sits in now (so a
    store manager sees the people of their store, and no longer those who left it)."""
    if relations(person, case, wf, frozenset({"assignee", "applicant", "subject"})):
        return True
    if any(has_role_over(person, r, case.org_path) for r in ("hr", "hr_lead", "leader")):
        return True
    subject = await get_person(session=session, person_id=case.subject_person_id)
    if subject is not None and subject.id != person.id and has_role_over(
        person, "hiring_manager", subject.org_path
    ):
        return True
    for name in wf.viewers:
        viewer = await RESOLVERS[name](session, case, ())
        if viewer is not None and viewer.id == person.id:
            return True
    events = await list_case_events(session=session, case_id=case.id or 0)
    return any(person.id in (e.actor_id, e.data.get("assignee_id")) for e in events)


async def gate_deciders(session: Any, case: Case) -> dict[int, str]:
    """Who decided which gate of the case so far (person id -> the state they decided)."""
    events = await list_case_events(session=session, case_id=case.id or 0)
    deciders: dict[int, str] = {}
    for e in events:
        if e.data.get("gate"):
            # A delegate decided for their principal: both have decided that gate.
            for person_id in (e.actor_id, e.data.get("actor_for")):
                if isinstance(person_id, int):
                    deciders[person_id] = str(e.from_state)
    return deciders


async def resolve_assignee(
    ctx: Context | JobContext, wf: Workflow, case: Case, state: str, decider: Person | None
) -> tuple[Person | None, Person | None]:
    """Who holds ``state`` of the case, and for whom (when the resolved person has handed
    this kind of task to a delegate, 委托). Nobody holds a gate of a case they opened, are
    the subject of, or of which they decided another gate (``decider`` just did)."""
    step = wf.steps[state]
    exclude = {case.created_by, *(await gate_deciders(ctx.session, case))}
    if decider is not None and decider.id is not None:
        exclude.add(decider.id)
    if case.subject_person_id is not None:
        exclude.add(case.subject_person_id)
    person = await RESOLVERS[step.assignee](ctx.session, case, exclude)
    if person is None:
        return None, None
    period = await active_delegation(ctx.session, person.id or 0, ctx.now, state)
    delegate = await get_person(session=ctx.session,
                                person_id=period.delegate_id if period else None)
    if delegate is None or not delegate.active or delegate.id in exclude:
        return person, None
    return delegate, person


def stage_sla(ctx: Context | JobContext, wf: Workflow, state: str) -> timedelta | None:
    step = wf.steps.get(state)
    if step is None:
        return None
    # Hours under "<workflow>.<state>" in Settings.sla_hours win over the definition's
    # default (config.toml does not fill that key yet).
    return ctx.settings.sla(f"{wf.name}.{state}", None) or (
        timedelta(hours=step.sla_hours) if step.sla_hours else None
    )


async def start_case(
    ctx: Context,
    wf: Workflow,
    *,
    subject_person: Person,
    org_path: str,
    data: Mapping[str, Any],
    note: str,
) -> Moved:
    """Open a case in the workflow's first step.

    Raises:
        UserFacingError: nobody can hold the first step.
    """
    case = Case(
        workflow=wf.name, subject=f"person:{subject_person.id}",
        subject_person_id=subject_person.id, state=wf.initial, org_path=org_path,
        created_by=ctx.person.id or 0, data=dict(data), created_at=ctx.now,
        updated_at=ctx.now, stage_entered_at=ctx.now,
    )
    assignee, principal = await resolve_assignee(ctx, wf, case, wf.initial, None)
    if assignee is None:
        raise UserFacingError("workflow/no_assignee", {"wf": wf.name, "state": wf.initial})
    case.assignee_id = assignee.id
    case.acting_for_id = principal.id if principal else None
    sla = stage_sla(ctx, wf, wf.initial)
    case.stage_due_at = await clockwork(ctx).add(ctx.now, sla) if sla else None
    await create_case(session=ctx.session, case=case)
    event = await add_case_event(session=ctx.session, event=CaseEvent(
        case_id=case.id or 0, actor_id=ctx.person.id, action="open", to_state=wf.initial,
        note=note, data={"assignee_id": assignee.id, "version": 1,
                         "assignee_for": principal.id if principal else None},
        platform=ctx.event.platform, at=ctx.now,
    ))
    await schedule_stage(ctx, wf, case, sla)
    opened = Transition("open", frozenset(), wf.initial, frozenset({"applicant"}))
    return Moved(case, opened, "", None, assignee, event)


async def apply_action(
    ctx: Context | JobContext,
    wf: Workflow,
    case: Case,
    action: str,
    *,
    version: int,
    note: str = "",
    data: Mapping[str, Any] | None = None,
) -> Moved:
    """Move ``case`` by ``action`` if the actor may and nobody did it first.

    ``ctx`` is an event's (the actor is ``ctx.person``) or a clock job's (the system acts).

    Raises:
        StaleCase: the card's version is old or the state moved on.
        NeedsInput: a required reason is missing.
        UserFacingError: not allowed (scope, relation, separation of duties) or no assignee.
    """
    t = wf.transitions[action]
    actor = ctx.person if isinstance(ctx, Context) else None
    if actor is None and "system" not in t.by:
        raise UserFacingError("workflow/forbidden", {"wf": wf.name, "case_id": case.id})
    if actor is not None and not await involved(ctx.session, actor, case, wf):
        raise UserFacingError("workflow/forbidden", {"wf": wf.name, "case_id": case.id})
    if case.version != version or case.state not in t.sources:
        raise StaleCase(case, await find_case_version_event(
            session=ctx.session, case_id=case.id or 0, from_version=version))
    if actor is not None and not relations(actor, case, wf, t.by):
        raise UserFacingError("workflow/forbidden", {"wf": wf.name, "case_id": case.id})
    if t.requires and not note.strip():
        raise NeedsInput(t.requires)
    step = wf.steps.get(case.state)
    gate = bool(step and step.gate and actor is not None)
    if gate and actor is not None:
        decided = await gate_deciders(ctx.session, case)
        if actor.id in decided and decided[actor.id] != case.state:
            raise UserFacingError("workflow/separation", {"wf": wf.name, "case_id": case.id})
    from_state, from_assignee = case.state, case.assignee_id
    # A delegate holding the task decides for their principal (the audit names both).
    actor_for = case.acting_for_id if actor is not None and actor.id == case.assignee_id else None
    assignee = principal = None
    if t.target in wf.steps:
        # The actor of this gate counts as a decider already: they cannot hold the next.
        assignee, principal = await resolve_assignee(ctx, wf, case, t.target,
                                                     actor if gate else None)
        if assignee is None:
            raise UserFacingError("workflow/no_assignee", {"wf": wf.name, "state": t.target})
    sla = stage_sla(ctx, wf, t.target)
    values: dict[str, Any] = {
        "state": t.target,
        "assignee_id": assignee.id if assignee else None,
        "acting_for_id": principal.id if principal else None,
        "stage_due_at": await clockwork(ctx).add(ctx.now, sla) if sla else None,
        "stage_entered_at": ctx.now,
        "updated_at": ctx.now,
    }
    if t.target in wf.terminal:
        values["closed_at"] = ctx.now
    ok = await move_case(session=ctx.session, case_id=case.id or 0,
                         expected_state=case.state, expected_version=version, values=values)
    if not ok:
        await ctx.session.refresh(case)
        raise StaleCase(case, await find_case_version_event(
            session=ctx.session, case_id=case.id or 0, from_version=version))
    await ctx.session.refresh(case)
    event = await add_case_event(session=ctx.session, event=CaseEvent(
        case_id=case.id or 0, actor_id=actor.id if actor else None, action=action,
        from_state=from_state, to_state=t.target, from_version=version, note=note,
        data={**(data or {}), "version": case.version, "gate": gate,
              "assignee_id": assignee.id if assignee else None,
              "assignee_for": principal.id if principal else None, "actor_for": actor_for,
              **({} if actor else {"auto": "clock"})},
        platform=ctx.event.platform if isinstance(ctx, Context) else "", at=ctx.now,
    ))
    await schedule_stage(ctx, wf, case, sla)
    effect = wf.on_enter.get(t.target)
    if effect is not None:
        await effect(ctx, case)
    return Moved(case, t, from_state, from_assignee, assignee, event)
