"""The permission matrix walked cell by cell: every demo person x every action x every scope
relation, against an expected table written out here by hand (not derived from the code).

Also: the table agrees with the workflow's transitions, and forged card taps are refused,
change nothing and are logged.
"""

from __future__ import annotations

import csv
import logging

import pytest

from bot.cli.local_chat import LocalChat
from cards.models import Button, Card
from handlers.referral.permissions import CONSENT, ERASE, PERMISSIONS, VIEW, permits
from handlers.referral.workflow import TRANSITIONS, may_act
from storage.db import SessionFactory
from storage.models import Person, Position, Referral
from tests._support.paths import DEMO_PEOPLE_CSV
from tests._support.referrals import referral_at, referral_row, snapshot, submit

PEOPLE_CSV = DEMO_PEOPLE_CSV
CHECKED: dict[str, int] = {"cells": 0, "allowed": 0, "denied": 0}


def _people() -> dict[str, Person]:
    with PEOPLE_CSV.open(encoding="utf-8") as f:
        return {
            row["employee_no"]: Person(
                id=number, employee_no=row["employee_no"], name=row["name"],
                org_path=row["org_path"], roles=row["roles"].split("|"),
            )
            for number, row in enumerate(csv.DictReader(f), start=1)
        }


PEOPLE = _people()
ID = {no: p.id for no, p in PEOPLE.items()}
SH_STORE = Position(id=1, code="SH1-SM", title="店长", org_path="总部/华东/上海一店",
                    hiring_manager_id=ID["E021"], leader_id=ID["E010"])
SZ_STORE = Position(id=2, code="SZ-SM", title="深圳店长", org_path="总部/华南/深圳店",
                    hiring_manager_id=ID["E050"], leader_id=ID["E040"])

# Who may take each kind of action, per scenario. Groups of actions share a role set.
HR = {"review.pass", "review.need_info", "review.reject", "feedback.request", "offer.make",
      "offer.hired", "offer.no_show", "offer.declined", "pool.add"}
LEADER = {"approval.approve", "approval.reject"}
INTERVIEW = {"interview.pass", "interview.fail"}
HM = {"feedback.hire", "feedback.another", "feedback.no"}
REFERRER = {"referral.supplement"}
WITHDRAW = {"referral.withdraw"}
VIEWS = {VIEW}
ERASURE = {ERASE}  # the HQ HR leads (王总, 陈HR总监): the demo's only hr_lead holders
CONSENTS = {CONSENT}
GROUPS = (HR, LEADER, INTERVIEW, HM, REFERRER, WITHDRAW, VIEWS, ERASURE, CONSENTS)

# scenario: (position, referrer, assignee or None, {group index: allowed employee numbers})
# 上海一店 referred by its store manager 张经理 (E020, also a hiring manager there):
#   region HR 李HR and HQ HR 陈HR总监; region leader 赵总 and HQ leader 王总; the store's
#   hiring manager 孙店长; 周经理 (杭州店, other store) and everyone in 华南 (other region): none.
SH = {
    0: {"E002", "E011"},
    1: {"E001", "E010"},
    2: {"E002", "E011", "E021"},
    3: {"E021"},
    4: {"E020"},
    5: {"E020", "E002", "E011"},
    6: {"E001", "E002", "E010", "E011", "E020", "E021"},
    7: {"E001", "E002"},
    8: {"E020"},
}
SCENARIOS: dict[str, tuple[Position, str, str | None, dict[int, set[str]]]] = {
    "sh-unassigned": (SH_STORE, "E020", None, SH),
    # A task routed to the 华南 leader: they may approve it (assigned), and as its assignee
    # answer feedback; still no HR action and no sight of it through a viewer role.
    "sh-assigned-other-region-leader": (SH_STORE, "E020", "E040", {
        **SH, 1: SH[1] | {"E040"}, 2: SH[2] | {"E040"}, 3: SH[3] | {"E040"},
        6: SH[6] | {"E040"},
    }),
    # Assigned to another store's manager (asked for feedback): feedback only, no approval.
    "sh-assigned-other-store": (SH_STORE, "E020", "E030", {
        **SH, 2: SH[2] | {"E030"}, 3: SH[3] | {"E030"}, 6: SH[6] | {"E030"},
    }),
    # Assigned to the referrer themself: assignment gives them nothing beyond referrer rights.
    "sh-assigned-to-referrer": (SH_STORE, "E020", "E020", SH),
    # 深圳店 referred by 周经理 of 杭州店 (华东): 华东 people see nothing of it.
    "sz-referred-from-other-region": (SZ_STORE, "E030", None, {
        0: {"E002", "E041"},
        1: {"E001", "E040"},
        2: {"E002", "E041", "E050"},
        3: {"E050"},
        4: {"E030"},
        5: {"E030", "E002", "E041"},
        6: {"E001", "E002", "E030", "E040", "E041", "E050"},
        7: {"E001", "E002"},
        8: {"E030"},
    }),
    # 深圳店's own hiring manager referred: they may not interview or decide their referral.
    "sz-referred-by-its-hiring-manager": (SZ_STORE, "E050", None, {
        0: {"E002", "E041"},
        1: {"E001", "E040"},
        2: {"E002", "E041"},
        3: set(),
        4: {"E050"},
        5: {"E050", "E002", "E041"},
        6: {"E001", "E002", "E040", "E041", "E050"},
        7: {"E001", "E002"},
        8: {"E050"},
    }),
}


