"""The generic workflow engine, seen through its first workflow: concurrent taps (one wins on
SQLite and PostgreSQL), separation of duties, typed card actions that fit both platforms, and
definitions that refuse to name unknown states."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

import handlers.workflow.engine as engine
from bot.cli.local_chat import LocalChat
from bot.core.context import Context, Settings
from bot.core.errors import UserFacingError
from bot.core.events import Conversation, Event, EventKind, Platform
from cards.models import Button, Card
from cards.render_dingtalk import card_param_map
from cards.render_wecom import decode_button_key, template_card
from handlers.workflow.actions import CaseAction
from handlers.workflow.definition import Step, Workflow, transition
from storage.db import SessionFactory
from storage.models import Case, Person
from tests._support.clock import FakeClock
from tests._support.referrals import only_card, share_messenger
from tests._support.transfers import APPLY, case_events, case_row, live_card

BOTH = pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
POSTGRES = pytest.mark.parametrize("db_kind", ["postgres"], indirect=True)


@pytest.fixture
async def replicas(chat: LocalChat, demo: SessionFactory) -> tuple[LocalChat, LocalChat]:
    two = LocalChat(session_factory=demo, settings=chat.settings, clock=chat.clock)
    share_messenger(chat, two)
    return chat, two


async def assert_one_step(demo: SessionFactory) -> None:
    row = await case_row(demo, 1)
    assert (row.state, row.version) == ("hr_approval", 2)
    assert [e.action for e in await case_events(demo, 1)] == ["open", "dept_approve"]


@BOTH
async def test_two_taps_at_once_on_two_replicas_one_step(
    replicas: tuple[LocalChat, LocalChat], demo: SessionFactory
) -> None:
    one, two = replicas
    await one.say("E020", APPLY)
    card = live_card(one, "E010")
    start = len(one.messenger.sent)

    await asyncio.gather(one.tap("E010", card, "审核通过"), two.tap("E010", card, "审核通过"))

    await assert_one_step(demo)
    sent = one.messenger.sent[start:]
    assert [m.target for m in sent if m.card.status.startswith("待你人事审批")] == ["E011"]
    stale = [m.card for m in sent if m.card.title == "已处理 · 调岗申请 #1"]
    assert len(stale) == 1 and stale[0].body.startswith("已由 赵总 于 09:30")


@POSTGRES
async def test_race_decided_by_the_conditional_update(
    replicas: tuple[LocalChat, LocalChat], demo: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both taps pass every check on version 1 before either writes: the UPDATE picks one."""
    one, two = replicas
    await one.say("E020", APPLY)
    card = live_card(one, "E010")
    both_read = asyncio.Barrier(2)
    outcomes: list[bool] = []
    real_move = engine.move_case

    async def move_after_both_read(**kw: object) -> bool:
        await asyncio.wait_for(both_read.wait(), timeout=10)
        moved = await real_move(**kw)  # type: ignore[arg-type]
        outcomes.append(moved)
        return moved

    monkeypatch.setattr(engine, "move_case", move_after_both_read)
    await asyncio.gather(one.tap("E010", card, "审核通过"), two.tap("E010", card, "审核通过"))

    assert sorted(outcomes) == [False, True]
    await assert_one_step(demo)


async def _set_active(demo: SessionFactory, employee_no: str, active: bool) -> None:
    async with demo() as session:
        row = (await session.exec(select(Person).where(Person.employee_no == employee_no))).one()
        row.active = active
        session.add(row)
        await session.commit()


async def test_nobody_decides_two_gates_of_one_case(chat: LocalChat, demo: SessionFactory) -> None:
    await chat.say("E020", APPLY)
    await chat.tap("E010", live_card(chat, "E010"), "审核通过")
    # 赵总 decided the department review; a task moved back to him is still refused.
    async with demo() as session:
        case = await session.get(Case, 1)
        assert case is not None
        case.assignee_id = (await session.exec(
            select(Person.id).where(Person.employee_no == "E010"))).one()
        session.add(case)
        await session.commit()
    forged = Card(title="x", buttons=(Button(
        label="审批通过", action="transfer.hr_approve", params={"case": "1", "v": "2"}),))

    sent = await chat.tap("E010", forged, "审批通过")

    assert "同一申请的两道审批不能由同一人完成" in only_card(sent, "不能由你处理这一步").body
    assert (await case_row(demo, 1)).state == "hr_approval"


