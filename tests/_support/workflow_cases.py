"""The tables tests/handlers/referral/test_workflow.py runs: one allowed case per transition,
and the text commands with the action each picks for the referral's state."""

from __future__ import annotations

from dataclasses import dataclass

from tests._support.referrals import (
    FEEDBACK_BUTTONS,
    INTERVIEW_BUTTONS,
    OFFER_BUTTONS,
    REVIEW_BUTTONS,
)

NAMES = {"E002": "陈HR总监", "E010": "赵总", "E011": "李HR", "E020": "张经理", "E021": "孙店长"}


@dataclass(frozen=True)
class Case:
    action: str
    stage: str  # where the referral is driven first (tests/_support/referrals.PATHS)
    actor: str
    label: str | None  # button tapped on the actor's task card; None: `text` is a command
    text: str | None  # typed after the prompt, or the command
    to_state: str
    assignee: str | None
    task: tuple[str, str, tuple[str, ...]] | None  # next task card: recipient, title, buttons


def _interview(first: str) -> tuple[str, str, tuple[str, ...]]:
    return ("E011", "面试安排 · 张三 · 店长", (first, *INTERVIEW_BUTTONS))


_OFFER = ("E011", "offer跟进 · 张三 · 店长", OFFER_BUTTONS)

CASES = [
    Case("review.pass", "hr_review", "E011", "通过", None, "leader_approval", "E010",
         ("E010", "推荐审批 · 张三 · 店长", ("同意", "驳回", "转交/加签"))),
    Case("review.need_info", "hr_review", "E011", "需补充", "近三年业绩；店长经历", "needs_info",
         "E020", ("E020", "需要补充材料 · 张三", ())),
    Case("review.reject", "hr_review", "E011", "驳回", "零售经验不足", "rejected", None, None),
    Case("referral.supplement", "needs_info", "E020", None, "补充 {rid} 业绩: 团队留存率90%",
         "hr_review", "E011", ("E011", "推荐审核 · 张三 · 店长", REVIEW_BUTTONS)),
    Case("approval.approve", "leader_approval", "E010", "同意", None, "interviewing", "E011",
         _interview("第1轮通过")),
    Case("approval.reject", "leader_approval", "E010", "驳回", "编制已满", "rejected", None, None),
    Case("interview.pass", "interviewing", "E011", "第1轮通过", None, "interviewing", "E011",
         _interview("第2轮通过")),
    Case("interview.fail", "interviewing", "E011", "未通过", "沟通能力不足", "rejected",
         None, None),
    Case("feedback.request", "interviewing", "E011", "请用人经理反馈", None, "interviewing",
         "E021", ("E021", "候选人反馈 · 张三 · 店长", FEEDBACK_BUTTONS)),
    Case("feedback.hire", "feedback", "E021", "录用", "技术能力符合要求", "offer", "E011", _OFFER),
    Case("feedback.another", "feedback", "E021", "再面一轮", "想再看带团队能力", "interviewing",
         "E011", _interview("第1轮通过")),
    Case("feedback.no", "feedback", "E021", "不合适", "缺乏团队协作经验", "rejected", None, None),
    Case("offer.make", "interviewing", "E011", "发offer", None, "offer", "E011", _OFFER),
    Case("offer.hired", "offer", "E011", "已入职", None, "hired", None, None),
    Case("offer.declined", "offer", "E011", "拒绝offer", "接受了其他offer", "withdrawn",
         None, None),
]