def test_table_agrees_with_the_workflow() -> None:
    for action, transition in TRANSITIONS.items():
        assert PERMISSIONS[action] == transition.roles, action
    assert set().union(*GROUPS) == set(PERMISSIONS)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_cell(scenario: str) -> None:
    position, referrer, assignee, expected = SCENARIOS[scenario]
    referral = Referral(id=9, candidate_id=1, position_id=position.id or 0, reason="",
                        referrer_id=ID[referrer],
                        assignee_id=ID[assignee] if assignee else None)
    wrong = []
    for index, group in enumerate(GROUPS):
        for action in sorted(group):
            for no, person in PEOPLE.items():
                allowed = permits(person, PERMISSIONS[action], referral, position)
                assert allowed == may_act(person, PERMISSIONS[action], referral, position)
                if allowed != (no in expected[index]):
                    wrong.append((action, no, person.name, allowed))
                CHECKED["cells"] += 1
                CHECKED["allowed" if allowed else "denied"] += 1
    assert wrong == []


def test_a_regional_hr_lead_erases_only_in_their_region() -> None:
    lead = Person(id=99, employee_no="E099", name="华南HR负责人", org_path="总部/华南",
                  roles=["hr", "hr_lead"])
    for position, allowed in ((SH_STORE, False), (SZ_STORE, True)):
        referral = Referral(id=9, candidate_id=1, position_id=position.id or 0, reason="",
                            referrer_id=ID["E030"])
        assert permits(lead, PERMISSIONS[ERASE], referral, position) is allowed
        CHECKED["cells"] += 1


def test_a_delegate_acts_only_for_whom_they_hold_the_task() -> None:
    referral = Referral(id=9, candidate_id=1, position_id=1, reason="",
                        referrer_id=ID["E020"], assignee_id=ID["E041"])
    roles = PERMISSIONS["approval.approve"]
    # 吴HR (华南, no leader role) holds 赵总's approval while 赵总 is away.
    assert permits(PEOPLE["E041"], roles, referral, SH_STORE, acting_for=PEOPLE["E010"])
    assert not permits(PEOPLE["E041"], roles, referral, SH_STORE)
    # Holding a task for someone who may not approve either gives nothing.
    assert not permits(PEOPLE["E041"], roles, referral, SH_STORE, acting_for=PEOPLE["E011"])
    # The referrer never approves their own referral, whoever they hold it for.
    mine = Referral(id=9, candidate_id=1, position_id=1, reason="",
                    referrer_id=ID["E020"], assignee_id=ID["E020"])
    assert not permits(PEOPLE["E020"], roles, mine, SH_STORE, acting_for=PEOPLE["E010"])
    CHECKED["cells"] += 4


FORGED = Card(title="伪造的卡片")


@pytest.mark.parametrize(("actor", "action"), [
    ("E041", "review.pass"),  # HR of 华南 with the id of a 华东 referral
    ("E020", "review.pass"),  # the referrer approving their own referral
    ("E030", "progress.show"),  # another store's manager peeking at a referral
])
async def test_forged_card_action_is_refused_and_logged(
    actor: str, action: str, chat: LocalChat, demo: SessionFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rid = await referral_at(chat, demo, "hr_review")
    before = await snapshot(demo, rid)
    version = (await referral_row(demo, rid)).version
    button = Button("x", action, {"rid": str(rid), "v": str(version)})
    with caplog.at_level(logging.INFO, logger="hrbot.dispatch"):
        sent = await chat.tap(actor, FORGED, button)
    assert [(m.target, m.card.title) for m in sent] == [(actor, "没有权限")]
    assert await snapshot(demo, rid) == before
    lines = [r.getMessage() for r in caplog.records if r.name == "hrbot.dispatch"]
    assert any(f"action:{action}!forbidden" in line for line in lines), lines
    # The log names the event, never the candidate's phone.
    assert not any("13800138000" in line for line in lines)


async def test_store_manager_cannot_read_another_stores_referral(
    chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await submit(chat)
    sent = await chat.say("E030", f"进度 {rid}")
    assert [m.card.title for m in sent] == ["没有权限"]
    sent = await chat.say("E050", f"附件 {rid}")
    assert [m.card.title for m in sent] == ["没有权限"]
    sent = await chat.say("E021", f"进度 {rid}")  # the store's own hiring manager may
    assert sent[0].card.title != "没有权限"
