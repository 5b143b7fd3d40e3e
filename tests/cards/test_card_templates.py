"""The packaged card templates (``cards/templates/<locale>``) rendered with realistic contexts.

Every Chinese template is rendered in both locales with view-models shaped like
``handlers.referral.views.referral_view``: the output must be a valid card, the English locale must
mirror the Chinese one, and the cards people act on must carry the right buttons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jinja2 import UndefinedError

from cards.models import Card
from cards.render import TEMPLATE_ROOT, _render, render_card
from cards.render_text import text_card
from handlers.referral.workflow import NO_SHOW_CATEGORIES, TRANSITIONS
from storage.models import ReferralState

LOCALES = ("zh", "en")
ZH_DIR = TEMPLATE_ROOT / "zh"
EN_DIR = TEMPLATE_ROOT / "en"
TEMPLATE_NAMES = sorted(
    p.name.removesuffix(".json.j2")
    for p in ZH_DIR.glob("*.json.j2")
    if not p.name.startswith("_")
)
MAX_BUTTONS = 6  # WeCom template cards show at most six buttons
CJK = re.compile(r"[\u4e00-\u9fff]")
TZ = "Asia/Shanghai"

T0 = datetime(2026, 3, 1, 2, 5, tzinfo=UTC)  # 03-01 10:05 in Asia/Shanghai
DUE = datetime(2026, 3, 2, 2, 5, tzinfo=UTC)  # 03-02 10:05
T0_HM, T0_DT, DUE_DT = "10:05", "03-01 10:05", "03-02 10:05"

# Locale-specific sample data: Chinese as it arrives in production, ASCII for English so
# any CJK character in the English output must have come from a template.
DATA: dict[str, dict[str, Any]] = {
    "zh": {
        "candidate": "张三",
        "candidate2": "赵六",
        "position": "店长",
        "position2": "导购",
        "org": "总部/华东/上海一店",
        "referrer": "李四",
        "first_referrer": "王小明",
        "assignee": "王芳",
        "actor": "陈静",
        "reason": "曾将社区商场月客流提升30%",
        "education": "本科",
        "min_education": "本科",
        "lower_education": "大专",
        "higher_education": "硕士",
        "experience": ["2019.03–2022.06 万达广场 零售 店长", "2022.07–… 印象城 商场 楼层经理"],
        "supplements": ["近三年门店销售额增长25%"],
        "requested_items": ["近三年业绩", "离职原因"],
        "labels": ["零售管理经验", "店长经验", "学历", "线下客流运营", "团队建设（留存率）"],
        "job": "2019.03–2022.06 万达广场 店长",
        "keywords": ["客流", "社群"],
        "figure": ["留存率90%"],
        "note": "沟通能力强，零售经验丰富",
        "segments": ["2019年 万达", "很久以前 某公司"],
        "unknown_label": "爱好",
        "bad_phone": "1380013",
        "bad_email": "zhangsan@",
        "bad_experience": "去年 某公司",
        "vague": "人不错",
        "ambiguous": ["店长（SH1-SM）", "深圳店长（SZ-SM）"],
        "help_unknown": "你好",
    },
    "en": {
        "candidate": "Alice Chen",
        "candidate2": "Bob Li",
        "position": "Store Manager",
        "position2": "Sales Associate",
        "org": "HQ/East/Shanghai 1",
        "referrer": "Dave Wu",
        "first_referrer": "Margaret",
        "assignee": "Fiona Wang",
        "actor": "Mary Lin",
        "reason": "Grew monthly mall traffic by 30%",
        "education": "Bachelor",
        "min_education": "Bachelor",
        "lower_education": "Associate",
        "higher_education": "Master",
        "experience": [
            "2019.03–2022.06 WandaPlaza retail store manager",
            "2022.07–… InCity mall floor manager",
        ],
        "supplements": ["Store sales grew 25% in the last three years"],
        "requested_items": ["Sales results for the last three years", "Reason for leaving"],
        "labels": [
            "Retail management",
            "Store manager experience",
            "Education",
            "Foot traffic operations",
            "Team retention",
        ],
        "job": "2019.03–2022.06 WandaPlaza store manager",
        "keywords": ["traffic", "community"],
        "figure": ["retention 90%"],
        "note": "Strong communicator with solid retail background",
        "segments": ["2019 Wanda", "long ago SomeCompany"],
        "unknown_label": "hobby",
        "bad_phone": "1380013",
        "bad_email": "alice@",
        "bad_experience": "last year SomeCompany",
        "vague": "nice person",
        "ambiguous": ["Store Manager (SH1-SM)", "Shenzhen Store Manager (SZ-SM)"],
        "help_unknown": "hello there",
    },
}


TRICKY = ' "quoted" \\ back\\slash {{ braces }} {% tag %}\nnew line </script>'


def _tricky(value: Any) -> Any:
    if isinstance(value, str):
        return value + TRICKY
    if isinstance(value, list):
        return [_tricky(v) for v in value]
    return value


# Characters that would break hand-quoted JSON or re-enter the template engine.
DATA["tricky"] = {k: _tricky(v) for k, v in DATA["en"].items()}


def checks(d: dict[str, Any]) -> list[dict[str, Any]]:
    """One check per kind and outcome, shaped like ``asdict(RequirementResult)`` in the view."""
    years, store, edu, keywords, figure = d["labels"]

    def check(label: str, kind: str, outcome: str, required: str, found: str,
              evidence: list[str]) -> dict[str, Any]:
        return {"label": label, "kind": kind, "outcome": outcome, "required": required,
                "found": found, "evidence": evidence}

    return [
        check(years, "years", "met", "3", "4.5", [d["job"]]),
        check(store, "years", "unmet", "1", "0.5", [d["job"]]),
        check(store, "years", "unknown", "2", "", []),
        check(edu, "education", "met", d["min_education"], d["higher_education"], []),
        check(edu, "education", "unmet", d["min_education"], d["lower_education"], []),
        check(edu, "education", "unknown", d["min_education"], "", []),
        check(keywords, "keywords", "met", "1", "2", list(d["keywords"])),
        check(keywords, "keywords", "unmet", "1", "0", []),
        check(keywords, "keywords", "unknown", "1", "", []),
        check(figure, "figure", "met", "85", "90%", list(d["figure"])),
        check(figure, "figure", "unmet", "85", "70%", ["70%"]),
        check(figure, "figure", "unknown", "85", "", []),
    ]


def timeline() -> list[dict[str, Any]]:
    steps = [("submitted", 0, True), ("hr_review", 150, True), ("needs_info", 2880, True),
             ("hr_review", 45, True), ("leader_approval", 600, True),
             ("interviewing", 30, False)]
    rows, at = [], T0 - timedelta(days=5)
    for state, minutes, done in steps:
        rows.append({"state": state, "entered": at, "done": done, "minutes": minutes})
        at += timedelta(minutes=minutes)
    return rows


def referral(locale: str, **overrides: Any) -> dict[str, Any]:
    """A referral view as ``handlers.referral.views.referral_view`` returns it."""
    d = DATA[locale]
    view: dict[str, Any] = {
        "id": 12,
        "version": 3,
        "state": "interviewing",
        "round": 1,
        "reason": d["reason"],
        "no_show_reason": "",
        "due_at": DUE,
        "created_at": T0 - timedelta(days=5),
        "candidate": {
            "name": d["candidate"],
            "phone": "13800138000",
            "email": "candidate@example.com",
            "education": d["education"],
            "experience": list(d["experience"]),
            "achievements": d["reason"],
        },
        "position": {"title": d["position"], "org_path": d["org"]},
        "referrer": d["referrer"],
        "assignee": d["assignee"],
        "checks": checks(d),
        "supplements": list(d["supplements"]),
        "requested_items": list(d["requested_items"]),
        "timeline": timeline(),
    }
    view.update(overrides)
    return view


def bare_referral(locale: str, **overrides: Any) -> dict[str, Any]:
    """A referral with every optional part empty: no checks, history, due date or assignee."""
    bare: dict[str, Any] = {"state": "hr_review", "round": 0, "due_at": None, "assignee": "",
                            "checks": [], "supplements": [], "requested_items": [],
                            "timeline": []}
    view = referral(locale, **{**bare, **overrides})
    view["candidate"] = {**view["candidate"], "phone": "", "email": "", "education": "",
                         "experience": []}
    return view


def outcome(locale: str, **overrides: Any) -> dict[str, Any]:
    d = DATA[locale]
    data = {"action": "review.pass", "actor": d["actor"], "at": T0, "note": d["note"],
            "to_state": "leader_approval", "assignee": d["assignee"]}
    data.update(overrides)
    return data


def problems(locale: str) -> list[dict[str, Any]]:
    """Every problem ``handlers.referral.submit._check`` can report."""
    d = DATA[locale]
    return [
        {"field": "position", "code": "missing"},
        {"field": "name", "code": "missing"},
        {"field": "reason", "code": "missing"},
        {"field": "contact", "code": "missing"},
        {"field": "phone", "code": "invalid", "value": d["bad_phone"]},
        {"field": "email", "code": "invalid", "value": d["bad_email"]},
        {"field": "reason", "code": "vague", "value": d["vague"]},
        {"field": "name", "code": "too_long"},
        {"field": "experience", "code": "invalid", "value": d["bad_experience"]},
        {"field": "position", "code": "unknown", "value": d["position2"], "options": []},
        {"field": "position", "code": "ambiguous", "value": d["position"],
         "options": list(d["ambiguous"])},
    ]


Case = tuple[str, str, Callable[[str], dict[str, Any]]]

TASK_CARDS = ("review_task", "needs_info", "approval_task", "interview_task", "feedback_task",
              "offer_task")

# One workflow action per kind of input it asks for (reason, items, note, category).
PROMPTS = {t.requires: t.action for t in reversed(TRANSITIONS.values()) if t.requires}

# (case id, template name, context factory taking the locale). Several contexts per template
# exercise the optional branches, including empty lists that must still render valid JSON.
CASES: list[Case] = [
    ("action_done", "action_done", lambda lc: {"r": referral(lc), "outcome": outcome(lc)}),
    ("action_done-final", "action_done", lambda lc: {
        "r": referral(lc, state="hired"),
        "outcome": outcome(lc, action="offer.hired", note="", to_state="hired")}),
    ("approval_task", "approval_task", lambda lc: {"r": referral(lc, state="leader_approval")}),
    ("approval_task-bare", "approval_task", lambda lc: {"r": bare_referral(lc)}),
    ("bad_action", "bad_action", lambda lc: {}),
    *[(f"command_usage-{c}", "command_usage", lambda lc, c=c: {"command": c})
      for c in ("approve", "reject", "needinfo")],
    ("daily_digest", "daily_digest", lambda lc: {
        "reviews": [referral(lc, state="hr_review"), bare_referral(lc, id=15)],
        "overdue": [referral(lc, state="hr_review", due_at=T0)],
        "interviews": [referral(lc, round=2)],
        "date": T0,
    }),
    ("daily_digest-reviews_only", "daily_digest", lambda lc: {
        "reviews": [referral(lc, state="hr_review")], "overdue": [], "interviews": [],
        "date": T0,
    }),
    ("error_generic", "error_generic", lambda lc: {}),
    ("escalation", "escalation", lambda lc: {
        "r": referral(lc, state="hr_review"), "assignee": DATA[lc]["assignee"],
        "overdue_minutes": 1500}),
    ("escalation-no_due", "escalation", lambda lc: {
        "r": bare_referral(lc), "assignee": DATA[lc]["assignee"], "overdue_minutes": 0}),
    ("experience_invalid", "experience_invalid",
     lambda lc: {"segments": list(DATA[lc]["segments"])}),
    ("feedback_task", "feedback_task", lambda lc: {"r": referral(lc, round=2)}),
    ("feedback_task-bare", "feedback_task", lambda lc: {"r": bare_referral(lc, round=1)}),
    ("forbidden", "forbidden", lambda lc: {"action": "approval.approve", "referral_id": 12}),
    ("forbidden-progress", "forbidden", lambda lc: {"action": "progress", "referral_id": 12}),
    ("help", "help", lambda lc: {}),
    ("help-unknown", "help", lambda lc: {"unknown": DATA[lc]["help_unknown"]}),
    ("input_cancelled", "input_cancelled", lambda lc: {"action": "review.reject"}),
    ("input_missing", "input_missing",
     lambda lc: {"action": "approval.reject", "referral_id": 12}),
    *[(f"input_prompt-{requires}", "input_prompt",
       lambda lc, a=action, q=requires: {"r": referral(lc), "action": a, "requires": q})
      for requires, action in PROMPTS.items()],
    ("interview_task", "interview_task", lambda lc: {"r": referral(lc)}),
    ("interview_task-bare", "interview_task", lambda lc: {"r": bare_referral(lc)}),
    ("needs_info", "needs_info", lambda lc: {"r": referral(lc, state="needs_info")}),
    ("needs_info-bare", "needs_info", lambda lc: {"r": bare_referral(lc)}),
    *[(f"no_show_categories-{page}", "no_show_categories",
       lambda lc, page=page: {"r": referral(lc, state="offer"),
                              "categories": NO_SHOW_CATEGORIES, "page": page})
      for page in (0, 1)],
    ("not_found", "not_found", lambda lc: {"referral_id": "99"}),
    ("not_in_directory", "not_in_directory", lambda lc: {}),
    ("offer_task", "offer_task", lambda lc: {"r": referral(lc, state="offer")}),
    ("positions", "positions", lambda lc: {"positions": [
        {"title": DATA[lc]["position"], "code": "SH1-SM", "org_path": DATA[lc]["org"],
         "requirements": DATA[lc]["labels"][:3]},
        {"title": DATA[lc]["position2"], "code": "SH1-SA", "org_path": DATA[lc]["org"],
         "requirements": []},
    ]}),
    ("positions-empty", "positions", lambda lc: {"positions": []}),
    ("progress", "progress", lambda lc: {"r": referral(lc)}),
    ("progress-bare", "progress", lambda lc: {"r": bare_referral(lc)}),
    ("progress-final", "progress", lambda lc: {"r": referral(lc, state="rejected")}),
    ("progress_list", "progress_list", lambda lc: {"rows": [
        {"id": 10 + i, "candidate": DATA[lc]["candidate"], "position": DATA[lc]["position"],
         "state": state.value, "updated_at": T0}
        for i, state in enumerate(ReferralState)
    ]}),
    ("progress_list-empty", "progress_list", lambda lc: {"rows": []}),
    ("progress_notice", "progress_notice",
     lambda lc: {"r": referral(lc, round=2),
                 "outcome": outcome(lc, action="interview.pass", to_state="interviewing")}),
    ("progress_notice-final", "progress_notice",
     lambda lc: {"r": bare_referral(lc, state="rejected"),
                 "outcome": outcome(lc, action="review.reject", to_state="rejected")}),
    *[(f"referral_duplicate-{'own' if own else 'other'}", "referral_duplicate",
       lambda lc, own=own: {"own": own, "first_referrer": DATA[lc]["first_referrer"],
                            "first_at": T0, "candidate": DATA[lc]["candidate"],
                            "referral_id": 12})
      for own in (True, False)],
    ("referral_incomplete", "referral_incomplete", lambda lc: {
        "fields": {"position": DATA[lc]["position2"], "name": DATA[lc]["candidate"] * 40,
                   "phone": DATA[lc]["bad_phone"], "email": "", "reason": DATA[lc]["vague"]},
        "problems": problems(lc),
        "unknown": [DATA[lc]["unknown_label"]],
        "positions": [DATA[lc]["position"], DATA[lc]["position2"]],
    }),
    ("referral_incomplete-empty", "referral_incomplete", lambda lc: {
        "fields": {}, "problems": [{"field": "position", "code": "missing"}],
        "unknown": [], "positions": [],
    }),
    ("referral_submitted", "referral_submitted",
     lambda lc: {"r": referral(lc, state="hr_review")}),
    ("referral_submitted-no_hr", "referral_submitted", lambda lc: {"r": bare_referral(lc)}),
    ("review_task", "review_task", lambda lc: {"r": referral(lc, state="hr_review")}),
    ("review_task-bare", "review_task", lambda lc: {"r": bare_referral(lc)}),
    ("stale_action", "stale_action", lambda lc: {
        "r": referral(lc, state="leader_approval"), "by": DATA[lc]["actor"], "at": T0,
        "action": "review.pass"}),
    ("stale_action-expired", "stale_action",
     lambda lc: {"r": referral(lc, state="rejected"), "by": "", "at": None, "action": ""}),
    ("supplement_usage", "supplement_usage", lambda lc: {"waiting": [12, 15]}),
    ("supplement_usage-one", "supplement_usage", lambda lc: {"waiting": [12]}),
    ("supplement_usage-none", "supplement_usage", lambda lc: {"waiting": []}),
    ("todos", "todos", lambda lc: {
        "tasks": [referral(lc, state="hr_review"),
                  bare_referral(lc, id=15, candidate={"name": DATA[lc]["candidate2"]})],
        "draft": {"name": DATA[lc]["candidate2"], "position": DATA[lc]["position"]},
        "pending": "review.reject",
    }),
    ("todos-empty", "todos", lambda lc: {"tasks": [], "draft": None, "pending": None}),
    ("todos-unnamed_draft", "todos",
     lambda lc: {"tasks": [], "draft": {"position": DATA[lc]["position"]}, "pending": None}),
    ("unknown_action", "unknown_action", lambda lc: {}),
    ("forbidden-usage", "forbidden", lambda lc: {"action": "usage"}),
    *[(f"task_todo-{stage}", "task_todo", lambda lc, stage=stage: {"r": referral(lc),
                                                                   "stage": stage})
      for stage in ("hr_review", "leader_approval")],
    ("api_usage", "api_usage", lambda lc: {"rows": [
        {"platform": "dingtalk", "period": "2026-11", "calls": 4100, "quota": 5000,
         "percent": 82}]}),
    ("api_usage-none", "api_usage", lambda lc: {"rows": []}),
    ("attachment_file", "attachment_file",
     lambda lc: {"rid": 12, "filename": DATA[lc]["candidate2"] + ".pdf"}),
    ("attachments_none", "attachments_none", lambda lc: {"rid": 12, "elsewhere": []}),
    ("attachment_added", "attachment_added",
     lambda lc: {"rid": 12, "files": [DATA[lc]["candidate2"] + ".pdf"]}),
    ("attachment_added-no_referral", "attachment_added",
     lambda lc: {"rid": None, "files": [DATA[lc]["candidate2"] + ".pdf"]}),
    ("attachments_none-elsewhere", "attachments_none",
     lambda lc: {"rid": 12, "elsewhere": ["dingtalk", "wecom"]}),
    ("candidate_welcome", "candidate_welcome",
     lambda lc: {"candidate": DATA[lc]["candidate2"], "employee": DATA[lc]["candidate2"]}),
    ("delivery_failed", "delivery_failed", lambda lc: {"lines": [
        {"platform": "wecom", "to": DATA[lc]["candidate2"], "target_kind": "person",
         "title": DATA[lc]["position"],
         "kind": "card", "error": "wecom error 60111: invalid userid"},
        {"platform": "dingtalk", "to": "group", "target_kind": "conversation", "title": "",
         "kind": "task_open", "error": ""}]}),
    *[(f"api_usage_alert-{t}", "api_usage_alert", lambda lc, t=t: {"threshold": t, "u": {
        "platform": "dingtalk", "period": "2026-11", "calls": 50 * t, "quota": 5000,
        "percent": t}}) for t in (80, 100)],
    # Task cards re-sent as SLA reminders (handlers.sla.reminders.remind_assignee).
    *[(f"{name}-reminder{'-overdue' if overdue else ''}", name,
       lambda lc, overdue=overdue: {"r": referral(lc),
                                    "reminder": {"overdue": overdue, "due_at": DUE}})
      for name in TASK_CARDS for overdue in (False, True)],
]


# --- Recall cards (handlers.recall): profiles, previews, outcomes, campaigns, statistics.

RECALL_CATEGORIES = ("salary", "team", "career", "commute", "family", "counter_offer", "other")
OUTCOMES = {"replied": False, "interested": False, "rehired": False, "opted_out": False}


def recall_profile(locale: str, **overrides: Any) -> dict[str, Any]:
    """A profile view as ``handlers.recall.common.profile_view`` returns it."""
    d = DATA[locale]
    view: dict[str, Any] = {
        "id": 7, "version": 2, "candidate": {"name": d["candidate"]},
        "position": d["position"], "org": d["org"], "referral_id": 12, "source": "no_show",
        "category": "team", "notes": d["note"], "needs": list(d["supplements"]),
        "questions": list(d["requested_items"]), "interest": d["keywords"][0],
        "tags": list(d["keywords"]),
        "evaluations": [
            {"action": "interview.pass", "round": 1, "score": 85, "note": d["note"],
             "by": d["actor"]},
            {"action": "feedback.hire", "round": None, "score": None, "note": "", "by": ""},
        ],
        "consent": True, "opted_out": False, "since": T0 - timedelta(days=200), "days": 200,
        "wecom": True,
        "history": [{"id": 3, "stage": "greeting", "status": "sent", "template": "any_greeting",
                     "at": T0, "replied": True, "rehired": False}],
        "contacts": 1,
    }
    view.update(overrides)
    return view


def bare_recall_profile(locale: str, **overrides: Any) -> dict[str, Any]:
    return recall_profile(locale, **{
        "position": "", "referral_id": "", "source": "pool", "notes": "", "needs": [],
        "questions": [], "interest": "", "tags": [], "evaluations": [], "consent": False,
        "history": [], "contacts": 0, **overrides})


def recall_contact(locale: str, **overrides: Any) -> dict[str, Any]:
    """A contact view as ``handlers.recall.common.contact_view`` returns it."""
    d = DATA[locale]
    view = recall_profile(locale)
    view.update({
        "id": 31, "version": 4, "profile_id": 7, "profile_version": 2, "status": "drafted",
        "stage": "news", "day": 90, "template": "team_news", "text": d["reason"],
        "edited": False, "error": None, "concern": d["note"], "sender": d["assignee"],
        "prepared_by": d["actor"], "decided_by": "", "handed": False, "channel": "",
        "updated_at": T0, "sent_at": None, "delivered_at": None, "outcomes": dict(OUTCOMES),
        "failure": "",
    })
    view.update(overrides)
    return view


def recall_campaign(locale: str, **overrides: Any) -> dict[str, Any]:
    d = DATA[locale]
    view: dict[str, Any] = {
        "id": 4, "version": 1, "state": "selected", "count": 12, "too_many": False, "max": 100,
        "left_out": {"no_consent": 2, "too_soon": 1},
        "filters": {"reason": "team", "position": d["position"], "days_min": 180,
                    "days_max": 400, "tag": d["keywords"][0]},
        "stage": "news",
        "sample": [{"name": d["candidate"], "position": d["position"], "days": 200,
                    "notes": d["note"]},
                   {"name": d["candidate2"], "position": "", "days": 190, "notes": ""}],
        "drafted": 0,
    }
    view.update(overrides)
    return view


def recall_stats(rows: bool) -> dict[str, Any]:
    def row(key: str, sent: int, replied: int, rehired: int) -> dict[str, Any]:
        return {"key": key, "drafted": sent + 2, "sent": sent, "delivered": 3, "skipped": 2,
                "failed": 1, "replied": replied, "interested": rehired, "rehired": rehired,
                "opted_out": 0, "reply_rate": replied * 100 // max(sent, 1),
                "rehire_rate": rehired * 100 // max(sent, 1)}

    total = row("", 10, 6, 5) if rows else row("", 0, 0, 0)
    return {"total": total,
            "templates": [row("team_news", 10, 6, 5), row("counter_offer_opening", 1, 0, 0)]
            if rows else [],
            "categories": [row("team", 10, 6, 5), row("counter_offer", 1, 0, 0)] if rows else []}


RECALL_CASES: list[Case] = [
    ("recall_profile", "recall_profile", lambda lc: {"r": recall_profile(lc), "stale": False}),
    ("recall_profile-bare_stale", "recall_profile",
     lambda lc: {"r": bare_recall_profile(lc), "stale": True}),
    ("recall_profile-opted_out", "recall_profile",
     lambda lc: {"r": recall_profile(lc, opted_out=True), "stale": False}),
    *[(f"recall_categories-{page}", "recall_categories",
       lambda lc, page=page: {"r": recall_profile(lc), "categories": RECALL_CATEGORIES,
                              "page": page}) for page in (0, 1)],
    ("recall_preview", "recall_preview",
     lambda lc: {"r": recall_contact(lc), "handover": False}),
    ("recall_preview-missing_handover", "recall_preview", lambda lc: {
        "r": recall_contact(lc, text="", error={"kind": "missing", "detail": "changes"},
                            status="handed", edited=True), "handover": True}),
    ("recall_preview-too_long", "recall_preview", lambda lc: {
        "r": recall_contact(lc, text="", error={"kind": "too_long", "detail": ""}, day=0),
        "handover": False}),
    ("recall_copy", "recall_copy", lambda lc: {"r": recall_contact(lc)}),
    *[(f"recall_outcome-{status}", "recall_outcome",
       lambda lc, status=status: {"r": recall_contact(
           lc, status=status, sent_at=T0 if status == "sent" else None,
           delivered_at=T0 if status == "sent" else None,
           failure="not_friend:" if status == "failed" else "",
           outcomes={**OUTCOMES, "replied": status == "sent"})})
      for status in ("queued", "sent", "failed")],
    *[(f"recall_closed-{status}", "recall_closed",
       lambda lc, status=status: {"r": recall_contact(lc, status=status,
                                                      decided_by=DATA[lc]["actor"]),
                                  "stale": status == "sent"})
      for status in ("skipped", "handed", "cancelled", "queued", "sent", "failed", "drafted")],
    ("recall_senders", "recall_senders", lambda lc: {
        "r": recall_contact(lc), "senders": [{"id": 5, "name": DATA[lc]["assignee"]},
                                             {"id": 6, "name": DATA[lc]["referrer"]}]}),
    *[(f"recall_prompt-{what}", "recall_prompt",
       lambda lc, what=what: {"r": recall_contact(lc), "what": what, "cancelled": False})
      for what in ("edit", "notes", "needs", "questions", "interest")],
    ("recall_prompt-cancelled", "recall_prompt",
     lambda lc: {"r": recall_profile(lc), "what": "notes", "cancelled": True}),
    ("recall_campaign", "recall_campaign", lambda lc: {"r": recall_campaign(lc)}),
    ("recall_campaign-none", "recall_campaign", lambda lc: {
        "r": recall_campaign(lc, count=0, sample=[], left_out={}, filters={"tag": "x"})}),
    ("recall_campaign-too_many", "recall_campaign",
     lambda lc: {"r": recall_campaign(lc, count=150, too_many=True)}),
    ("recall_campaign-drafted", "recall_campaign",
     lambda lc: {"r": recall_campaign(lc, state="drafted", drafted=12)}),
    ("recall_campaign-cancelled", "recall_campaign",
     lambda lc: {"r": recall_campaign(lc, state="cancelled")}),
    ("recall_stats", "recall_stats", lambda lc: {"stats": recall_stats(True)}),
    ("recall_stats-empty", "recall_stats", lambda lc: {"stats": recall_stats(False)}),
    *[(f"recall_blocked-{reason}", "recall_blocked",
       lambda lc, reason=reason: {"reason": reason, "until": T0,
                                  "candidate": DATA[lc]["candidate"]})
      for reason in ("forbidden", "opted_out", "no_consent", "too_soon", "no_text", "too_long",
                     "empty", "not_sent", "no_senders")],
    ("recall_blocked-bare", "recall_blocked", lambda lc: {"reason": "too_soon"}),
    *[(f"recall_usage-{command}", "recall_usage", lambda lc, command=command: {
        "command": command}) for command in ("campaign", "profile", "pool")],
    *[(f"recall_usage-{problem}", "recall_usage", lambda lc, problem=problem: {
        "command": "campaign", "problem": problem, "value": "x"})
      for problem in ("unknown_key", "unknown_reason", "bad_days", "unknown_stage",
                      "no_filter", "no_profile", "not_closed", "too_many")],
]
CASES += RECALL_CASES


# --- Insight cards (handlers.insight, handlers.pool.commands): statistics, weekly report,
# talent pool, referral bonuses.


def stats_view(locale: str, *, empty: bool = False) -> dict[str, Any]:
    """A statistics view as ``handlers.insight.stats.build_stats`` returns it."""
    d = DATA[locale]
    group = {"key": 1, "n": 12, "hired": 3, "rate": 25}
    total = 0 if empty else 12
    return {
        "scope": d["org"], "since": T0 - timedelta(days=365), "until": None, "last": None,
        "total": total, "hired": 0 if empty else 3, "open": 0 if empty else 4,
        "hire_rate": None if empty else 25,
        "funnel": [{"stage": s, "n": n, "rate": r} for s, n, r in (
            ("submitted", total, 100), ("hr_passed", 8, 67), ("interviewing", 6, 75),
            ("offer", 4, 67), ("hired", 3, 75))],
        "stages": [] if empty else [
            {"stage": "hr_review", "n": 12, "mean_h": 8.5, "p50_h": 7.0, "p90_h": 20.2},
            {"stage": "leader_approval", "n": 8, "mean_h": 50.0, "p50_h": 48.0, "p90_h": 70.0},
        ],
        "slowest": None if empty else {"stage": "leader_approval", "n": 8, "mean_h": 50.0,
                                       "p50_h": 48.0, "p90_h": 70.0},
        "requirements": [{
            "label": d["labels"][0], "met": {"n": 5, "hired": 3, "rate": 60},
            "unmet": {"n": 5, "hired": 0, "rate": 0}, "unknown": {"n": 2, "hired": 0, "rate": 0},
        }],
        "scores": [{"low": low, "n": n, "hired": h, "rate": r}
                   for low, n, h, r in ((80, 3, 2, 67), (60, 2, 1, 50), (0, 0, 0, None))],
        "referrers": [{**group, "name": d["referrer"]}],
        "stores": [{**group, "name": d["org"]}],
        "positions": [{**group, "name": d["position"]}],
        "sources": [{**group, "name": "referral"}, {**group, "name": d["keywords"][0]}],
        "sla": [{"name": d["assignee"], "late": 2, "open": 1,
                 "stages": [("hr_review", 1), ("leader_approval", 1)]},
                {"name": "", "late": 0, "open": 1, "stages": []}],
        "recall": {"sent": 0 if empty else 10, "replied": 4, "rate": 40, "interested": 2,
                   "rehired": 1,
                   "stages": [{"stage": "opening", "sent": 10, "replied": 4, "rate": 40,
                               "interested": 2, "rehired": 1}],
                   "senders": [{"kind": "hiring_manager", "sent": 10, "replied": 4, "rate": 40,
                                "interested": 2, "rehired": 1}]},
    }


def pool_row(locale: str) -> dict[str, Any]:
    d = DATA[locale]
    return {"candidate_id": 3, "name": d["candidate"], "status": "rejected", "referral_id": 12,
            "position": d["position"], "org": d["org"], "referrer": d["referrer"],
            "tags": list(d["keywords"]), "updated_at": T0}


def suggestion(locale: str) -> dict[str, Any]:
    d = DATA[locale]
    return {"candidate_id": 3, "name": d["candidate"], "status": "no_show", "referral_id": 12,
            "org": d["org"], "tags": list(d["keywords"]), "of": 4,
            "met": [{"label": d["labels"][0], "kind": "years", "found": "4.5", "required": "3",
                     "evidence": [d["job"]]},
                    {"label": d["labels"][3], "kind": "keywords", "found": "2",
                     "required": "1", "evidence": list(d["keywords"])}],
            "unmet": [d["labels"][2]], "unknown": [d["labels"][4]]}


def bonus_row(locale: str, status: str, **overrides: Any) -> dict[str, Any]:
    d = DATA[locale]
    return {"id": 12, "candidate": d["candidate"], "position": d["position"], "org": d["org"],
            "referrer": d["referrer"], "employee_no": "E020", "first_over": "",
            "hired_at": T0, "eligible_at": DUE, "amount": 2000, "status": status, "note": "",
            **overrides}


CONFIG = {"probation_days": 90, "bonus_amount": 2000, "credit_days": 365}

INSIGHT_CASES: list[Case] = [
    ("stats", "stats", lambda lc: {"s": stats_view(lc), "image": "chart:1"}),
    ("stats-empty", "stats", lambda lc: {"s": stats_view(lc, empty=True), "image": ""}),
    *[(f"stats_forbidden-{what}", "stats_forbidden", lambda lc, what=what: {"what": what})
      for what in ("stats", "pool", "tag", "report", "report_settings", "bonus",
                   "bonus_settings")],
    ("stats_usage-ambiguous", "stats_usage", lambda lc: {
        "word": DATA[lc]["position"], "scope": DATA[lc]["org"],
        "choices": list(DATA[lc]["ambiguous"])}),
    ("stats_usage-unknown", "stats_usage",
     lambda lc: {"word": DATA[lc]["position"], "scope": DATA[lc]["org"], "choices": []}),
    *[(f"report_weekly-{n}", "report_weekly", lambda lc, n=n: {
        "s": stats_view(lc, empty=not n), "image": "chart:2" if n else "", "payable": n,
        "hired": n, "previous": {"total": 5, "hired": 1}}) for n in (0, 2)],
    ("report_settings", "report_settings",
     lambda lc: {"config": {"weekday": 4, "at": "17:00", "enabled": True}, "bad": ""}),
    ("report_settings-bad", "report_settings", lambda lc: {
        "config": {"weekday": 0, "at": "09:00", "enabled": False}, "bad": DATA[lc]["vague"]}),
    ("pool", "pool", lambda lc: {"query": list(DATA[lc]["keywords"]),
                                 "rows": [pool_row(lc)] * 2, "total": 1200,
                                 "scope": DATA[lc]["org"], "tags": []}),
    ("pool-none", "pool", lambda lc: {"query": [DATA[lc]["keywords"][0]], "rows": [],
                                      "total": 0, "scope": DATA[lc]["org"], "tags": []}),
    ("pool-overview", "pool", lambda lc: {
        "query": [], "rows": [], "total": 0, "scope": DATA[lc]["org"],
        "tags": [(DATA[lc]["keywords"][0], 12), (DATA[lc]["keywords"][1], 3)]}),
    ("pool-empty", "pool", lambda lc: {"query": [], "rows": [], "total": 0,
                                       "scope": DATA[lc]["org"], "tags": []}),
    ("pool_tagged", "pool_tagged", lambda lc: {
        "usage": False, "added": [DATA[lc]["keywords"][0]], "removed": [],
        "c": pool_row(lc)}),
    ("pool_tagged-usage", "pool_tagged", lambda lc: {"usage": True}),
    *[(f"pool_suggest-{'demand' if on_demand else 'opened'}", "pool_suggest",
       lambda lc, on_demand=on_demand: {
           "position": {"title": DATA[lc]["position"], "code": "SH1-SM",
                        "org_path": DATA[lc]["org"]},
           "rows": [suggestion(lc)], "on_demand": on_demand, "word": "", "choices": []})
      for on_demand in (True, False)],
    ("pool_suggest-nobody", "pool_suggest", lambda lc: {
        "position": {"title": DATA[lc]["position"], "code": "SH1-SM",
                     "org_path": DATA[lc]["org"]},
        "rows": [], "on_demand": True, "word": "", "choices": []}),
    *[(f"pool_suggest-{'ambiguous' if choices else 'unknown'}", "pool_suggest",
       lambda lc, choices=choices: {
           "position": None, "rows": [], "on_demand": True, "word": DATA[lc]["position"],
           "choices": list(DATA[lc]["ambiguous"]) if choices else []})
      for choices in (True, False)],
    ("bonus", "bonus", lambda lc: {
        "rows": [bonus_row(lc, "open"),
                 bonus_row(lc, "probation", first_over=DATA[lc]["first_referrer"]),
                 bonus_row(lc, "void", note=DATA[lc]["note"], amount=0)],
        "mine": False, "total": 2000, "config": CONFIG}),
    ("bonus-mine_empty", "bonus", lambda lc: {
        "rows": [], "mine": True, "total": 0, "config": {**CONFIG, "bonus_amount": 0}}),
    ("bonus-scope_empty", "bonus",
     lambda lc: {"rows": [], "mine": False, "total": 0, "config": CONFIG}),
    *[(f"bonus_done-{outcome}", "bonus_done", lambda lc, outcome=outcome: {
        "outcome": outcome, "b": bonus_row(lc, "paid", note=DATA[lc]["note"])})
      for outcome in ("paid", "void", "probation", "decided")],
    ("bonus_done-usage", "bonus_done", lambda lc: {"outcome": "usage", "b": None}),
    ("bonus_done-not_found", "bonus_done", lambda lc: {"outcome": "not_found", "b": {"id": 12}}),
    ("bonus_settings", "bonus_settings", lambda lc: {"config": CONFIG, "bad": ""}),
    ("bonus_settings-bad", "bonus_settings", lambda lc: {
        "config": {**CONFIG, "bonus_amount": 0}, "bad": DATA[lc]["vague"]}),
]
CASES += INSIGHT_CASES


def period(locale: str, **overrides: Any) -> dict[str, Any]:
    """A delegation or absence as ``handlers.delegation.commands.period_view`` returns it."""
    d = DATA[locale]
    view: dict[str, Any] = {"id": 7, "person": d["assignee"], "delegate": d["actor"],
                            "first": "12-01", "last": "12-07", "kinds": [], "leave": False,
                            "mine": True, "active": True}
    view.update(overrides)
    return view


REFUSALS = ("usage", "bad_dates", "past", "too_long", "unknown_person", "ambiguous_person",
            "self", "inactive", "out_of_scope", "delegate_busy", "principal_is_delegate",
            "overlap", "not_found", "nothing")
TASK_REFUSALS = ("usage_reassign", "usage_cosign", "usage_consult", "unknown_person",
                 "ambiguous_person", "no_task", "not_holder", "not_assignee", "cannot_act",
                 "is_referrer", "same_person", "inactive", "out_of_scope", "no_cosign",
                 "already_cosigner", "not_asked")
MOVE_REASONS = ("delegate", "return", "reassign", "timeout", "auto_approved")

# Delegation, leave, reassignment, 加签 / 征询, timeouts (handlers.delegation.commands*, timeouts).
DELEGATION_CASES: list[Case] = [
    ("delegation_set", "delegation_set",
     lambda lc: {"p": period(lc), "started": True, "moved": 3}),
    ("delegation_set-later_approvals", "delegation_set",
     lambda lc: {"p": period(lc, kinds=["leader_approval", "feedback"], active=False),
                 "started": False, "moved": 0}),
    ("delegation_set-leave_only", "delegation_set",
     lambda lc: {"p": period(lc, delegate="", leave=True), "started": True, "moved": 0}),
    ("delegation_set-leave_and_delegate", "delegation_set",
     lambda lc: {"p": period(lc, leave=True), "started": True, "moved": 1}),
    ("delegation_notice", "delegation_notice",
     lambda lc: {"p": period(lc, kinds=["hr_review"]), "moved": 2}),
    ("delegation_notice-nothing_moved", "delegation_notice",
     lambda lc: {"p": period(lc), "moved": 0}),
    ("delegation_list", "delegation_list", lambda lc: {"periods": [
        period(lc), period(lc, id=8, mine=False, active=False, kinds=["leader_approval"]),
        period(lc, id=9, delegate="", leave=True, active=False)]}),
    ("delegation_list-empty", "delegation_list", lambda lc: {"periods": []}),
    ("delegation_cancelled", "delegation_cancelled",
     lambda lc: {"p": period(lc, leave=True), "returned": 2}),
    ("delegation_cancelled-nothing_back", "delegation_cancelled",
     lambda lc: {"p": period(lc, delegate=""), "returned": 0}),
    *[(f"delegation_refused-{reason}", "delegation_refused",
       lambda lc, reason=reason: {"reason": reason, "who": DATA[lc]["actor"],
                                  "detail": "12-01 ~ 12-07", "options": ["E010", "E011"]})
      for reason in REFUSALS],
    ("delegation_refused-bare", "delegation_refused", lambda lc: {"reason": "usage"}),
    *[(f"task_moved-{reason}", "task_moved",
       lambda lc, reason=reason: {"reason": reason, "tasks": [referral(lc), bare_referral(lc)],
                                  "to": DATA[lc]["actor"], "by": DATA[lc]["assignee"],
                                  "note": DATA[lc]["note"], "at": T0})
      for reason in MOVE_REASONS],
    ("task_moved-minimal", "task_moved",
     lambda lc: {"reason": "delegate", "tasks": [referral(lc)], "to": DATA[lc]["actor"],
                 "at": T0}),
    ("delegate_acted", "delegate_acted", lambda lc: {
        "r": referral(lc), "outcome": outcome(lc, action="approval.approve",
                                              to_state="interviewing")}),
    ("delegate_acted-final", "delegate_acted", lambda lc: {
        "r": referral(lc, state="rejected"),
        "outcome": outcome(lc, action="approval.reject", to_state="rejected")}),
    ("task_options", "task_options",
     lambda lc: {"r": referral(lc), "can_consult": True, "can_cosign": True}),
    ("task_options-lead", "task_options",
     lambda lc: {"r": referral(lc), "can_consult": False, "can_cosign": False}),
    ("task_consult", "task_consult", lambda lc: {
        "r": referral(lc, state="leader_approval"), "asker": DATA[lc]["assignee"],
        "question": DATA[lc]["note"], "ask_id": 31}),
    ("consult_reply", "consult_reply", lambda lc: {
        "r": referral(lc), "by": DATA[lc]["actor"], "question": DATA[lc]["note"],
        "answer": DATA[lc]["reason"]}),
    *[(f"task_refused-{reason}", "task_refused",
       lambda lc, reason=reason: {"reason": reason, "who": DATA[lc]["actor"], "rid": 12,
                                  "options": ["E010", "E011"]})
      for reason in TASK_REFUSALS],
    ("task_refused-bare", "task_refused", lambda lc: {"reason": "no_task"}),
    # Task cards held for someone else, and outcomes of delegates and of the system.
    *[(f"{name}-on_behalf", name, lambda lc: {"r": referral(lc, on_behalf_of=DATA[lc]["actor"])})
      for name in TASK_CARDS],
    ("action_done-delegate", "action_done", lambda lc: {
        "r": referral(lc), "outcome": outcome(lc, actor_for=DATA[lc]["assignee"])}),
    ("action_done-auto", "action_done", lambda lc: {
        "r": referral(lc), "outcome": outcome(lc, actor="", auto=True)}),
    ("action_done-cosigner", "action_done", lambda lc: {
        "r": referral(lc), "outcome": outcome(lc, action="task.add_approver",
                                              cosigner=DATA[lc]["actor"])}),
    ("action_done-consult", "action_done", lambda lc: {
        "r": referral(lc), "outcome": outcome(lc, action="task.consult",
                                              consultee=DATA[lc]["actor"])}),
    ("progress_notice-auto", "progress_notice", lambda lc: {
        "r": referral(lc), "outcome": outcome(lc, actor="", auto=True)}),
    ("stale_action-delegate", "stale_action", lambda lc: {
        "r": referral(lc, state="interviewing"), "by": DATA[lc]["actor"],
        "by_for": DATA[lc]["assignee"], "auto": False, "moved_to": "", "at": T0,
        "action": "approval.approve"}),
    ("stale_action-moved", "stale_action", lambda lc: {
        "r": referral(lc, state="leader_approval", on_behalf_of=DATA[lc]["assignee"]),
        "by": "", "by_for": "", "auto": False, "moved_to": DATA[lc]["actor"], "at": T0,
        "action": "task.delegate"}),
    ("stale_action-auto", "stale_action", lambda lc: {
        "r": referral(lc, state="interviewing"), "by": "", "by_for": "", "auto": True,
        "moved_to": "", "at": T0, "action": "approval.approve"}),
    *[(f"input_prompt-{requires}", "input_prompt",
       lambda lc, a=action, q=requires: {"r": referral(lc), "action": a, "requires": q})
      for requires, action in (("assignee", "task.reassign"), ("cosigner", "task.add_approver"),
                               ("consultee", "task.consult"),
                               ("opinion", "task.consult_reply"))],
]
CASES += DELEGATION_CASES
# Personal data: consent, erasure, usage and unknown candidate (handlers/privacy/gdpr.py).
CASES += [
    ("privacy-erased", "privacy", lambda lc: {"outcome": "erased", "candidate_id": 7}),
    ("privacy-consent", "privacy", lambda lc: {"outcome": "consent", "referral_id": 12, "at": T0}),
    ("privacy-usage", "privacy", lambda lc: {"outcome": "usage"}),
    ("privacy-not_found", "privacy", lambda lc: {"outcome": "not_found", "candidate_id": 7}),
    # Asked in a group, answered in the asker's 1:1 chat (handlers/referral/progress.py).
    ("sent_privately-progress", "sent_privately", lambda lc: {"what": "progress"}),
    ("sent_privately-todos", "sent_privately", lambda lc: {"what": "todos"}),
]



def context(case: Case, locale: str) -> dict[str, Any]:
    return {"tz": TZ, **case[2](locale)}


def card(name: str, ctx: dict[str, Any], locale: str) -> Card:
    return render_card(name=name, context=ctx, locale=locale)


def raw(name: str, ctx: dict[str, Any], locale: str) -> dict[str, Any]:
    """The JSON a template produced, before ``Card.from_dict`` coerces params to strings."""
    data = json.loads(_render(None, locale, f"{name}.json.j2", ctx))
    assert isinstance(data, dict)
    return data


def visible_text(c: Card) -> str:
    return json.dumps(c.to_dict(), ensure_ascii=False)


def bullets(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith("- ")]


CASE_PARAMS = [pytest.param(case, locale, id=f"{locale}-{case[0]}")
               for case in CASES for locale in LOCALES]


def test_template_list_is_not_empty() -> None:
    assert "review_task" in TEMPLATE_NAMES
    assert len(TEMPLATE_NAMES) >= 30


def test_every_zh_template_has_an_en_counterpart() -> None:
    zh = {p.name for p in ZH_DIR.glob("*.j2")}
    en = {p.name for p in EN_DIR.glob("*.j2")}
    assert zh - en == set()
    assert {"_labels.j2", "_macros.j2", "_candidate.j2"} <= en


def test_every_template_has_a_sample_context() -> None:
    assert {name for _, name, _ in CASES} == set(TEMPLATE_NAMES)
    assert len({case_id for case_id, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("case", "locale"), CASE_PARAMS)
def test_template_renders_a_valid_card(case: Case, locale: str) -> None:
    name = case[1]
    ctx = context(case, locale)
    c = card(name, ctx, locale)
    assert isinstance(c, Card)
    assert isinstance(c.title, str) and c.title.strip()
    assert len(c.buttons) <= MAX_BUTTONS
    for f in c.fields:
        assert f.label.strip() and isinstance(f.value, str)
    for b in c.buttons:
        assert b.action.strip() and b.label.strip()
        assert b.style in {"default", "primary", "danger"}
    # Button params must already be strings in the template output: platform callbacks
    # echo them back verbatim and the handlers compare them as text.
    shown = {str(r["id"]): r for r in ([ctx["r"]] if "r" in ctx else ctx.get("tasks", []))}
    for b in raw(name, ctx, locale)["buttons"]:
        params = b["params"]
        assert all(isinstance(v, str) for v in params.values()), b
        assert params["rid"] in shown
        if b["action"] != "progress.show":
            assert params["v"] == str(shown[params["rid"]]["version"])


@pytest.mark.parametrize(("case", "locale"), CASE_PARAMS)
def test_data_is_escaped_not_interpreted(case: Case, locale: str) -> None:
    ctx = context(case, "tricky")
    c = card(case[1], ctx, locale)
    assert c.title.strip()
    text = visible_text(c)
    assert "{{" not in text.replace("{{ braces }}", "")
    if "r" in ctx and "candidate" in ctx["r"]:
        # The name survives verbatim, quotes, backslashes and line break included.
        assert ctx["r"]["candidate"]["name"] in c.title + "".join(f.value for f in c.fields)


@pytest.mark.parametrize("case", [pytest.param(c, id=c[0]) for c in CASES])
def test_english_output_has_no_chinese(case: Case) -> None:
    ctx = context(case, "en")
    assert not CJK.search(json.dumps(ctx, default=str, ensure_ascii=False)), "sample not ASCII"
    c = card(case[1], ctx, "en")
    assert not CJK.search(visible_text(c)), visible_text(c)


@pytest.mark.parametrize("case", [pytest.param(c, id=c[0]) for c in CASES])
def test_english_locale_uses_its_own_template(case: Case) -> None:
    # Same context in both locales: any difference comes from the templates' own wording,
    # so this fails if the en locale silently falls back to the zh file.
    ctx = context(case, "en")
    zh, en = card(case[1], ctx, "zh"), card(case[1], ctx, "en")
    assert CJK.search(visible_text(zh))
    assert zh != en
    assert [(b.action, b.params, b.style) for b in zh.buttons] == [
        (b.action, b.params, b.style) for b in en.buttons
    ]
    assert len(zh.fields) == len(en.fields)
    assert zh.key == en.key


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("name", "ctx", "missing"),
    [
        ("review_task", {}, "r"),
        ("progress_notice", {"r": referral("en")}, "outcome"),
        ("forbidden", {"referral_id": 12}, "action"),
        ("input_prompt", {"r": referral("en"), "action": "review.reject"}, "requires"),
    ],
)
def test_missing_context_variable_raises(
    name: str, ctx: dict[str, Any], missing: str, locale: str
) -> None:
    with pytest.raises(UndefinedError, match=missing):
        card(name, ctx, locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_missing_nested_key_raises(locale: str) -> None:
    r = referral(locale)
    del r["version"]
    with pytest.raises(UndefinedError, match="version"):
        card("review_task", {"r": r}, locale)


@pytest.mark.parametrize(
    ("locale", "labels"),
    [("zh", ["通过", "需补充", "驳回", "转交/加签"]),
     ("en", ["Approve", "Need more info", "Reject", "Reassign…"])],
)
def test_review_task_buttons(locale: str, labels: list[str]) -> None:
    r = referral(locale, state="hr_review")
    c = card("review_task", {"r": r}, locale)
    assert [b.action for b in c.buttons] == [
        "review.pass", "review.need_info", "review.reject", "task.options"]
    assert [b.label for b in c.buttons] == labels
    assert [b.style for b in c.buttons] == ["primary", "default", "danger", "default"]
    assert all(b.params == {"rid": "12", "v": "3"} for b in c.buttons)
    assert DUE_DT in c.status
    assert r["candidate"]["name"] in c.title and r["position"]["title"] in c.title


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("name", "actions"),
    [
        ("approval_task", ["approval.approve", "approval.reject", "task.options"]),
        ("feedback_task", ["feedback.hire", "feedback.another", "feedback.no", "task.options"]),
        ("interview_task", ["interview.pass", "interview.fail", "feedback.request", "offer.make"]),
        ("offer_task", ["offer.hired", "offer.no_show", "offer.declined"]),
    ],
)
def test_task_card_buttons(name: str, actions: list[str], locale: str) -> None:
    c = card(name, {"r": referral(locale)}, locale)
    assert [b.action for b in c.buttons] == actions
    # Decisions are workflow transitions; approvers also get reassign / add approver.
    assert all(action in TRANSITIONS or action == "task.options" for action in actions)
    assert all(b.params == {"rid": "12", "v": "3"} for b in c.buttons)


def test_interview_task_names_the_next_round() -> None:
    assert card("interview_task", {"r": referral("en", round=2)}, "en").buttons[0].label == (
        "Passed round 3"
    )
    assert card("interview_task", {"r": referral("zh", round=2)}, "zh").buttons[0].label == (
        "第3轮通过"
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_stale_action_names_who_handled_it_and_when(locale: str) -> None:
    by = DATA[locale]["actor"]
    ctx = {"r": referral(locale, state="leader_approval"), "by": by, "at": T0,
           "action": "review.pass"}
    body = card("stale_action", ctx, locale).body
    assert by in body
    assert T0_HM in body and T0_DT in body
    assert {"zh": "HR审核通过", "en": "Pass HR review"}[locale] in body
    expired = card("stale_action", {**ctx, "by": "", "at": None, "action": ""}, locale).body
    assert by not in expired and T0_HM not in expired
    assert {"zh": "已过期", "en": "expired"}[locale] in expired


# What each problem's bullet must name, in problems() order.
EXPECTED_PROBLEM_TEXT = {
    "zh": ["**岗位**", "**姓名**", "**推荐理由**", "**电话或邮箱**", "**电话**", "**邮箱**",
           "**推荐理由**", "**姓名**", "**经历**", "**岗位**", "**岗位**"],
    "en": ["**Position**", "**Name**", "**Referral reason**", "**Phone or email**", "**Phone**",
           "**Email**", "**Referral reason**", "**Name**", "**Experience**", "**position**",
           "**Position**"],
}


@pytest.mark.parametrize("locale", LOCALES)
def test_referral_incomplete_lists_each_problem(locale: str) -> None:
    case = next(c for c in CASES if c[0] == "referral_incomplete")
    ctx = context(case, locale)
    c = card("referral_incomplete", ctx, locale)
    lines = bullets(c.body)
    # One bullet per problem, in order, then one for the unrecognised lines.
    assert len(lines) == len(ctx["problems"]) + 1
    for line, problem, expected in zip(lines, ctx["problems"], EXPECTED_PROBLEM_TEXT[locale],
                                       strict=False):
        assert expected in line, (problem, line)
        if "value" in problem:
            assert problem["value"] in line
        for option in problem.get("options", []):
            assert option in line
    assert ctx["unknown"][0] in lines[-1]
    # Open positions are offered where the position is missing or unknown.
    assert DATA[locale]["position"] in lines[0] and DATA[locale]["position"] in lines[9]
    # Filled-in fields are echoed (empty ones skipped) and long values shortened.
    by_label = {f.label: f.value for f in c.fields}
    assert len(c.fields) == 4
    name_label = {"zh": "姓名", "en": "Name"}[locale]
    assert len(by_label[name_label]) == 60 and by_label[name_label].endswith("…")


@pytest.mark.parametrize("locale", LOCALES)
def test_referral_incomplete_with_nothing_filled_in(locale: str) -> None:
    c = card("referral_incomplete", context(
        next(x for x in CASES if x[0] == "referral_incomplete-empty"), locale), locale)
    assert c.fields == ()
    assert {"zh": "（暂无）", "en": "(none)"}[locale] in bullets(c.body)[0]


@pytest.mark.parametrize("locale", LOCALES)
def test_no_show_categories_pages(locale: str) -> None:
    assert len(NO_SHOW_CATEGORIES) == 7
    r = referral(locale, state="offer")
    ctx = {"r": r, "categories": NO_SHOW_CATEGORIES}
    first = card("no_show_categories", {**ctx, "page": 0}, locale)
    assert len(first.buttons) == 6
    assert [b.params.get("category") for b in first.buttons[:5]] == list(NO_SHOW_CATEGORIES[:5])
    more = first.buttons[5]
    assert more.params == {"rid": "12", "v": "3", "page": "1"}
    assert {"zh": "更多", "en": "More"}[locale] in more.label
    second = card("no_show_categories", {**ctx, "page": 1}, locale)
    assert [b.params.get("category") for b in second.buttons] == list(NO_SHOW_CATEGORIES[5:])
    assert all("page" not in b.params for b in second.buttons)
    buttons = [*first.buttons[:5], *second.buttons]
    assert all(b.action == "offer.no_show" for b in buttons)
    # Every reason has its own label: none is shown as the raw code.
    labels = [b.label for b in buttons]
    assert len(set(labels)) == 7
    assert not set(labels) & set(NO_SHOW_CATEGORIES)


@pytest.mark.parametrize("locale", LOCALES)
def test_referral_duplicate_masks_other_referrer(locale: str) -> None:
    first = DATA[locale]["first_referrer"]
    masked = first[0] + "*" * (len(first) - 1)
    ctx = {"first_referrer": first, "first_at": T0, "candidate": DATA[locale]["candidate"],
           "referral_id": 12}
    other = card("referral_duplicate", {**ctx, "own": False}, locale).body
    assert first not in other
    assert masked in other
    assert T0_DT in other
    own = card("referral_duplicate", {**ctx, "own": True}, locale).body
    assert masked not in own
    assert {"zh": "`进度 12`", "en": "`progress 12`"}[locale] in own


def test_english_check_lines_cover_every_kind_and_outcome() -> None:
    c = card("review_task", {"r": referral("en", state="hr_review")}, "en")
    body = c.body
    for expected in [
        "✅ Retail management: needs ≥3 years, has 4.5 (met)",
        "❌ Store manager experience: needs ≥1 year, has 0.5 (not met)",
        "❔ Store manager experience: needs ≥2 years, no work history given (to be confirmed)",
        "✅ Education: needs Bachelor or above, has Master (met)",
        "❌ Education: needs Bachelor or above, has Associate (not met)",
        "❔ Education: needs Bachelor or above, not provided (to be confirmed)",
        "✅ Foot traffic operations: mentions traffic, community (met)",
        "❌ Foot traffic operations: not mentioned (not met)",
        "✅ Team retention: needs ≥85, has 90% (met)",
        "❔ Team retention: needs ≥85, not provided (to be confirmed)",
    ]:
        assert expected in body, expected
    assert "**Referral reason**: Grew monthly mall traffic by 30%" in body
    assert "2019.03–2022.06 WandaPlaza retail store manager; 2022.07–… InCity" in body
    assert "Store sales grew 25%" in body


def test_chinese_check_lines_cover_every_kind_and_outcome() -> None:
    body = card("review_task", {"r": referral("zh", state="hr_review")}, "zh").body
    for expected in [
        "✅ 零售管理经验：需 ≥3 年，现有 4.5 年（满足）",
        "❔ 店长经验：需 ≥2 年，未提供工作经历（待确认）",
        "❌ 学历：需本科及以上，现为 大专（不满足）",
        "✅ 线下客流运营：已提及 客流、社群（满足）",
        "❌ 线下客流运营：未提及（不满足）",
        "✅ 团队建设（留存率）：需 ≥85，现有 90%（满足）",
    ]:
        assert expected in body, expected


def test_english_shows_canonical_chinese_education_in_english() -> None:
    # The referral parser stores education as a Chinese level even for English input.
    r = referral("en", state="hr_review")
    r["candidate"]["education"] = "本科"
    r["checks"] = [{"label": "Education", "kind": "education", "outcome": "unmet",
                    "required": "本科", "found": "大专", "evidence": []}]
    c = card("review_task", {"r": r}, "en")
    assert dict((f.label, f.value) for f in c.fields)["Education"] == "Bachelor's"
    assert "needs Bachelor's or above, has Associate degree (not met)" in c.body
    assert not CJK.search(visible_text(c))


@pytest.mark.parametrize("locale", LOCALES)
def test_bare_referral_fields_show_placeholders(locale: str) -> None:
    c = card("review_task", {"r": bare_referral(locale)}, locale)
    values = [f.value for f in c.fields]
    assert values[2] == "—"
    assert values[4] == {"zh": "未填写", "en": "Not provided"}[locale]
    assert values[5] == "#12"
    assert c.status == {"zh": "待审核", "en": "Awaiting review"}[locale]


def test_progress_shows_each_step_and_its_duration() -> None:
    c = card("progress", {"r": referral("en")}, "en")
    lines = c.body.splitlines()
    assert lines[:6] == [
        "✔ Submitted · 02-24 10:05 · took 0 min",
        "✔ Awaiting HR review · 02-24 10:05 · took 2.5 hours",
        "✔ Needs more info · 02-24 12:35 · took 2.0 days",
        "✔ Awaiting HR review · 02-26 12:35 · took 45 min",
        "✔ Awaiting leader approval · 02-26 13:20 · took 10.0 hours",
        "▶ Interviewing (1 round passed) · 02-26 23:20 · waiting for 30 min",
    ]
    assert lines[-1] == f"Assigned to: Fiona Wang, due {DUE_DT}"
    assert c.status == "Interviewing"
    finished = card("progress", {"r": referral("en", state="hired")}, "en")
    assert "Assigned to" not in finished.body


def test_progress_zh_shows_each_step_and_its_duration() -> None:
    lines = card("progress", {"r": referral("zh")}, "zh").body.splitlines()
    assert lines[1] == "✔ 待HR审核 · 02-24 10:05 · 用时 2.5 小时"
    assert lines[5] == "▶ 面试中（已通过 1 轮） · 02-26 23:20 · 已等待 30 分钟"


@pytest.mark.parametrize("locale", LOCALES)
def test_progress_list_names_every_state(locale: str) -> None:
    case = next(c for c in CASES if c[0] == "progress_list")
    c = card("progress_list", context(case, locale), locale)
    states = re.findall(r"\*\*(.+?)\*\*", c.body)
    assert len(states) == len(ReferralState)
    assert len(set(states)) == len(ReferralState)
    assert not set(states) & {s.value for s in ReferralState}


@pytest.mark.parametrize("locale", LOCALES)
def test_needs_info_lists_requested_items_and_open_checks(locale: str) -> None:
    r = referral(locale, state="needs_info")
    c = card("needs_info", {"r": r}, locale)
    lines = bullets(c.body)
    items = [f"- {item}" for item in r["requested_items"]]
    assert lines[:2] == items
    open_labels = [f"- {ch['label']}" for ch in r["checks"] if ch["outcome"] != "met"]
    assert lines[2:] == open_labels
    assert {"zh": "`补充 12 内容`", "en": "`supplement 12 details`"}[locale] in c.body


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_every_workflow_action_has_a_label(locale: str, action: str) -> None:
    ctx = {"r": referral(locale), "outcome": outcome(locale, action=action)}
    status = card("action_done", ctx, locale).status
    assert not status.startswith(action)
    assert status.endswith(f" · {DATA[locale]['actor']} · {T0_HM}")


@pytest.mark.parametrize("locale", LOCALES)
def test_action_done_and_notice_show_next_step_only_while_open(locale: str) -> None:
    r = referral(locale, state="leader_approval")
    assignee = DATA[locale]["assignee"]
    open_ctx = {"r": r, "outcome": outcome(locale)}
    assert assignee in card("action_done", open_ctx, locale).body
    notice = card("progress_notice", open_ctx, locale)
    assert assignee in notice.body
    assert [(b.action, b.params) for b in notice.buttons] == [("progress.show", {"rid": "12"})]
    closed = {"r": referral(locale, state="rejected"),
              "outcome": outcome(locale, action="review.reject", to_state="rejected")}
    assert assignee not in card("action_done", closed, locale).body
    assert assignee not in card("progress_notice", closed, locale).body


def test_english_help_uses_english_commands_and_field_names() -> None:
    body = card("help", {}, "en").body
    for command in ("refer", "supplement", "progress", "todo", "positions", "approve",
                    "reject", "needinfo"):
        assert f"`{command}" in body, command
    assert ("position, name, phone, email, education, experience, achievements, reason"
            in body)
    unknown = card("help", {"unknown": "hello there"}, "en").body
    assert unknown.startswith('Sorry, I didn\'t understand "hello there"')
    assert not body.startswith("Sorry")


@pytest.mark.parametrize(
    ("command", "example"),
    [("approve", "`approve 12`"), ("reject", "`reject 12 reason`"), ("needinfo", "`needinfo 12")],
)
def test_english_command_usage_examples(command: str, example: str) -> None:
    assert example in card("command_usage", {"command": command}, "en").body


@pytest.mark.parametrize("locale", LOCALES)
def test_todos_lists_tasks_draft_and_pending(locale: str) -> None:
    case = next(c for c in CASES if c[0] == "todos")
    ctx = context(case, locale)
    c = card("todos", ctx, locale)
    assert "#12 " in c.body and "#15 " in c.body
    assert DATA[locale]["candidate2"] in c.body
    assert {"zh": "驳回", "en": "Reject at HR review"}[locale] in c.body
    assert c.footer
    empty = card("todos", {"tasks": [], "draft": None, "pending": None}, locale)
    assert empty.footer == ""
    assert "#" not in empty.body


@pytest.mark.parametrize("locale", LOCALES)
def test_supplement_usage_lists_waiting_referrals(locale: str) -> None:
    body = card("supplement_usage", {"waiting": [12, 15]}, locale).body
    assert "#12" in body and "#15" in body
    assert {"zh": "`补充 12 内容`", "en": "`supplement 12 details`"}[locale] in body
    none = card("supplement_usage", {"waiting": []}, locale).body
    assert "#" not in none


def test_english_supplement_usage_agrees_in_number() -> None:
    assert "1 referral that needs" in card("supplement_usage", {"waiting": [12]}, "en").body
    assert "2 referrals that need" in card("supplement_usage", {"waiting": [12, 15]}, "en").body


def test_text_card_of_english_review_task() -> None:
    text = text_card(card("review_task", {"r": referral("en", state="hr_review")}, "en"))
    lines = text.splitlines()
    assert lines[0] == "┌ Referral review · Alice Chen · Store Manager"
    assert lines[1] == f"│ « Awaiting review · due {DUE_DT} »"
    assert "│ Candidate: Alice Chen" in lines
    assert "│ [1] Approve  [2] Need more info  [3] Reject  [4] Reassign…" in lines
    assert lines[-1] == "└ You can also reply: approve / needinfo / reject + ID"


def test_text_card_of_chinese_no_show_page() -> None:
    r = referral("zh", state="offer")
    c = card("no_show_categories", {"r": r, "categories": NO_SHOW_CATEGORIES, "page": 0}, "zh")
    text = text_card(c)
    assert text.startswith("┌ 未到岗原因 · 张三\n│ « 请选择最主要的原因 »")
    assert "[1] 薪资" in text and "[6] 更多原因…" in text
    assert text.splitlines()[-1].startswith("└ ")


def test_text_card_of_english_notice_without_buttons() -> None:
    text = text_card(card("not_found", {"referral_id": "99"}, "en"))
    assert text.splitlines() == [
        "┌ Referral not found",
        "│",
        "└ Referral #99 does not exist. Send `progress` to see your referrals and their IDs.",
    ]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", TASK_CARDS)
def test_task_card_reminder_prefix(name: str, locale: str) -> None:
    r = referral(locale)
    plain = card(name, {"r": r}, locale)
    reminded = card(name, {"r": r, "reminder": {"overdue": False, "due_at": DUE}}, locale)
    overdue = card(name, {"r": r, "reminder": {"overdue": True, "due_at": DUE}}, locale)
    prefix = {"zh": "⏰ 催办 · ", "en": "⏰ Reminder · "}[locale]
    late = {"zh": "已超时 · ", "en": "Overdue · "}[locale]
    assert not plain.title.startswith("⏰")
    assert reminded.title == prefix + plain.title
    assert overdue.title == prefix + late + plain.title
    assert reminded.buttons == plain.buttons == overdue.buttons


@pytest.mark.parametrize("locale", LOCALES)
def test_escalation_names_assignee_and_overdue_time(locale: str) -> None:
    assignee = DATA[locale]["assignee"]
    c = card("escalation", {"r": referral(locale, state="hr_review"), "assignee": assignee,
                            "overdue_minutes": 1500}, locale)
    assert assignee in c.status and assignee in c.body
    assert {"zh": "1.0 天", "en": "1.0 days"}[locale] in c.body
    assert DUE_DT in c.body
    assert {"zh": "待HR审核", "en": "Awaiting HR review"}[locale] in c.body
    assert [(b.action, b.params) for b in c.buttons] == [
        ("progress.show", {"rid": "12"}), ("task.reassign", {"rid": "12", "v": "3"})]


@pytest.mark.parametrize("locale", LOCALES)
def test_daily_digest_sections(locale: str) -> None:
    case = next(c for c in CASES if c[0] == "daily_digest")
    c = card("daily_digest", context(case, locale), locale)
    assert T0_DT in c.title
    assert [line.split(" ")[1] for line in bullets(c.body)] == ["#12", "#15", "#12", "#12"]
    assert re.findall(r"\d+", c.status) == ["2", "1", "1"]
    only = card("daily_digest", context(
        next(x for x in CASES if x[0] == "daily_digest-reviews_only"), locale), locale)
    assert len(bullets(only.body)) == 1
    assert only.body.count("**") == 2

