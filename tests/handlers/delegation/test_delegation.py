"""Delegation (委托) and leave (休假) through the chat: waiting and new tasks go to the delegate,
cards and the audit trail name both people, old cards answer who acted, the delegation ends
or is cancelled and tasks come back, and the rules (scope, one hop, own referral) hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.cli.local_chat import LocalChat
from storage.db import SessionFactory
from storage.models import AwayPeriod, DueItem
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.referrals import (
    events_of,
    hhmm,
    only_card,
    person_ids,
    referral_at,
    referral_row,
    submit,
    task_card,
    titles,
)


def refer(n: int) -> str:
    return f"推荐 店长 候选{n} 1380013800{n} 曾将社区商场月客流提升30%"


async def waiting_for_leader(chat: LocalChat, demo: SessionFactory, count: int) -> list[int]:
    return [await referral_at(chat, demo, "leader_approval", refer(n)) for n in range(count)]


async def test_leader_on_leave_for_a_week_three_referrals_approved_by_the_delegate(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    ids = await person_ids(demo)
    rids = await waiting_for_leader(chat, demo, 3)
    old_cards = [await task_card(chat, demo, rid, "E010") for rid in rids]

    sent = await chat.say("E010", "休假 03-03 至 03-09 委托 王总")

    confirm = only_card(sent, "已登记休假并委托 · 王总")
    assert confirm.status == "03-03 至 03-09"
    assert "你现有的 3 项待办已转给 王总" in confirm.body
    assert only_card(sent, "赵总 委托你代办").body.startswith("赵总 在 03-03 至 03-09 期间")
    delegated = [m.card for m in sent
                 if m.target == "E001" and m.card.title.startswith("推荐审批")]
    assert len(delegated) == 3
    assert all(c.status.startswith("代 赵总 审批 · ") for c in delegated)
    for rid in rids:
        row = await referral_row(demo, rid)
        assert (row.state, row.assignee_id) == ("leader_approval", ids["E001"])
        move = (await events_of(demo, rid))[-1]
        assert (move.action, move.data["assignee_for"], move.data["from_assignee_id"]) == (
            "task.delegate", ids["E010"], ids["E010"])

    clock.advance(hours=2)
    for rid in rids:
        sent = await chat.tap("E001", await task_card(chat, demo, rid, "E001"), "同意")
        shown = next(c for c in chat.inbox("E001") if c.title.endswith("· 店长")
                     and c.status.startswith("领导审批通过"))
        assert shown.status == f"领导审批通过 · 王总（代 赵总） · {hhmm(clock.now)}"
        told = only_card(sent, f"代办进展 · 候选{rids.index(rid)} · 店长")
        assert told.status == "王总 代你处理 · 领导审批通过"
        assert [m.target for m in sent if m.card is told] == ["E010"]
        row = await referral_row(demo, rid)
        assert row.state == "interviewing"
        approval = (await events_of(demo, rid))[-1]
        # The audit trail names both: who decided, and for whom.
        assert (approval.action, approval.actor_id, approval.data["actor_for"]) == (
            "approval.approve", ids["E001"], ids["E010"])

    clock.advance(days=5)  # back from leave, 赵总 taps the cards still in his chat
    for card in old_cards:
        sent = await chat.tap("E010", card, "同意")
        stale = only_card(sent, card.title.replace("推荐审批 · ", "已处理 · ").split(" · 店长")[0])
        hm = hhmm(clock.now - timedelta(days=5))
        assert stale.body.startswith(f"已由 王总（代 赵总） 于 {hm}")
        assert "处理：领导审批通过。这次点击没有做任何改动。" in stale.body
    for rid in rids:
        assert (await referral_row(demo, rid)).state == "interviewing"


async def test_new_referral_goes_to_the_delegate_of_its_hr(
    chat: LocalChat, demo: SessionFactory
) -> None:
    ids = await person_ids(demo)
    await chat.say("E011", "委托 陈HR总监 03-03 至 03-05 审核")
    sent = await chat.say("E020", refer(7))
    rid = int(next(f.value for m in sent for f in m.card.fields if f.label == "编号")[1:])
    row = await referral_row(demo, rid)
    assert row.assignee_id == ids["E002"]
    review = only_card(sent, "推荐审核 · 候选7 · 店长")
    assert review.status.startswith("代 李HR 审核 · 待审核")
    assert [m.target for m in sent if m.card is review] == ["E002"]
    moved = only_card(sent, "待办已转给代办人 · 陈HR总监")
    assert [m.target for m in sent if m.card is moved] == ["E011"]
    route = (await events_of(demo, rid))[-1]
    assert (route.action, route.data["assignee_for"]) == ("task.delegate", ids["E011"])
    due = await db.pending_due(demo, rid)
    assert {d.payload["assignee_id"] for d in due} == {ids["E002"]}
    # The delegate acts with HR's authority and the referrer sees who.
    await chat.tap("E002", review, "通过")
    assert (await referral_row(demo, rid)).state == "leader_approval"


async def test_a_delegation_for_one_kind_leaves_other_tasks_alone(
    chat: LocalChat, demo: SessionFactory
) -> None:
    ids = await person_ids(demo)
    review = await submit(chat, refer(1))
    interview = await referral_at(chat, demo, "interviewing", refer(2))
    sent = await chat.say("E011", "委托 陈HR总监 03-03 至 03-05 审核")
    assert "你现有的 1 项待办已转给 陈HR总监" in only_card(sent, "已委托 · 陈HR总监").body
    assert (await referral_row(demo, review)).assignee_id == ids["E002"]
    assert (await referral_row(demo, interview)).assignee_id == ids["E011"]
    # A transition into a covered step is routed too; the rest stays with 李HR.
    await chat.tap("E011", await task_card(chat, demo, interview, "E011"), "第1轮通过")
    assert (await referral_row(demo, interview)).assignee_id == ids["E011"]


async def test_new_task_after_a_transition_goes_to_the_delegate(
    chat: LocalChat, demo: SessionFactory
) -> None:
    ids = await person_ids(demo)
    await chat.say("E010", "委托 王总 03-03 至 03-09 审批")
    rid = await submit(chat, refer(3))
    sent = await chat.tap("E011", await task_card(chat, demo, rid, "E011"), "通过")
    row = await referral_row(demo, rid)
    assert row.assignee_id == ids["E001"]
    assert only_card(sent, "推荐审批 · 候选3 · 店长").status.startswith("代 赵总 审批")
    assert "下一步：待领导审批（王总）" in only_card(sent, "候选3 · 店长").body
    assert (await events_of(demo, rid))[-1].data["assignee_for"] == ids["E010"]
    assert titles([m.card for m in sent if m.target == "E010"]) == [
        "待办已转给代办人 · 王总"]


async def test_a_delegate_never_gets_their_own_referral(
    chat: LocalChat, demo: SessionFactory
) -> None:
    ids = await person_ids(demo)
    rid = await referral_at(chat, demo, "feedback")  # 张经理's referral, feedback from 孙店长
    assert (await referral_row(demo, rid)).assignee_id == ids["E021"]
    sent = await chat.say("E021", "委托 张经理 03-03 至 03-05")
    assert "你现有的 0 项待办已转给 张经理" in only_card(sent, "已委托 · 张经理").body
    assert (await referral_row(demo, rid)).assignee_id == ids["E021"]


async def test_a_delegation_registered_ahead_starts_and_ends_on_the_clock(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    ids = await person_ids(demo)
    rid = (await waiting_for_leader(chat, demo, 1))[0]
    sent = await chat.say("E010", "委托 王总 03-05 至 03-06")
    assert "03-05 起生效" in only_card(sent, "已委托 · 王总").body
    assert (await referral_row(demo, rid)).assignee_id == ids["E010"]

    clock.now = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)  # 03-05 00:00 in Shanghai
    sent = await chat.tick()
    assert (await referral_row(demo, rid)).assignee_id == ids["E001"]
    # Told once, and (issue 16) the approval card he holds says the same, buttons gone.
    assert sorted((m.target, m.kind) for m in sent if m.card.title == "待办已转给代办人 · 王总"
                  ) == [("E010", "card"), ("E010", "card_update")]
    assert [m.target for m in sent if m.card.title.startswith("推荐审批")] == ["E001"]

    clock.now = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # 03-07 00:00: over
    sent = await chat.tick()
    row = await referral_row(demo, rid)
    assert row.assignee_id == ids["E010"]
    assert (await events_of(demo, rid))[-1].action == "task.return"
    back = [m.card for m in sent if m.target == "E010" and m.card.title.startswith("推荐审批")]
    assert len(back) == 1 and not back[0].status.startswith("代 ")
    assert sorted((m.target, m.kind) for m in sent if m.card.title == "委托结束 · 待办已交回"
                  ) == [("E001", "card"), ("E001", "card_update")]  # his card closed too


async def test_cancelling_hands_the_tasks_back_and_stops_the_clock(
    chat: LocalChat, demo: SessionFactory
) -> None:
    ids = await person_ids(demo)
    rids = await waiting_for_leader(chat, demo, 2)
    await chat.say("E010", "委托 王总 03-03 至 03-09")
    sent = await chat.say("E010", "取消委托")
    assert "2 项仍在 王总 处的待办已交回给你" in only_card(sent, "已取消 · 委托/休假 #1").body
    assert {(await referral_row(demo, rid)).assignee_id for rid in rids} == {ids["E010"]}
    away = (await db.all_rows(demo, AwayPeriod))[0]
    assert away.cancelled_at is not None
    items = [d for d in await db.all_rows(demo, DueItem) if d.subject == "away:1"]
    assert items and all(d.cancelled for d in items)
    listed = only_card(await chat.say("E010", "委托"), "我的委托与休假")
    assert "没有进行中或将来的委托" in listed.body


@pytest.mark.parametrize(
    ("who", "text", "expected"),
    [
        ("E010", "委托 钱总 03-03 至 03-05", "钱总 不在你的组织范围内"),  # 华南 is another line
        ("E010", "委托 赵总 03-03 至 03-05", "不能委托给自己"),
        ("E010", "委托 马六 03-03 至 03-05", "通讯录里没有「马六」"),
        ("E010", "委托 王总 02-30 至 03-05", "没看懂日期"),
        ("E010", "委托 王总", "请这样写"),
        ("E010", "委托 王总 03-03 至 03-05 出差", "请这样写"),
        ("E010", "委托 王总 2026-01-03 至 2026-01-05", "已经结束"),
        ("E010", "委托 王总 03-03 至 06-30", "最长 90 天"),
        ("E010", "休假 03-03 至 03-05 交给", "请这样写"),
    ],
)
async def test_refused_delegations_change_nothing(
    who: str, text: str, expected: str, chat: LocalChat, demo: SessionFactory
) -> None:
    sent = await chat.say(who, text)
    card = only_card(sent, "委托/休假未登记")
    assert expected in card.body
    assert await db.all_rows(demo, AwayPeriod) == []


async def test_delegation_goes_one_hop_only(chat: LocalChat, demo: SessionFactory) -> None:
    await chat.say("E001", "休假 03-04 至 03-06")
    busy = await chat.say("E010", "委托 王总 03-03 至 03-05")
    assert "王总 在这段时间也不在（03-04 ~ 03-06），委托只能转一次" in only_card(
        busy, "委托/休假未登记").body
    await chat.say("E011", "委托 陈HR总监 03-03 to 03-05")
    chained = await chat.say("E002", "委托 王总 03-04 至 03-04")
    assert "李HR 已把这段时间的待办委托给你" in only_card(chained, "委托/休假未登记").body
    again = await chat.say("E011", "休假 03-05 至 03-07")
    assert "已有委托/休假 #2" in only_card(again, "委托/休假未登记").body
    assert len(await db.all_rows(demo, AwayPeriod)) == 2


async def test_escalation_skips_a_lead_on_leave(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E002", "休假 03-03 至 03-06")  # 李HR's lead
    await submit(chat, refer(4))
    clock.advance(hours=24)
    sent = await chat.tick()
    escalations = [(m.target, m.card.title) for m in sent if m.card.title.startswith("超时升级")]
    assert escalations == [("E001", "超时升级 · 候选4 · 店长")]  # 陈HR总监's lead, 王总


async def test_leave_without_delegate_keeps_tasks_and_lists_itself(
    chat: LocalChat, demo: SessionFactory
) -> None:
    ids = await person_ids(demo)
    rid = (await waiting_for_leader(chat, demo, 1))[0]
    sent = await chat.say("E010", "休假 3月3日 到 3月4日")
    card = only_card(sent, "已登记休假")
    assert "你的待办仍在你这里" in card.body
    assert (await referral_row(demo, rid)).assignee_id == ids["E010"]
    listed = only_card(await chat.say("E010", "委托"), "我的委托与休假")
    assert "#1 03-03 至 03-04 · 休假 · 进行中" in listed.body
