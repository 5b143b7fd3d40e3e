"""Staff transfers (调岗) as a workflow definition: 本人申请—部门审核—人事审批—领导签字.

After sign-off the case waits for its effective date, then the person's org changes (with
history) and the receiving store manager is told; a fixed-term transfer reminds HR and the
store manager before it ends (延期 / 返回总部 open the same workflow again).
"""

from __future__ import annotations

from handlers.transfer import effects
from handlers.workflow.definition import Notice, Step, Workflow, transition

_STEPS = ("dept_review", "hr_approval", "leader_signoff")
_OPEN = {*_STEPS, "approved"}
_TOLD = (Notice("subject", "workflow/notice"), Notice("applicant", "workflow/notice"))

TRANSFER = Workflow(
    name="transfer",
    initial="dept_review",
    steps={
        "dept_review": Step("dept_review", assignee="subject_lead", sla_hours=48),
        "hr_approval": Step("hr_approval", assignee="hr_of_subject_org", sla_hours=48),
        "leader_signoff": Step("leader_signoff", assignee="division_leader", sla_hours=72),
    },
    waiting=frozenset({"approved"}),
    terminal=frozenset({"rejected", "withdrawn", "cancelled", "in_effect", "ended"}),
    transitions={
        t.action: t
        for t in (
            transition("dept_approve", {"dept_review"}, "hr_approval", {"assignee"},
                       style="primary", notify=_TOLD),
            transition("hr_approve", {"hr_approval"}, "leader_signoff", {"assignee"},
                       style="primary", notify=_TOLD),
            transition("sign", {"leader_signoff"}, "approved", {"assignee"}, style="primary",
                       notify=(*_TOLD, Notice("target_store_manager", "workflow/notice"))),
            transition("reject", set(_STEPS), "rejected", {"assignee"}, requires="reason",
                       style="danger", notify=_TOLD),
            transition("withdraw", _OPEN, "withdrawn", {"applicant", "subject"},
                       requires="reason", button=False, notify=_TOLD),
            transition("take_effect", {"approved"}, "in_effect", {"system"}, button=False,
                       notify=(*_TOLD, Notice("target_store_manager", "transfer/arrived"))),
            transition("end", {"in_effect"}, "ended", {"system"}, button=False),
            transition("cancel", _OPEN, "cancelled", {"system"}, button=False,
                       notify=(Notice("applicant", "workflow/notice"),)),
        )
    },
    on_enter={"approved": effects.schedule_effective, "in_effect": effects.take_effect},
    viewers=("target_store_manager",),
)
