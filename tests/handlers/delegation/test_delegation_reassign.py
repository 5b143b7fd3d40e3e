"""Reassign (转交), add an approver (加签) and ask an opinion (征询) from the task card, by the
holder of the task or, for reassigning, their lead or an HR lead (from the escalation card)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.cli.local_chat import LocalChat
from storage.db import SessionFactory
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.referrals import (
    events_of,
    field_value,
    only_card,
    person_ids,
    referral_at,
    referral_row,
    snapshot,
    submit,
    task_card,
)


async def test_reassign_from_the_card_moves_deadline_and_reminders(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    ids = await person_ids(demo)
    rid = await referral_at(chat, demo, "leader_approval")
    before = await referral_row(demo, rid)
    due_before = sorted((d.kind, d.due_at) for d in await db.pending_due(demo, rid))
    clock.advance(hours=3)

    card = await task_card(chat, demo, rid, "E010")
    options = only_card(await chat.tap("E010", card, "转交/加签"), "转交/加签 · 张三 · 店长")
    assert [b.label for b in options.buttons] == ["转交", "征询意见", "加签"]
    prompt = only_card(await chat.tap("E010", options, "转交"), "转交 · 张三")
    assert "接手人的姓名" in prompt.body
    sent = await chat.say("E010", "王总 出差期间由他审批")

    row = await referral_row(demo, rid)
    assert (row.state, row.assignee_id, row.version) == (
        "leader_approval", ids["E001"], before.version + 1)
    assert row.stage_due_at == before.stage_due_at  # the deadline moved with the task
    due_after = await db.pending_due(demo, rid)
    assert sorted((d.kind, d.due_at) for d in due_after) == due_before
    assert {d.payload["assignee_id"] for d in due_after} == {ids["E001"]}
    assert {d.payload["version"] for d in due_after} == {row.version}
    move = (await events_of(demo, rid))[-1]
    assert (move.action, move.actor_id, move.note, move.data["from_assignee_id"]) == (
        "task.reassign", ids["E010"], "出差期间由他审批", ids["E010"])
    new_card = only_card(sent, "推荐审批 · 张三 · 店长")
    assert [m.target for m in sent if m.card is new_card] == ["E001"]
    assert not new_card.status.startswith("代 ")
    done = only_card(sent, "张三 · 店长")
    assert done.status.startswith("转交 · 赵总 · ")
    assert "下一步：待领导审批（王总）" in done.body
    # The referrer's progress names the new holder; the old card answers where it went.
    progress = only_card(await chat.say("E020", f"进度 {rid}"), "推荐进度 · 张三 · 店长")
    assert "当前处理人：王总" in progress.body
    stale = only_card(await chat.tap("E010", card, "同意"), "已处理 · 张三")
    assert stale.body.startswith("这项待办已于") and "转给 王总 处理（赵总 操作）" in stale.body
    await chat.tap("E001", new_card, "同意")
    assert (await referral_row(demo, rid)).state == "interviewing"


async def test_hr_lead_reassigns_from_the_escalation_card(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    ids = await person_ids(demo)
    rid = await submit(chat)
    clock.advance(hours=24)
    sent = await chat.tick()
    escalation = next(m.card for m in sent
                      if m.target == "E002" and m.card.title.startswith("超时"))
    assert [b.label for b in escalation.buttons] == ["查看进度", "转交他人"]
    await chat.tap("E002", escalation, "转交他人")
    sent = await chat.say("E002", "陈HR总监")
    row = await referral_row(demo, rid)
    assert row.assignee_id == ids["E002"]
    # Overdue when it moved: the new holder gets a fresh SLA, not an instant escalation.
    assert row.stage_due_at == clock.now + timedelta(hours=24)
    due = await db.pending_due(demo, rid)
    assert [(d.kind, d.due_at - clock.now) for d in due] == [
        ("sla.remind", timedelta(hours=12)), ("sla.remind", timedelta(hours=24)),
        ("sla.escalate", timedelta(hours=24))]
    assert {d.payload["assignee_id"] for d in due} == {ids["E002"]}
    # Issue 16: besides the notice, each card of the task 李HR held is closed the same way.
    closed = [m for m in sent if m.kind == "card_update" and m.target == "E011"]
    assert closed and all(m.card.title == "待办已转交 · 陈HR总监" for m in closed)
    sent = [m for m in sent if m.kind != "card_update"]
    told = only_card(sent, "待办已转交 · 陈HR总监")
    assert [m.target for m in sent if m.card is told] == ["E011"]
    assert "陈HR总监 把以下待办转交给了 陈HR总监" in told.body


@pytest.mark.parametrize(
    ("who", "text", "expected"),
    [
        ("E010", "转交 {rid} 李HR", "李HR 没有处理这一步的权限"),  # HR is no leader
        ("E010", "转交 {rid} 钱总", "钱总 没有处理这一步的权限"),  # leader of another region
        ("E010", "转交 {rid} 张经理", "张经理 是这条推荐的推荐人"),
        ("E010", "转交 {rid} 赵总", "赵总 已经是当前处理人"),
        ("E010", "转交 {rid} 无名氏", "通讯录里没有「无名氏」"),
        ("E011", "转交 {rid} 王总", "只有当前处理人、TA 的上级或 HR 负责人可以转交"),
        ("E010", "转交 {rid}", "请这样写：`转交 12 王总`"),
        ("E001", "加签 {rid} 王总", "只有当前处理人可以加签或征询意见"),
        ("E010", "征询 {rid} 王总", "请这样写：`征询 12 王总"),
        ("E010", "征询 {rid} 吴HR 合适吗", "吴HR 不在这个岗位的组织范围内"),
    ],
)
async def test_refused_moves_change_nothing(
    who: str, text: str, expected: str, chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await referral_at(chat, demo, "leader_approval")
    before = await snapshot(demo, rid)
    sent = await chat.say(who, text.format(rid=rid))
    assert expected in only_card(sent, "没有执行").body
    assert await snapshot(demo, rid) == before


async def test_added_approver_approves_after_the_assignee(
    chat: LocalChat, demo: SessionFactory
) -> None:
    ids = await person_ids(demo)
    rid = await referral_at(chat, demo, "leader_approval")
    sent = await chat.say("E010", f"加签 {rid} 王总")
    assert "加签人：王总（你同意后由 TA 审批）" in only_card(sent, "张三 · 店长").body
    sent = await chat.tap("E010", await task_card(chat, demo, rid, "E010"), "同意")
    row = await referral_row(demo, rid)
    assert (row.state, row.assignee_id) == ("leader_approval", ids["E001"])
    assert only_card(sent, "张三 · 店长").status.startswith("同意（待加签人审批） · 赵总")
    notice = only_card(sent, "推荐进展 · 张三 · 店长")
    assert notice.status == "待领导审批"
    await chat.tap("E001", await task_card(chat, demo, rid, "E001"), "同意")
    row = await referral_row(demo, rid)
    assert row.state == "interviewing"
    approvals = [e for e in await events_of(demo, rid) if e.action == "approval.approve"]
    assert [(e.actor_id, e.data.get("cosigned", False)) for e in approvals] == [
        (ids["E010"], True), (ids["E001"], False)]


async def test_added_approver_can_still_reject(chat: LocalChat, demo: SessionFactory) -> None:
    rid = await referral_at(chat, demo, "leader_approval")
    await chat.say("E010", f"加签 {rid} 王总")
    await chat.tap("E010", await task_card(chat, demo, rid, "E010"), "同意")
    await chat.tap("E001", await task_card(chat, demo, rid, "E001"), "驳回")
    await chat.say("E001", "编制已满")
    assert (await referral_row(demo, rid)).state == "rejected"


async def test_asking_an_opinion_keeps_the_task_and_brings_the_answer_back(
    chat: LocalChat, demo: SessionFactory
) -> None:
    ids = await person_ids(demo)
    rid = await referral_at(chat, demo, "leader_approval")
    before = await referral_row(demo, rid)
    sent = await chat.say("E010", f"征询 {rid} 王总 这位候选人的薪资预期是否合适？")
    question = only_card(sent, "请你给意见 · 张三 · 店长")
    assert [m.target for m in sent if m.card is question] == ["E001"]
    # The question is shown as typed, full-width question mark included (issue 16).
    assert "**赵总 问**：这位候选人的薪资预期是否合适？" in question.body
    assert "已请 王总 回复意见" in only_card(sent, "张三 · 店长").body
    row = await referral_row(demo, rid)
    assert (row.version, row.assignee_id) == (before.version, ids["E010"])

    prompt = only_card(await chat.tap("E001", question, "回复意见"), "回复意见 · 张三")
    assert "你的意见" in prompt.body
    sent = await chat.say("E001", "在区域标准以内 可以")
    answer = only_card(sent, "征询回复 · 张三 · 店长")
    assert [m.target for m in sent if m.card is answer] == ["E010"]
    assert "**王总**：在区域标准以内 可以" in answer.body
    again = await chat.tap("E001", question, "回复意见")
    assert "不是发给你的，或已回复过" in only_card(again, "没有执行").body
    assert [e.action for e in await events_of(demo, rid)][-2:] == [
        "task.consult", "task.consult_reply"]


async def test_a_lead_sees_only_reassign_on_the_options_card(
    chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await referral_at(chat, demo, "leader_approval")
    card = await task_card(chat, demo, rid, "E010")
    options = only_card(await chat.tap("E001", card, "转交/加签"), "转交/加签 · 张三 · 店长")
    assert [b.label for b in options.buttons] == ["转交"]  # 王总 is 赵总's lead
    assert field_value(options, "编号") == f"#{rid}"
