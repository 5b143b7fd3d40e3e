"""What a transfer does besides moving through its steps: the effective date, the org change
(with history), the receiving store manager told, and the reminder before a fixed term ends."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bot.core.context import Context, JobContext, Outgoing
from handlers.workflow.actions import CaseAction
from handlers.workflow.cards import case_view
from handlers.workflow.definition import Workflow
from handlers.workflow.resolvers import hr_of_subject_org, target_store_manager
from handlers.workflow.schedule import schedule_case_item
from storage.models import Case, Person
from storage.repo.cases import record_org_move
from storage.repo.people import get_person

# How long before a fixed term ends HR and the store manager are asked 延期 / 返回总部.
ENDING_NOTICE = timedelta(days=7)
# Org changes apply at the start of the effective day, local time.
_DAY_START = time(0, 0)


def local_start(ctx: Context | JobContext, day: date) -> datetime:
    return datetime.combine(day, _DAY_START, tzinfo=ctx.settings.tz)


def case_date(case: Case, key: str) -> date | None:
    value = case.data.get(key)
    return date.fromisoformat(value) if isinstance(value, str) and value else None


async def schedule_effective(ctx: Context | JobContext, case: Case) -> None:
    """Signed off: the org changes on the effective day (at once if that day has come)."""
    effective = case_date(case, "effective")
    assert effective is not None
    await schedule_case_item(ctx, case, "transfer.effective",
                             max(ctx.now, local_start(ctx, effective)), {})


async def take_effect(ctx: Context | JobContext, case: Case) -> None:
    """The person now sits in the target org; the stint they leave goes into the history."""
    person = await get_person(session=ctx.session, person_id=case.subject_person_id)
    assert person is not None
    to_org = str(case.data["to_org"])
    if person.org_path != to_org:
        await record_org_move(session=ctx.session, person_id=person.id or 0,
                              from_org=person.org_path, to_org=to_org, at=ctx.now,
                              case_id=case.id, since=case.created_at)
        person.org_path = to_org
        ctx.session.add(person)
        await ctx.session.flush()
    until = case_date(case, "until")
    if until is not None:
        notice_at = max(ctx.now, local_start(ctx, until) - ENDING_NOTICE)
        await schedule_case_item(ctx, case, "transfer.ending", notice_at, {})


async def ending_recipients(ctx: Context | JobContext, case: Case) -> list[Person]:
    """HR of the person's org and the store manager where they work now."""
    people = [await hr_of_subject_org(ctx.session, case, ()),
              await target_store_manager(ctx.session, case, ())]
    seen: set[int] = set()
    out = []
    for p in people:
        if p is not None and p.id not in seen:
            seen.add(p.id or 0)
            out.append(p)
    return out


def ending_buttons(case: Case) -> list[dict[str, object]]:
    return [
        {"action": name, "id": f"transfer.{name}",
         "params": CaseAction(f"transfer.{name}", case.id or 0, case.version).pack(),
         "style": style}
        for name, style in (("extend", "primary"), ("return", "default"))
    ]


async def close_ending_cards(ctx: Context, wf: Workflow, case: Case, choice: str) -> None:
    """Whoever chose, the 延期/返回总部 card of everyone asked loses its buttons."""
    view = await case_view(ctx, wf, case)
    for person in await ending_recipients(ctx, case):
        card = ctx.card("transfer/ending_done", key=ending_key(case), wf=wf.name, c=view,
                        choice=choice, by=ctx.person.name, at=ctx.now)
        ctx.outgoing.append(Outgoing(card=card, to_person=person, update=True))


def ending_key(case: Case) -> str:
    return f"case-{case.id}-ending"


async def remind_ending(ctx: JobContext, wf: Workflow, case: Case) -> None:
    view = await case_view(ctx, wf, case)
    for person in await ending_recipients(ctx, case):
        ctx.notify(person, "transfer/ending", key=ending_key(case),
                   wf="transfer", c=view, buttons=ending_buttons(case))
