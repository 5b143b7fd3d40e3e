"""Staff transfers (调岗) on the workflow engine, played as the people involved: the applicant,
the three approvers, the receiving store manager and HR. Each test looks at the cards each
person sees, and at what the case left in the database."""

from __future__ import annotations

from bot.cli.local_chat import LocalChat
from storage.db import SessionFactory
from tests._support.clock import FakeClock
from tests._support.referrals import field_value, only_card
from tests._support.transfers import (
    APPLY,
    approve_all,
    case_due,
    case_events,
    case_row,
    cases,
    live_card,
    org_history,
    person,
)

TITLE = "调岗申请 · 调岗 · 张经理 · 上海一店 → 杭州店"


async def test_three_steps_then_the_org_changes_on_the_effective_day(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    sent = await chat.say("E020", APPLY)

    submitted = only_card(sent, "调岗申请已提交 · 调岗 · 张经理 · 上海一店 → 杭州店")
    assert submitted.status == "已到部门审核（赵总）"
    task = only_card(sent, TITLE)
    assert [m.target for m in sent if m.card is task] == ["E010"]
    assert task.status == "待你部门审核 · 截止 03-05 09:30"
    assert [b.label for b in task.buttons] == ["审核通过", "驳回"]
    assert field_value(task, "期限") == "至 2026-06-30"

    sent = await chat.tap("E010", task, "审核通过")
    # The finished step's card loses its buttons and says who did what, when.
    done = [m for m in sent if m.target == "E010"]
    assert [(m.kind, m.card.key, m.card.status, m.card.buttons) for m in done] == [
        ("card_update", task.key, "部门审核通过 · 赵总 · 09:30", ())]
    assert only_card(sent, "调岗申请进展 · 调岗 · 张经理 · 上海一店 → 杭州店").body.startswith(
        "部门审核通过，现在到人事审批（李HR）")
    # 进度 of the applicant: "my transfer is at HR".
    mine = only_card(await chat.say("E020", "调岗"), "我的调岗申请")
    assert mine.body == "- #1 调岗 · 张经理 · 上海一店 → 杭州店：已到人事审批（李HR）"

    waiting = only_card(await chat.say("E011", "调岗"), "我的调岗申请").body
    assert waiting.endswith("**待我处理**\n- #1 调岗 · 张经理 · 上海一店 → 杭州店：人事审批，截止 "
                            "03-05 09:30（发送 `调岗 1` 取回审批卡片）")
    again = await chat.say("E011", "调岗 1")  # the timeline, and the live task card again
    assert [c.card.buttons != () for c in again] == [False, True]
    await chat.tap("E011", again[1].card, "审批通过")
    signoff = live_card(chat, "E001")
    assert signoff.status.startswith("待你领导签字")
    sent = await chat.tap("E001", signoff, "签字同意")
    told = [m.target for m in sent if m.card.title.startswith("调岗申请进展")]
    assert sorted(told) == ["E020", "E030"]  # the applicant and the receiving store manager
    row = await case_row(demo, 1)
    assert (row.state, row.version, row.assignee_id) == ("approved", 4, None)
    zhang = await person(demo, "E020")
    assert zhang.org_path == "总部/华东/上海一店"  # not before the effective day

    clock.advance(days=6, hours=20)  # 03-10 05:30 local: the day has come
    sent = await chat.tick()
    arrived = only_card(sent, "新同事到岗 · 张经理 · 杭州店")
    assert [m.target for m in sent if m.card is arrived] == ["E030"]
    assert arrived.status == "自 2026-03-10 起至 2026-06-30在你的单位"
    zhang = await person(demo, "E020")
    assert zhang.org_path == "总部/华东/杭州店"
    history = await org_history(demo, zhang.id or 0)
    assert [(h.org_path, h.ends_at is None, h.case_id) for h in history] == [
        ("总部/华东/上海一店", False, None), ("总部/华东/杭州店", True, 1)]
    assert [e.action for e in await case_events(demo, 1)] == [
        "open", "dept_approve", "hr_approve", "sign", "take_effect"]
    timeline = only_card(await chat.say("E020", "调岗 1"), TITLE.replace(
        "调岗申请 · ", "调岗申请 #1 · "))
    assert timeline.status == "已生效"
    assert "系统：调岗生效（已批准·待生效用时 6.8 天）" in timeline.body


async def test_a_stale_tap_says_who_handled_it_and_changes_nothing(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", APPLY)
    card = live_card(chat, "E010")
    await chat.tap("E010", card, "审核通过")

    sent = await chat.tap("E010", card, "审核通过")

    stale = only_card(sent, "已处理 · 调岗申请 #1")
    assert stale.body.startswith("已由 赵总 于 09:30（03-03 09:30）处理：部门审核通过。")
    assert "当前状态：人事审批（李HR）" in stale.body
    assert (await case_row(demo, 1)).version == 2
    assert len(await case_events(demo, 1)) == 2


async def test_reject_asks_for_a_reason_and_tells_the_applicant(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", APPLY)
    await chat.tap("E010", live_card(chat, "E010"), "审核通过")
    card = live_card(chat, "E011")

    prompt = only_card(await chat.tap("E011", card, "驳回"), "驳回 · 调岗申请 #1")
    assert prompt.body.startswith("请直接回复原因")
    assert (await case_row(demo, 1)).state == "hr_approval"
    cancelled = only_card(await chat.say("E011", "取消"), "已取消")
    assert cancelled.body == "已取消：驳回，没有做任何改动。"
    assert (await case_row(demo, 1)).state == "hr_approval"

    await chat.tap("E011", card, "驳回")
    sent = await chat.say("E011", "杭州店编制已满")

    assert (await case_row(demo, 1)).state == "rejected"
    told = [m for m in sent if m.target == "E020"]
    assert len(told) == 1 and "原因：杭州店编制已满" in told[0].card.body
    assert told[0].card.status == "驳回 · 李HR · 09:30"
    assert [d.cancelled for d in await case_due(demo, 1)] == [True] * 6


async def test_reminders_and_escalation_of_a_waiting_step(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E020", APPLY)

    clock.advance(hours=24)
    sent = await chat.tick()
    assert [(m.target, m.card.title) for m in sent] == [
        ("E010", "⏰ 催办 · 调岗申请 · 调岗 · 张经理 · 上海一店 → 杭州店")]
    clock.advance(hours=24)
    sent = await chat.tick()
    assert sorted((m.target, m.card.title.split(" · ")[0]) for m in sent) == [
        ("E001", "超时未处理"), ("E010", "⏰ 催办")]

    # Once the step is done, its ladder is cancelled: nothing more fires for it.
    await chat.tap("E010", live_card(chat, "E010"), "审核通过")
    clock.advance(hours=1)
    assert [m.target for m in await chat.tick()] == []


async def test_fixed_term_ends_with_return_to_hq_as_the_same_workflow_again(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E020", APPLY)
    await approve_all(chat)
    clock.advance(days=7)
    await chat.tick()

    clock.advance(days=110)  # 06-23 09:30: a week before the term ends
    sent = await chat.tick()
    asks = [m for m in sent if m.card.title == "调岗即将到期 · 张经理 · 杭州店"]
    assert sorted(m.target for m in asks) == ["E011", "E030"]  # HR and the store manager
    assert [b.label for b in asks[0].card.buttons] == ["延期", "返回总部"]

    sent = await chat.tap("E030", asks[0].card, "返回总部")
    back = only_card(sent, "调岗申请 · 返回原单位 · 张经理 · 杭州店 → 上海一店")
    assert [m.target for m in sent if m.card is back] == ["E010"]
    closed = [m for m in sent if m.card.key == asks[0].card.key]
    assert sorted((m.target, m.card.buttons) for m in closed) == [("E011", ()), ("E030", ())]
    # The second HR tap on the old card answers and opens nothing.
    sent = await chat.tap("E011", asks[0].card, "延期")
    assert "到期安排已经处理过了" in only_card(sent, "调岗申请未提交").body
    assert len(await cases(demo)) == 2

    await approve_all(chat)
    clock.advance(days=7)  # 06-30, the end of the term
    await chat.tick()
    first, second = await cases(demo)
    assert (first.state, second.state) == ("ended", "in_effect")
    assert (await person(demo, "E020")).org_path == "总部/华东/上海一店"


async def test_who_may_read_the_case_follows_the_person(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    """Store managers see their own store's people only; HQ HR sees all; the receiving store
    manager sees the case from sign-off on, the old one no longer once the person has left."""
    await chat.say("E020", APPLY)
    await approve_all(chat)

    def reads(sent: list) -> str:
        return sent[0].card.title.split(" · ")[0]

    before = {who: reads(await chat.say(who, "调岗 1")) for who in ("E021", "E030", "E041",
                                                                   "E002")}
    assert before == {"E021": "调岗申请 #1", "E030": "调岗申请 #1", "E041": "没有权限",
                      "E002": "调岗申请 #1"}
    clock.advance(days=7)
    await chat.tick()
    after = {who: reads(await chat.say(who, "调岗 1")) for who in ("E021", "E030", "E041",
                                                                  "E002")}
    assert after == {"E021": "没有权限", "E030": "调岗申请 #1", "E041": "没有权限",
                     "E002": "调岗申请 #1"}


async def test_the_applicant_withdraws_with_a_reason(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", APPLY)
    card = live_card(chat, "E010")

    assert only_card(await chat.say("E020", "调岗 撤回 1"), "撤回 · 调岗申请 #1")
    sent = await chat.say("E020", "调岗 撤回 1 杭州店已招到人")

    assert (await case_row(demo, 1)).state == "withdrawn"
    # The department review card in 赵总's chat no longer offers buttons.
    assert [(m.target, m.kind, m.card.buttons) for m in sent if m.card.key == card.key] == [
        ("E010", "card_update", ())]
    assert "原因：杭州店已招到人" in only_card(
        await chat.say("E020", "调岗 1"), TITLE.replace("调岗申请 · ", "调岗申请 #1 · ")).body


async def test_an_approver_on_leave_hands_the_step_to_their_delegate(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E010", "休假 03-03 至 03-09 委托 王总")

    sent = await chat.say("E020", APPLY)

    task = only_card(sent, TITLE)
    assert [m.target for m in sent if m.card is task] == ["E001"]
    assert task.status == "代 赵总 · 待你部门审核 · 截止 03-05 09:30"
    sent = await chat.tap("E001", task, "审核通过")
    done = [m.card for m in sent if m.target == "E001" and m.card.key == task.key]
    assert done[0].status == "部门审核通过 · 王总（代 赵总） · 09:30"
    decided = (await case_events(demo, 1))[-1]
    ids = {p: (await person(demo, p)).id for p in ("E001", "E010")}
    assert (decided.actor_id, decided.data["actor_for"]) == (ids["E001"], ids["E010"])
    # 赵总, back early, taps nothing new: his principal's gate is decided.
    stale = only_card(await chat.tap("E010", task, "审核通过"), "已处理 · 调岗申请 #1")
    assert stale.body.startswith("已由 王总（代 赵总） 于 09:30")


async def test_escalation_skips_a_lead_on_leave(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E020", APPLY)
    await chat.say("E001", "休假 03-03 至 03-20")  # 赵总's lead is away

    clock.advance(hours=48)
    sent = await chat.tick()

    assert [(m.target, m.card.title.split(" · ")[0]) for m in sent
            if m.card.title.startswith("超时未处理")] == [("E002", "超时未处理")]


async def test_time_per_step_for_hr_in_scope(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E020", APPLY)
    clock.advance(hours=3)
    await chat.tap("E010", live_card(chat, "E010"), "审核通过")
    clock.advance(hours=26)
    await chat.tap("E011", live_card(chat, "E011"), "审批通过")

    stats = only_card(await chat.say("E011", "调岗 统计"), "调岗申请各环节用时 · 总部/华东")
    assert stats.body.splitlines() == [
        "- 部门审核：1 次，中位 3.0 小时，P90 3.0 小时",
        "- 人事审批：1 次，中位 1.1 天，P90 1.1 天",
        "- 领导签字：暂无已完成的记录",
    ]
    # 华南's HR sees nothing of 华东; a store manager may not ask.
    south = only_card(await chat.say("E041", "调岗 统计"), "调岗申请各环节用时 · 总部/华南")
    assert "部门审核：暂无已完成的记录" in south.body
    assert only_card(await chat.say("E030", "调岗 统计"), "没有权限")
