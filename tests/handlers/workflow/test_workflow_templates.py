"""Every workflow and transfer card renders in both locales from realistic views: valid cards,
English with no Chinese of its own, and buttons whose typed payloads survive both platforms."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from cards.render import TEMPLATE_ROOT, render_card
from cards.render_dingtalk import card_param_map
from cards.render_wecom import template_card
from handlers.transfer.definition import TRANSFER
from handlers.transfer.effects import ending_buttons
from handlers.workflow.cards import task_buttons
from storage.models import Case

CJK = re.compile(r"[\u4e00-\u9fff]")
AT = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)
NAMES = {"zh": ("张经理", "李HR", "赵总"), "en": ("Zhang", "Li", "Zhao")}
ORGS = {
    "zh": ("总部/华东/上海一店", "总部/华东/杭州店"),
    "en": ("HQ/East/Shanghai", "HQ/East/Hangzhou"),
}
TEMPLATES = sorted(
    f"{folder}/{p.name.removesuffix('.json.j2')}"
    for folder in ("workflow", "transfer")
    for p in (TEMPLATE_ROOT / "zh" / folder).glob("*.json.j2")
)


def case_row(locale: str, state: str = "hr_approval", kind: str = "move") -> Case:
    home, store = ORGS[locale]
    return Case(
        id=7, workflow="transfer", subject="person:1", subject_person_id=1, state=state,
        version=2, assignee_id=2, org_path=home, created_by=1,
        data={"kind": kind, "from_org": home, "to_org": store, "home_org": home,
              "effective": "2026-03-10", "until": "2026-06-30",
              "reason": "support" if locale == "en" else "支援新店开业", "previous": None},
    )


def view(locale: str, case: Case) -> dict[str, Any]:
    subject, assignee, _ = NAMES[locale]
    return {"id": case.id, "wf": "transfer", "state": case.state, "version": case.version,
            "subject": subject, "applicant": subject, "assignee": assignee,
            "acting_for": NAMES[locale][2],
            "due_at": AT, "org_path": case.org_path, "data": dict(case.data),
            "closed": case.state in TRANSFER.terminal, "created_at": AT}


def sample(name: str, locale: str) -> dict[str, Any]:
    case = case_row(locale)
    actor = NAMES[locale][2]
    note = "full" if locale == "en" else "编制已满"
    o = {"action": "reject", "by": actor, "by_for": NAMES[locale][0], "at": AT, "note": note}
    base: dict[str, Any] = {"wf": "transfer", "c": view(locale, case), "tz": "Asia/Shanghai"}
    extra: dict[str, dict[str, Any]] = {
        "workflow/task": {"buttons": task_buttons(TRANSFER, case)},
        "workflow/done": {"step": "hr_approval", "o": o},
        "workflow/notice": {"o": o},
        "workflow/stale": {"by": actor, "by_for": NAMES[locale][0], "at": AT,
                           "action": "hr_approve", "auto": False},
        "workflow/forbidden": {"case_id": 7},
        "workflow/separation": {"case_id": 7},
        "workflow/not_found": {"case_id": 7},
        "workflow/no_assignee": {"state": "leader_signoff"},
        "workflow/input_prompt": {"action": "reject", "requires": "reason"},
        "workflow/input_cancelled": {"action": "reject"},
        "workflow/list": {"rows": [view(locale, case)], "waiting": [view(locale, case)]},
        "workflow/timeline": {"events": [
            {"action": "open", "from": "", "to": "dept_review", "actor": actor, "auto": False,
             "note": "", "at": AT, "minutes": 0},
            {"action": "reject", "from": "hr_approval", "to": "rejected", "actor": actor,
             "auto": False, "note": o["note"], "at": AT, "minutes": 1500}]},
        "workflow/reminder": {"overdue": True},
        "workflow/stats": {"scope": ORGS[locale][0], "rows": [
            {"state": "dept_review", "n": 3, "median": 90, "p90": 1500},
            {"state": "hr_approval", "n": 0, "median": None, "p90": None}]},
        "transfer/ending": {"buttons": ending_buttons(case_row(locale, "in_effect"))},
        "transfer/ending_done": {"choice": "return", "by": actor, "at": AT},
        "transfer/refused": {"why": "already_open", "person": NAMES[locale][0], "case_id": 3,
                             "typed": "x"},
        "transfer/usage": {"missing": ["date", "reason"], "typed": "x"},
    }
    return {**base, **extra.get(name, {})}


@pytest.mark.parametrize("locale", ["zh", "en"])
@pytest.mark.parametrize("name", TEMPLATES)
def test_card_renders_in_both_locales(name: str, locale: str) -> None:
    card = render_card(name=name, context=sample(name, locale), locale=locale)

    assert card.title.strip()
    text = " ".join([card.title, card.status, card.body, card.footer,
                     *(f.label + f.value for f in card.fields), *(b.label for b in card.buttons)])
    if locale == "en":
        assert not CJK.search(text), text
    else:
        assert CJK.search(card.title)
    for button in card.buttons:
        assert set(button.params) == {"case", "v"} and button.params["case"] == "7"
    if card.buttons:  # both platforms accept the card as rendered
        template_card(card, task_id="case-7-hr_approval")
        card_param_map(card)


def test_every_zh_card_has_an_en_counterpart() -> None:
    for folder in ("workflow", "transfer"):
        zh = {p.name for p in (TEMPLATE_ROOT / "zh" / folder).glob("*.j2")}
        en = {p.name for p in (TEMPLATE_ROOT / "en" / folder).glob("*.j2")}
        assert zh == en, folder


def test_task_card_offers_the_definitions_buttons() -> None:
    case = case_row("zh", "leader_signoff")
    card = render_card(name="workflow/task", context={
        **sample("workflow/task", "zh"), "c": view("zh", case),
        "buttons": task_buttons(TRANSFER, case)})
    assert [(b.label, b.action, b.style) for b in card.buttons] == [
        ("签字同意", "transfer.sign", "primary"), ("驳回", "transfer.reject", "danger")]
    assert card.status == "代 赵总 · 待你领导签字 · 截止 03-03 09:30"
