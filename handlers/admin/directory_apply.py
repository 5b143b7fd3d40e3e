"""Carrying out a directory sync plan in the caller's transaction, every change audited.

Nothing is written when the plan found fatal problems (a broken tree) or would deactivate
more than the allowed share of the synced people (a broken visibility setting looks like a
mass departure) unless forced. A leaver is deactivated; their delegations end first (tasks
held for them come back), then every task they hold moves to their lead through the same
reassignment a person would use, and nothing more is sent to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.context import JobContext
from handlers.admin.directory_plan import ID_COLUMNS, Plan, Slot
from handlers.delegation.commands import stop_period
from handlers.delegation.moves import hand_over, move_task
from storage.models import AuditRecord, Person
from storage.repo.audit import record_audits
from storage.repo.delegation import list_periods_of
from storage.repo.people import get_person, list_people, nearest_with_role
from storage.repo.referrals import list_assigned_referrals


@dataclass
class SyncOutcome:
    plan: Plan
    applied: bool = False
    blocked: str = ""
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unlinked: int = 0
    tasks_moved: int = 0
    delegations_ended: int = 0
    orphaned_tasks: list[int] = field(default_factory=list)


async def apply_plan(
    job: JobContext, plan: Plan, *, max_share: float, force: bool = False,
    dry_run: bool = False, actor: str = "system:directory",
) -> SyncOutcome:
    """Write ``plan`` (unless it is blocked or ``dry_run``); returns what was done."""
    outcome = SyncOutcome(plan)
    if plan.fatal:
        outcome.blocked = "fatal"
        return outcome
    if plan.deactivate_share() > max_share and not force:
        outcome.blocked = "too_many_leavers"
        return outcome
    if dry_run:
        return outcome
    audit = _Audit(job, actor, ",".join(plan.platforms))
    taken = {p.employee_no for p in await list_people(session=job.session)}
    for slot in plan.changes:
        if slot.person is None:
            slot.person = _create(job, slot, taken)
            outcome.created += 1
    await job.session.flush()
    for slot in plan.slots:
        _set_lead(slot)
    for slot in plan.slots:
        person = slot.person
        assert person is not None
        if not slot.changed and not _is_new(slot):
            continue
        before = {k: getattr(person, k) for k in ("org_path", "roles", "active")}
        for key, value in slot.values.items():
            setattr(person, key, value)
        job.session.add(person)
        if _is_new(slot):
            await audit.write("directory.create", person, org_path=person.org_path,
                              roles=person.roles)
        else:
            outcome.updated += 1
            await audit.write("directory.update", person, fields=sorted(slot.changed),
                              **{k: [v, getattr(person, k)] for k, v in before.items()
                                 if v != getattr(person, k)})
    for person, platform in plan.unlinked:
        setattr(person, ID_COLUMNS[platform], None)
        job.session.add(person)
        outcome.unlinked += 1
        await audit.write("directory.unlink", person, platform=platform)
    for person in plan.leavers:
        await _leave(job, person, outcome, audit)
    await audit.flush()
    gone = {p.id for p in plan.leavers}
    # The leaver is told nothing further (tasks handed back to them on the way included).
    job.outgoing[:] = [o for o in job.outgoing if not o.to_person or o.to_person.id not in gone]
    await job.session.flush()
    outcome.applied = True
    return outcome


def _is_new(slot: Slot) -> bool:
    return "employee_no" in slot.values


def _create(job: JobContext, slot: Slot, taken: set[str]) -> Person:
    first = next(iter(slot.seen.values()))
    wanted = first.member.employee_no
    # A platform's employee number already used by someone else is not trusted as ours.
    employee_no = (wanted if wanted and wanted not in taken
                   else f"{first.platform}:{first.member.user_id}")
    taken.add(employee_no)
    person = Person(employee_no=employee_no, name=first.member.name, org_path=first.org_path)
    slot.values["employee_no"] = employee_no
    job.session.add(person)
    return person


def _set_lead(slot: Slot) -> None:
    lead = slot.lead
    lead_id = lead.person.id if lead is not None and lead is not slot and lead.person else None
    slot.values["lead_id"] = lead_id
    person = slot.person
    if person is not None and person.lead_id != lead_id:
        slot.changed["lead_id"] = (person.lead_id, lead_id)
    elif "lead_id" in slot.changed:
        del slot.changed["lead_id"]


async def _successor(job: JobContext, person: Person, gone: set[int | None]) -> Person | None:
    """Their lead (or the lead's lead, past others who left), else the HR lead over them."""
    seen: set[int] = set()
    lead = await get_person(session=job.session, person_id=person.lead_id)
    while lead is not None and lead.id not in seen:
        if lead.active and lead.id not in gone:
            return lead
        seen.add(lead.id or 0)
        lead = await get_person(session=job.session, person_id=lead.lead_id)
    return await nearest_with_role(session=job.session, role="hr_lead", org_path=person.org_path,
                                   exclude=[i for i in gone if i is not None])


async def _leave(job: JobContext, person: Person, outcome: SyncOutcome, audit: _Audit) -> None:
    gone = {p.id for p in outcome.plan.leavers}
    for period in await list_periods_of(session=job.session, person_id=person.id or 0,
                                        now=job.now):
        await stop_period(job, period)
        outcome.delegations_ended += 1
    person.active = False
    job.session.add(person)
    await job.session.flush()
    successor = await _successor(job, person, gone)
    moved = []
    for referral in await list_assigned_referrals(session=job.session,
                                                  assignee_id=person.id or 0):
        if successor is None:
            outcome.orphaned_tasks.append(referral.id or 0)
            continue
        move = await move_task(job, referral, successor, action="task.reassign")
        await hand_over(job, move)
        moved.append(referral.id)
    outcome.tasks_moved += len(moved)
    outcome.deactivated += 1
    await audit.write("directory.leave", person, tasks_moved=moved,
                      successor_id=successor.id if successor else None)


class _Audit:
    """One audit row per directory change; names and contact data stay out of the detail.

    Rows are collected and written in one flush at the end (in the same transaction)."""

    def __init__(self, job: JobContext, actor: str, platforms: str) -> None:
        self.job, self.actor, self.platforms = job, actor, platforms
        self.rows: list[AuditRecord] = []

    async def write(self, action: str, person: Person, **detail: Any) -> None:
        self.rows.append(AuditRecord(
            at=self.job.now, action=action, candidate_id=None, actor=self.actor,
            platform=self.platforms,
            detail={"person_id": person.id, "employee_no": person.employee_no, **detail},
        ))

    async def flush(self) -> None:
        await record_audits(session=self.job.session, rows=self.rows)