async def test_a_gate_with_nobody_left_to_decide_it_changes_nothing(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", APPLY)
    await chat.tap("E010", live_card(chat, "E010"), "审核通过")
    await _set_active(demo, "E001", False)  # 赵总 decided a gate; 王总 has left

    sent = await chat.tap("E011", live_card(chat, "E011"), "审批通过")

    assert only_card(sent, "找不到领导签字的处理人").status == "未执行"
    row = await case_row(demo, 1)
    assert (row.state, row.version) == ("hr_approval", 2)
    assert live_card(chat, "E011").buttons  # the HR card is still live


def test_case_action_round_trip_through_both_platforms() -> None:
    act = CaseAction("transfer.hr_approve", 12, 3, {"note": "好"})
    card = Card(title="t", key="case-12-hr_approval", buttons=(
        Button(label="审批通过", action=act.action, params=act.pack()),))

    # WeCom template_card button_list[].key (developer.work.weixin.qq.com/document/path/90236).
    key = template_card(card, task_id="case-12-hr_approval")["button_list"][0]["key"]
    action, params = decode_button_key(key)
    assert CaseAction.unpack(action, params) == act
    assert '"case":"12"' in card_param_map(card)["buttons"].replace(" ", "")


def test_case_action_checks_size_and_names_when_packed() -> None:
    with pytest.raises(ValueError, match=r"do not fit|exceeds"):
        CaseAction("transfer.reject", 1, 1, {"note": "很长" * 400}).pack()
    with pytest.raises(ValueError, match="reserved"):
        CaseAction("transfer.reject", 1, 1, {"v": "2"}).pack()
    for forged in ({"case": "1"}, {"case": "x", "v": "1"}, {}):
        with pytest.raises(UserFacingError):
            CaseAction.unpack("transfer.reject", forged)


def test_a_definition_naming_an_unknown_state_fails_at_import() -> None:
    with pytest.raises(ValueError, match="approve names"):
        Workflow(
            name="demo", initial="review",
            steps={"review": Step("review", assignee="subject_lead")},
            transitions={"approve": transition("approve", {"review"}, "done", {"assignee"})},
            terminal=frozenset({"closed"}),
        )


# A step that keeps its state (an interview round, a co-signature): only the version tells
# two taps on one card apart.
ROUNDS = Workflow(
    name="transfer", initial="dept_review",
    steps={"dept_review": Step("dept_review", assignee="subject_lead", gate=False)},
    transitions={"round": transition("round", {"dept_review"}, "dept_review", {"assignee"})},
    terminal=frozenset(),
)


async def _tap_round(demo: SessionFactory, clock: FakeClock, n: int) -> str:
    async with demo() as session:
        lead = (await session.exec(select(Person).where(Person.employee_no == "E010"))).one()
        case = await session.get(Case, 1)
        assert case is not None
        event = Event(platform=Platform.SHELL, event_id=f"round-{n}", kind=EventKind.CARD_ACTION,
                      actor_id="E010", conversation=Conversation(id="E010"))
        ctx = Context(event=event, session=session, person=lead, now=clock.now,
                      settings=Settings())
        try:
            await engine.apply_action(ctx, ROUNDS, case, "round", version=1)
        except engine.StaleCase:
            return "stale"
        await session.commit()
        return "moved"


@POSTGRES
async def test_same_state_steps_race_on_the_version_alone(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await chat.say("E020", APPLY)  # case 1, at dept_review with 赵总, version 1
    both_read = asyncio.Barrier(2)
    real_move = engine.move_case

    async def move_after_both_read(**kw: object) -> bool:
        await asyncio.wait_for(both_read.wait(), timeout=10)
        return await real_move(**kw)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "move_case", move_after_both_read)
    outcomes = await asyncio.gather(_tap_round(demo, clock, 1), _tap_round(demo, clock, 2))

    assert sorted(outcomes) == ["moved", "stale"]
    row = await case_row(demo, 1)
    assert (row.state, row.version) == ("dept_review", 2)
    assert [e.action for e in await case_events(demo, 1)] == ["open", "round"]