# (stage, actor, text, action it becomes, state after, note recorded)
COMMANDS = [
    ("hr_review", "E011", "通过 #{rid}", "review.pass", "leader_approval", ""),
    ("hr_review", "E011", "需补充 {rid} 近三年业绩；离职原因", "review.need_info", "needs_info",
     "近三年业绩；离职原因"),  # stored as typed (issue 16)
    ("hr_review", "E002", "驳回 {rid} 零售经验不足", "review.reject", "rejected", "零售经验不足"),
    ("leader_approval", "E010", "通过 {rid}", "approval.approve", "interviewing", ""),
    ("leader_approval", "E010", "驳回 {rid} 编制已满", "approval.reject", "rejected", "编制已满"),
    # the hiring manager, not asked for feedback, records an interview
    ("interviewing", "E021", "通过 {rid}", "interview.pass", "interviewing", ""),
    ("interviewing", "E011", "驳回 {rid} 沟通能力不足", "interview.fail", "rejected",
     "沟通能力不足"),
    # ... and once asked, answers the feedback
    ("feedback", "E021", "通过 {rid} 符合要求", "feedback.hire", "offer", "符合要求"),
    ("feedback", "E021", "驳回 {rid} 缺乏团队协作经验", "feedback.no", "rejected",
     "缺乏团队协作经验"),
    ("offer", "E011", "通过 {rid}", "offer.hired", "hired", ""),
    ("offer", "E011", "驳回 {rid} 接受了其他offer", "offer.declined", "withdrawn",
     "接受了其他offer"),
    ("interviewing", "E011", "面试 {rid} 通过 85 沟通能力强", "interview.pass", "interviewing",
     "沟通能力强"),
    ("interviewing", "E021", "面试 {rid} 未通过 缺乏团队管理经验", "interview.fail", "rejected",
     "缺乏团队管理经验"),
    ("leader_approval", "E020", "撤回 {rid} 候选人已另有安排", "referral.withdraw", "withdrawn",
     "候选人已另有安排"),
    ("needs_info", "E011", "撤回 {rid} 岗位已招满", "referral.withdraw", "withdrawn",
     "岗位已招满"),
]

# (stage, actor, owner of the card tapped, button): refused with 没有权限
FORBIDDEN = [
    ("hr_review", "E020", "E011", "通过"),  # the referrer on their own referral
    ("hr_review", "E041", "E011", "通过"),  # HR of 华南 on a 华东 referral
    ("hr_review", "E041", "E011", "驳回"),  # ... refused before asking for a reason
    ("hr_review", "E010", "E011", "通过"),  # a leader is no HR
    ("leader_approval", "E040", "E010", "同意"),  # leader of 华南
    ("leader_approval", "E040", "E010", "驳回"),
    ("leader_approval", "E011", "E010", "同意"),  # HR is no leader
    ("interviewing", "E030", "E011", "未通过"),  # hiring manager of another store
    ("feedback", "E030", "E021", "录用"),
    ("feedback", "E011", "E021", "录用"),  # HR is not the hiring manager
    ("feedback", "E020", "E021", "不合适"),  # a hiring manager in scope, but the referrer
    ("offer", "E041", "E011", "已入职"),
    ("offer", "E020", "E011", "未到岗"),
]

# (stage, actor, action of a forged button carrying the current version): a stale card
WRONG_STATE = [
    ("hr_review", "E010", "approval.approve"),
    ("hr_review", "E011", "offer.hired"),
    ("needs_info", "E011", "review.pass"),
    ("interviewing", "E011", "review.reject"),  # needs a reason: refused before asking
    ("leader_approval", "E011", "offer.no_show"),  # needs a category: no category card
]

# (actor, text, title of the only card answered); nothing changes
BAD_COMMANDS = [
    ("E011", "通过 999", "没找到这条推荐"),
    ("E011", "通过 abc", "命令格式"),
    ("E011", "驳回 1x 原因", "命令格式"),
    ("E011", "通过", "命令格式"),
    ("E011", "驳回 {rid}", "命令格式"),
    ("E011", "需补充 {rid}", "命令格式"),
    ("E041", "通过 {rid}", "没有权限"),
    ("E020", "通过 {rid}", "没有权限"),
    ("E040", "驳回 {rid} 不合适", "没有权限"),
    ("E020", "补充", "补充材料"),  # nothing waits for a supplement
    ("E041", "撤回 {rid} 不要了", "没有权限"),
    ("E030", "撤回 {rid} 不要了", "没有权限"),  # a referrer, but not of this referral
    ("E020", "撤回 {rid}", "命令格式"),
    ("E041", "面试 {rid} 通过 90", "没有权限"),
]
