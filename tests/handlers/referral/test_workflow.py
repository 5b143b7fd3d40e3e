"""The referral workflow end to end through the chat: every transition of
``handlers.referral.workflow.TRANSITIONS`` allowed and refused, text commands, typed input, SLA
due items and stale cards. Each test reads back the Referral row, the audit trail and the cards
sent."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeAlias

import pytest

from bot.cli.local_chat import LocalChat
from cards.models import Button, Card
from handlers.referral.workflow import TRANSITIONS
from storage.db import SessionFactory
from storage.models import Candidate
from tests._support.clock import FakeClock
from tests._support.referrals import (
    ACTION_LABELS,
    FEEDBACK_BUTTONS,
    REFER_SA,
    STATE_LABELS,
    act,
    due_items_of,
    events_of,
    field_value,
    hhmm,
    only_card,
    pending_input_of,
    person_ids,
    referral_at,
    referral_row,
    snapshot,
    submit,
    task_card,
    titles,
)
from tests._support.workflow_cases import (
    BAD_COMMANDS,
    CASES,
    COMMANDS,
    FORBIDDEN,
    NAMES,
    WRONG_STATE,
    Case,
)

Chat: TypeAlias = LocalChat  # short annotations for the fixtures every test takes
DB: TypeAlias = SessionFactory
TERMINAL = {"hired", "rejected", "withdrawn", "no_show"}
FORGED = Card(title="伪造的卡片")


def test_every_transition_has_a_test() -> None:
    covered = {c.action for c in CASES} | {"offer.no_show", "referral.withdraw"}
    assert covered == set(TRANSITIONS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.action)
async def test_allowed_transition(case: Case, chat: Chat, demo: DB, clock: FakeClock) -> None:
    rid = await referral_at(chat, demo, case.stage)
    before, ids = await referral_row(demo, rid), await person_ids(demo)
    clock.advance(minutes=17)
    tapped = None
    if case.label is None:
        assert case.text is not None
        sent = await chat.say(case.actor, case.text.format(rid=rid))
    else:
        tapped = await task_card(chat, demo, rid, case.actor)
        sent = await chat.tap(case.actor, tapped, case.label)
        if case.text is not None:  # the button asks for a reason first and changes nothing yet
            prompt = only_card(sent, f"{ACTION_LABELS[case.action]} · 张三")
            assert prompt.status == "等待你的回复"
            assert (await referral_row(demo, rid)).version == before.version
            sent = await chat.say(case.actor, case.text)

    row = await referral_row(demo, rid)
    assert row.state == case.to_state
    assert row.version == before.version + 1
    assert row.assignee_id == (ids[case.assignee] if case.assignee else None)
    assert row.updated_at == clock.now
    assert row.closed_at == (clock.now if case.to_state in TERMINAL else None)
    event = (await events_of(demo, rid))[-1]
    assert (event.action, event.from_state, event.to_state, event.actor_id) == (
        case.action, before.state, case.to_state, ids[case.actor])
    assert (event.data["from_version"], event.data["version"]) == (before.version, row.version)
    if case.text and case.label:
        assert event.note == case.text  # as typed, full-width punctuation too (issue 16)
    assert await pending_input_of(demo, case.actor) is None

    status = f"{ACTION_LABELS[case.action]} · {NAMES[case.actor]} · {hhmm(clock.now)}"
    if tapped is not None:  # the tapped card is replaced in place by the outcome
        in_chat = [c for c in chat.inbox(case.actor) if c.key == tapped.key]
        assert len(in_chat) == 1
        shown = in_chat[0]
        assert (shown.title, shown.status, shown.buttons) == ("张三 · 店长", status, ())
        assert [m.kind for m in sent if m.card.key == tapped.key] == ["card_update"]
    else:
        replies = [m for m in sent if m.kind != "card_update"]
        assert only_card(replies, "张三 · 店长").status == status
        # The step's task card is closed too, though nobody tapped it (issue 16).
        closed = [m.card for m in sent if m.kind == "card_update"
                  and m.card.title != "推荐已提交 · 张三"]
        assert closed and all((c.status, c.buttons) == (status, ()) for c in closed)
    tasks = [m for m in sent if m.card.key and m.card.key.startswith(f"r{rid}v{row.version}-")]
    if case.task is None:
        assert tasks == []
    else:
        who, title, buttons = case.task
        assert [(m.target, m.card.title) for m in tasks] == [(who, title)]
        assert tuple(b.label for b in tasks[0].card.buttons) == buttons
        assert {b.params["v"] for b in tasks[0].card.buttons} <= {str(row.version)}
    notices = [m for m in sent if m.card.title == "推荐进展 · 张三 · 店长"]
    if "E020" in (case.actor, case.assignee):
        assert notices == []
    else:
        assert [(m.target, m.card.status[:len(STATE_LABELS[case.to_state])]) for m in notices] == [
            ("E020", STATE_LABELS[case.to_state])]


@pytest.mark.parametrize("actor", ["E020", "E011"])
async def test_withdraw_by_button(actor: str, chat: Chat, demo: DB, clock: FakeClock) -> None:
    rid = await referral_at(chat, demo, "leader_approval")  # no card offers it: a forged button
    withdraw = Button("撤回", "referral.withdraw", {"rid": str(rid), "v": "2"})
    sent = await chat.tap(actor, FORGED, withdraw)
    assert titles([m.card for m in sent]) == ["撤回推荐 · 张三"]
    sent = await chat.say(actor, "候选人已另有安排")
    row = await referral_row(demo, rid)
    assert (row.state, row.version, row.assignee_id) == ("withdrawn", 3, None)
    assert row.closed_at == clock.now
    event = (await events_of(demo, rid))[-1]
    assert (event.action, event.from_state, event.note) == (
        "referral.withdraw", "leader_approval", "候选人已另有安排")
    assert all(d.done_at is not None for d in await due_items_of(demo, rid))
    replies = [m for m in sent if m.kind != "card_update"]
    assert only_card(replies, "张三 · 店长").status.startswith("撤回推荐")
    # The leader's approval card closes with it, and so does the actor's prompt (issue 16).
    closed = [m for m in sent if m.kind == "card_update" and m.card.title == "张三 · 店长"]
    assert sorted((m.target, m.card.key.split("-")[1], m.card.buttons) for m in closed) == [
        ("E010", "approval_task", ()), (actor, "prompt", ())]


@pytest.mark.parametrize(("stage", "actor", "owner", "label"), FORBIDDEN)
async def test_refused_without_permission(
    stage: str, actor: str, owner: str, label: str, chat: Chat, demo: DB
) -> None:
    rid = await referral_at(chat, demo, stage)
    card = await task_card(chat, demo, rid, owner)
    action = next(b.action for b in card.buttons if b.label == label)
    before = await snapshot(demo, rid)
    sent = await chat.tap(actor, card, label)
    assert [(m.target, m.card.title) for m in sent] == [(actor, "没有权限")]
    assert field_value(sent[0].card, "操作") == ACTION_LABELS[action]
    assert await snapshot(demo, rid) == before
    assert await pending_input_of(demo, actor) is None
    assert await task_card(chat, demo, rid, owner) == card  # still actionable by its owner


@pytest.mark.parametrize(("stage", "actor", "action"), WRONG_STATE)
async def test_forged_button_in_wrong_state_is_stale(
    stage: str, actor: str, action: str, chat: Chat, demo: DB
) -> None:
    rid = await referral_at(chat, demo, stage)
    version = (await referral_row(demo, rid)).version
    before = await snapshot(demo, rid)
    button = Button("x", action, {"rid": str(rid), "v": str(version)})
    sent = await chat.tap(actor, FORGED, button)
    assert [(m.target, m.card.title) for m in sent] == [(actor, "已处理 · 张三")]
    assert sent[0].card.body.startswith("这张卡片已过期，这次点击没有做任何改动。")
    assert sent[0].card.status == STATE_LABELS[stage if stage != "feedback" else "interviewing"]
    assert await snapshot(demo, rid) == before
    assert await pending_input_of(demo, actor) is None


async def test_repeated_tap_is_stale_naming_who(chat: Chat, demo: DB, clock: FakeClock) -> None:
    rid = await submit(chat)
    card = await task_card(chat, demo, rid, "E011")
    first = hhmm(clock.now)
    await chat.tap("E011", card, "通过")
    after_first = await snapshot(demo, rid)
    clock.advance(minutes=45)
    for who in ("E011", "E002"):  # a double tap, and a colleague's late tap on the same card
        sent = await chat.tap(who, card, "通过")
        assert [(m.target, m.card.title) for m in sent] == [(who, "已处理 · 张三")]
        assert sent[0].card.body.startswith(
            f"已由 李HR 于 {first}（03-03 {first}）处理：HR审核通过。这次点击没有做任何改动。")
        assert "当前状态：待领导审批（赵总）" in sent[0].card.body
        assert await snapshot(demo, rid) == after_first


async def test_typed_reason_after_someone_else_acted_is_stale(chat: Chat, demo: DB) -> None:
    rid = await submit(chat)
    await act(chat, demo, rid, "E011", "驳回")
    assert (await pending_input_of(demo, "E011")) is not None
    await chat.say("E002", f"通过 {rid}")
    before = await snapshot(demo, rid)
    sent = await chat.say("E011", "零售经验不足")
    assert titles([m.card for m in sent]) == ["已处理 · 张三"]
    assert "已由 陈HR总监 于" in sent[0].card.body
    assert await snapshot(demo, rid) == before
    assert await pending_input_of(demo, "E011") is None


async def test_cancel_while_asked_for_a_reason(chat: Chat, demo: DB) -> None:
    rid = await submit(chat)
    before = await snapshot(demo, rid)
    sent = await act(chat, demo, rid, "E011", "驳回")
    prompt = only_card(sent, "HR驳回 · 张三")
    assert prompt.body == "请直接回复原因。回复“取消”放弃这次操作。"
    pending = await pending_input_of(demo, "E011")
    assert pending is not None and pending.action == "review.reject"
    assert pending.params["rid"] == str(rid)
    sent = await chat.say("E011", "取消")
    assert only_card(sent, "已取消").body == "已取消：HR驳回，没有做任何改动。"
    assert await pending_input_of(demo, "E011") is None
    sent = await chat.say("E011", "零售经验不足")  # no longer taken as the reason
    assert "已处理 · 张三" not in titles([m.card for m in sent])
    assert await snapshot(demo, rid) == before
    assert (await task_card(chat, demo, rid, "E011")).buttons  # the review card is still live


@pytest.mark.parametrize(("stage", "actor", "text", "action", "to_state", "note"), COMMANDS)
async def test_text_command_picks_the_action_of_the_state(
    stage: str, actor: str, text: str, action: str, to_state: str, note: str, chat: Chat, demo: DB
) -> None:
    rid = await referral_at(chat, demo, stage)
    before, ids = await referral_row(demo, rid), await person_ids(demo)
    sent = await chat.say(actor, text.format(rid=rid))
    row = await referral_row(demo, rid)
    assert (row.state, row.version) == (to_state, before.version + 1)
    event = (await events_of(demo, rid))[-1]
    assert (event.action, event.actor_id, event.note) == (action, ids[actor], note)
    if action == "review.need_info":
        assert event.data["items"] == ["近三年业绩", "离职原因"]
    if text.startswith("面试 {rid} 通过"):
        assert (event.data["score"], row.interview_round) == (85, 1)
    done = [m for m in sent if m.target == actor and m.card.title == "张三 · 店长"]
    # The answer to the command, and (issue 16) the step's task card closed where it went.
    assert [m.kind for m in done if m.kind == "card"] == ["card"]
    assert all(m.card.status.startswith(ACTION_LABELS[action]) for m in done)
    assert [m for m in sent if m.kind == "card_update" and m.card.buttons
            and not m.card.key.endswith("-submitted")] == []


@pytest.mark.parametrize(("actor", "text", "title"), BAD_COMMANDS)
async def test_bad_text_command(actor: str, text: str, title: str, chat: Chat, demo: DB) -> None:
    rid = await submit(chat)
    before = await snapshot(demo, rid)
    sent = await chat.say(actor, text.format(rid=rid))
    assert [(m.target, m.card.title) for m in sent] == [(actor, title)]
    assert await snapshot(demo, rid) == before


async def test_supplement_turns_unmet_requirements_met(chat: Chat, demo: DB) -> None:
    """Reference scenario R1: 1 year of retail found, HR asks, the manager adds the earlier job."""
    rid = await submit(chat, "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%\n"
                             "经历: 2024.03-2025.03 某商场 零售 楼层经理")
    review = await task_card(chat, demo, rid, "E011")
    assert "❌ 零售管理经验：需 ≥3 年，现有 1.1 年（不满足）" in review.body
    assert "❌ 店长经验" in review.body
    await chat.say("E011", f"需补充 {rid} 近三年业绩；店长经历")
    asked = await task_card(chat, demo, rid, "E020")
    assert "- 近三年业绩\n- 店长经历" in asked.body and "- 零售管理经验" in asked.body
    sent = await chat.say("E020", "补充 经历: 2019.01-2023.12 万达广场 零售 店长")
    assert (await referral_row(demo, rid)).state == "hr_review"
    rechecked = await task_card(chat, demo, rid, "E011")
    assert [m.card for m in sent if m.target == "E011"] == [rechecked]
    assert "✅ 零售管理经验：需 ≥3 年，现有 6.1 年（满足）" in rechecked.body
    assert "✅ 店长经验：需 ≥1 年，现有 5.0 年（满足）" in rechecked.body
    async with demo() as session:
        candidate = await session.get(Candidate, 1)
        assert candidate is not None and len(candidate.work_history) == 2
    await chat.tap("E011", rechecked, "通过")
    assert (await referral_row(demo, rid)).state == "leader_approval"


async def test_sla_due_items_follow_the_stage(chat: Chat, demo: DB, clock: FakeClock) -> None:
    submitted = clock.now
    rid = await submit(chat)
    ids = await person_ids(demo)
    due = await due_items_of(demo, rid)
    assert sorted((d.kind, d.due_at - submitted) for d in due) == [
        ("sla.escalate", timedelta(hours=24)), ("sla.remind", timedelta(hours=12)),
        ("sla.remind", timedelta(hours=24))]
    assert all(d.done_at is None and d.referral_id == rid for d in due)
    assert {d.payload["assignee_id"] for d in due} == {ids["E011"]}
    clock.advance(hours=2)
    await act(chat, demo, rid, "E011", "通过")
    items = await due_items_of(demo, rid)
    old = [d for d in items if d.id in {x.id for x in due}]
    assert [(d.done_at, d.cancelled) for d in old] == [(clock.now, True)] * 3
    new = [d for d in items if d.done_at is None]
    assert sorted((d.kind, d.due_at - clock.now) for d in new) == [
        ("sla.escalate", timedelta(hours=72)), ("sla.remind", timedelta(hours=36)),
        ("sla.remind", timedelta(hours=72))]
    assert {(d.payload["stage"], d.payload["assignee_id"], d.payload["version"]) for d in new} == {
        ("leader_approval", ids["E010"], 2)}
    assert (await referral_row(demo, rid)).stage_due_at == clock.now + timedelta(hours=72)
    await act(chat, demo, rid, "E010", "同意")  # interviewing has no SLA clock
    assert [d for d in await due_items_of(demo, rid) if d.done_at is None] == []


async def test_position_without_leader_approval_skips_it(chat: Chat, demo: DB) -> None:
    rid = await submit(chat, REFER_SA, by="E030")
    sent = await act(chat, demo, rid, "E011", "通过")
    row = await referral_row(demo, rid)
    assert (row.state, row.version, row.assignee_id) == (
        "interviewing", 2, (await person_ids(demo))["E011"])
    event = (await events_of(demo, rid))[-1]
    assert (event.action, event.from_state, event.to_state) == (
        "review.pass", "hr_review", "interviewing")
    assert [(m.target, m.card.title) for m in sent if m.card.buttons and m.target != "E030"] == [
        ("E011", "面试安排 · 李四 · 导购")]
    assert chat.inbox("E010") == []
    assert [d for d in await due_items_of(demo, rid) if d.done_at is None] == []


async def test_full_path_to_hired(chat: Chat, demo: DB) -> None:
    rid = await submit(chat)
    for who, label, text in [("E011", "通过", None), ("E010", "同意", None),
                             ("E011", "第1轮通过", None), ("E011", "第2轮通过", None),
                             ("E011", "请用人经理反馈", None), ("E021", "录用", "符合要求"),
                             ("E011", "已入职", None)]:
        await act(chat, demo, rid, who, label, text)
    row = await referral_row(demo, rid)
    assert (row.state, row.version, row.interview_round, row.assignee_id) == ("hired", 8, 2, None)
    assert [e.action for e in await events_of(demo, rid)] == [
        "referral.submit", "referral.route", "review.pass", "approval.approve", "interview.pass",
        "interview.pass", "feedback.request", "feedback.hire", "offer.hired"]
    assert [d for d in await due_items_of(demo, rid) if d.done_at is None] == []
    notices = [c.status for c in chat.inbox("E020") if c.title.startswith("推荐进展")]
    assert notices[-1] == "已入职" and "面试中（第2轮面试已通过）" in notices
    assert all(not c.buttons for c in chat.inbox("E011") if c.key and c.key.startswith(f"r{rid}"))


@pytest.mark.parametrize(("pages", "label", "category"), [
    (0, "家庭原因", "family"), (1, "原单位挽留/竞争对手", "counter_offer")])
async def test_no_show_records_a_category(
    pages: int, label: str, category: str, chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await referral_at(chat, demo, "offer")
    before = await snapshot(demo, rid)
    sent = await act(chat, demo, rid, "E011", "未到岗")
    choice = only_card(sent, "未到岗原因 · 张三")
    assert [b.label for b in choice.buttons] == [
        "薪资", "团队氛围/缺少带教", "发展路径不清", "通勤", "家庭原因", "更多原因…"]
    for _ in range(pages):
        choice = only_card(await chat.tap("E011", choice, "更多原因…"), "未到岗原因 · 张三")
    if pages:
        assert [b.label for b in choice.buttons] == ["原单位挽留/竞争对手", "其他"]
    assert await snapshot(demo, rid) == before  # choosing a page changes nothing
    sent = await chat.tap("E011", choice, label)
    row = await referral_row(demo, rid)
    assert (row.state, row.no_show_reason, row.closed_at, row.version) == (
        "no_show", category, clock.now, 5)
    event = (await events_of(demo, rid))[-1]
    assert (event.action, event.from_state, event.data["category"]) == (
        "offer.no_show", "offer", category)
    assert only_card(sent, "推荐进展 · 张三 · 店长").status == "未到岗"


# --- Regressions: each test below was written for a bug that has since been fixed.


@pytest.mark.parametrize(("actor", "title"), [("E041", "没有权限"), ("E020", "已处理 · 张三")])
async def test_supplement_outside_needs_info_changes_nothing(
    actor: str, title: str, chat: Chat, demo: DB
) -> None:
    rid = await submit(chat)  # in hr_review: nothing waits for a supplement
    sent = await chat.say(actor, f"补充 {rid} 学历: 博士\n经历: 2010.01-2020.01 某商场 零售 店长")
    assert titles([m.card for m in sent]) == [title]
    async with demo() as session:
        candidate = await session.get(Candidate, 1)
        assert candidate is not None
        assert (candidate.education, candidate.work_history) == (None, [])


async def test_stale_forged_tap_out_of_scope_is_refused(chat: Chat, demo: DB) -> None:
    rid = await submit(chat)
    await act(chat, demo, rid, "E011", "通过")
    sent = await chat.tap("E041", FORGED, Button("x", "review.pass", {"rid": str(rid), "v": "1"}))
    assert titles([m.card for m in sent]) == ["没有权限"]


async def test_no_show_replaces_the_offer_card_in_place(chat: Chat, demo: DB) -> None:
    rid = await referral_at(chat, demo, "offer")
    offer = await task_card(chat, demo, rid, "E011")
    choice = only_card(await chat.tap("E011", offer, "未到岗"), "未到岗原因 · 张三")
    await chat.tap("E011", choice, "薪资")
    shown = next(c for c in chat.inbox("E011") if c.key == offer.key)
    assert shown.buttons == () and shown.status.startswith("登记未到岗")


async def test_feedback_is_not_requested_from_the_referrer(chat: Chat, demo: DB) -> None:
    rid = await submit(chat, REFER_SA)  # 张经理 refers to 导购, whose hiring manager is 张经理
    await act(chat, demo, rid, "E011", "通过")
    await act(chat, demo, rid, "E011", "请用人经理反馈")
    ids = await person_ids(demo)
    assert (await referral_row(demo, rid)).assignee_id == ids["E021"]  # the store's other HM


async def test_stand_in_hiring_manager_gets_the_feedback_card(chat: Chat, demo: DB) -> None:
    rid = await submit(chat, REFER_SA)
    await act(chat, demo, rid, "E011", "通过")
    await act(chat, demo, rid, "E011", "请用人经理反馈")  # goes to 孙店长, standing in for 张经理
    card = await task_card(chat, demo, rid, "E021")
    assert (card.title, [b.label for b in card.buttons]) == (
        "候选人反馈 · 李四 · 导购", list(FEEDBACK_BUTTONS))
    await act(chat, demo, rid, "E021", "录用", "符合要求")
    assert (await referral_row(demo, rid)).state == "offer"


async def test_supplement_keeps_every_experience_line(chat: Chat, demo: DB) -> None:
    rid = await referral_at(chat, demo, "needs_info")
    await chat.say("E020", f"补充 {rid} 经历: 2016.03-2019.12 万达广场 零售 楼层经理\n"
                           "经历: 2020.01-2025.12 银泰百货 百货 店长")
    async with demo() as session:
        candidate = await session.get(Candidate, 1)
        assert candidate is not None and len(candidate.work_history) == 2


async def test_command_without_action_in_that_state_out_of_scope_is_refused(
    chat: Chat, demo: DB
) -> None:
    rid = await referral_at(chat, demo, "needs_info")
    sent = await chat.say("E041", f"通过 {rid}")
    assert titles([m.card for m in sent]) == ["没有权限"]
