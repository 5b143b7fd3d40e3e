"""What a step's passed deadline does, per step (``[timeouts]``): remind only, escalate to the
lead (the default), hand the task to the next person up who may decide it, or, for low-risk
steps only, approve it as the system ("系统超时自动通过"). A timeout never rejects."""

from __future__ import annotations

from bot.core.context import JobContext
from handlers.delegation.moves import hand_over, move_task
from handlers.delegation.rules import DECIDING_ACTION, delegate_for, is_away, task_kind, task_view
from handlers.referral.announce import announce
from handlers.referral.workflow import TRANSITIONS, StaleAction, apply_transition, may_act
from storage.models import Person, Position, Referral
from storage.repo.people import nearest_with_role

POLICIES = ("remind", "escalate", "reassign", "approve")
# Steps whose approval leads to another human decision; everything else is never auto-approved.
AUTO_APPROVE = {"hr_review": "review.pass", "leader_approval": "approval.approve"}


def timeout_policy(job: JobContext, stage: str | None) -> str:
    policy = job.settings.timeouts.get(stage or "", "escalate")
    if policy == "approve" and stage not in AUTO_APPROVE:
        return "escalate"
    return policy if policy in POLICIES else "escalate"


async def _next_up(
    job: JobContext, referral: Referral, assignee: Person, position: Position, action: str
) -> Person | None:
    """Up the assignee's leads, then the nearest holder of the step's role, who may decide."""
    roles = TRANSITIONS[action].roles
    skip = {assignee.id, referral.referrer_id}

    async def fits(person: Person | None) -> bool:
        return (
            person is not None
            and person.active
            and person.id not in skip
            and may_act(person, roles, referral, position)
            and not await is_away(job.session, person.id or 0, job.now)
        )

    seen: set[int] = set()
    lead_id = assignee.lead_id
    while lead_id is not None and lead_id not in seen:
        seen.add(lead_id)
        lead = await job.session.get(Person, lead_id)
        if await fits(lead):
            return lead
        lead_id = lead.lead_id if lead else None
    for role in sorted(roles):
        excluded = {i for i in skip if i is not None}
        while True:
            person = await nearest_with_role(
                session=job.session, role=role, org_path=position.org_path,
                exclude=sorted(excluded),
            )
            if person is None:
                break
            if await fits(person):
                return person
            excluded.add(person.id or 0)
    return None


async def reassign_on_timeout(
    job: JobContext, referral: Referral, assignee: Person, position: Position
) -> bool:
    """The task goes to the next person up, with a fresh deadline; False if nobody fits."""
    kind = await task_kind(job.session, referral)
    if kind not in DECIDING_ACTION:
        return False
    taker = await _next_up(job, referral, assignee, position, DECIDING_ACTION[kind])
    if taker is None:
        return False
    delegate = await delegate_for(job, referral, taker, kind)
    try:
        move = await move_task(job, referral, delegate or taker, action="task.timeout",
                               assignee_for=taker if delegate else None)
    except StaleAction:
        return True  # someone acted meanwhile: nothing is late any more
    view = await hand_over(job, move)
    if view is not None:
        job.notify(assignee, "task_moved", reason="timeout", tasks=[view],
                   to=move.holder.name, at=job.now)
    return True


async def approve_on_timeout(job: JobContext, referral: Referral, assignee: Person,
                             stage: str) -> bool:
    """Approve a low-risk step as the system; the late assignee and the referrer are told."""
    action = AUTO_APPROVE.get(stage)
    if action is None or referral.state.value != stage:
        return False
    before = await task_view(job, referral)
    try:
        moved = await apply_transition(job, referral, action, version=referral.version)
    except StaleAction:
        return True
    await announce(job, moved)
    job.notify(assignee, "task_moved", reason="auto_approved", tasks=[before], to="",
               at=job.now)
    return True
