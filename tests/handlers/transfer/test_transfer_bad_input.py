"""Every wrong `调岗` gets a card that says what is wrong, repeats what was typed, and writes
nothing: out of scope, unknown person or org, past or non-working dates, a second open transfer,
a forged or foreign tap, and a person who leaves while their transfer is open."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.cli.local_chat import LocalChat
from cards.models import Button, Card
from storage.db import SessionFactory
from storage.models import Person
from tests._support.clock import FakeClock
from tests._support.referrals import only_card
from tests._support.transfers import APPLY, case_events, case_row, cases, live_card


@pytest.mark.parametrize(
    ("who", "text", "says"),
    [
        ("E030", "调岗 张经理 杭州店 2026-03-10 支援", "张经理 不在你的范围内"),
        ("E020", "调岗 王五 杭州店 2026-03-10 支援", "通讯录里没有叫“王五”的在职人员"),
        ("E020", "调岗 我 北京店 2026-03-10 支援", "没有“北京店”这个单位"),
        ("E020", "调岗 我 上海一店 2026-03-10 支援", "总部/华东/上海一店 就是此人现在的单位"),
        ("E020", "调岗 我 杭州店 2026-03-02 支援", "生效日期 2026-03-02 已经过去"),
        ("E020", "调岗 我 杭州店 2026-03-07 支援", "2026-03-07 不是工作日"),
        ("E020", "调岗 我 杭州店 2026-05-01 支援", "2026-05-01 不是工作日"),
        ("E020", "调岗 我 杭州店 2026-02-30 支援", "“2026-02-30”不是有效日期"),
        ("E020", "调岗 我 杭州店 2026-03-10 至 2026-03-09 支援", "必须晚于生效日期"),
    ],
)
async def test_refused_application_writes_nothing(
    chat: LocalChat, demo: SessionFactory, who: str, text: str, says: str
) -> None:
    sent = await chat.say(who, text)

    card = only_card(sent, "调岗申请未提交")
    assert says in card.body
    assert card.body.endswith(f"你输入的内容：{text.removeprefix('调岗 ')}")
    assert [m.target for m in sent] == [who]
    assert await cases(demo) == []


async def test_missing_parts_are_named_and_the_text_kept(
    chat: LocalChat, demo: SessionFactory
) -> None:
    card = only_card(await chat.say("E020", "调岗 我 杭州店"), "调岗申请")
    assert card.status == "缺少信息，未提交"
    assert card.body.startswith("还缺：生效日期（如 2026-03-10）、调岗原因。")
    assert card.body.endswith("你输入的内容：我 杭州店")
    assert await cases(demo) == []


async def test_a_second_open_transfer_for_the_same_person_is_refused(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", APPLY)
    # HR applies for him too, elsewhere: one open transfer per person.
    sent = await chat.say("E011", "调岗 张经理 深圳店 2026-03-11 支援")
    assert "张经理 已有一张进行中的调岗申请 #1" in only_card(sent, "调岗申请未提交").body
    assert len(await cases(demo)) == 1


async def test_forged_and_foreign_taps_change_nothing(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", APPLY)
    card = live_card(chat, "E010")
    forged = Card(title=card.title, key=card.key, buttons=(
        Button(label="审核通过", action="transfer.dept_approve", params={"case": "1"}),))

    assert only_card(await chat.tap("E010", forged, "审核通过"), "无法识别的操作")
    # 吴HR (华南) has no part in a 华东 transfer; the applicant cannot approve his own.
    assert only_card(await chat.tap("E041", card, "审核通过"), "没有权限")
    assert only_card(await chat.tap("E020", card, "审核通过"), "没有权限")
    row = await case_row(demo, 1)
    assert (row.state, row.version) == ("dept_review", 1)
    assert len(await case_events(demo, 1)) == 1


async def test_a_person_who_leaves_while_a_transfer_is_open(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.say("E020", APPLY)
    card = live_card(chat, "E010")
    async with demo() as session:
        zhang = (await session.exec(select(Person).where(Person.employee_no == "E020"))).one()
        zhang.active = False
        session.add(zhang)
        await session.commit()

    clock.advance(minutes=5)
    sent = await chat.tick()

    assert (await case_row(demo, 1)).state == "cancelled"
    closed = [m for m in sent if m.target == "E010"]
    assert [(m.kind, m.card.buttons) for m in closed] == [("card_update", ())]
    stale = only_card(await chat.tap("E010", card, "审核通过"), "已处理 · 调岗申请 #1")
    assert stale.body.startswith("已于 09:35（03-03 09:35）由系统处理：系统取消（本人已离职）")


async def test_help_and_usage_say_how_to_apply(chat: LocalChat) -> None:
    assert "`调岗 张经理 杭州店 2026-03-10 至 2026-06-30 原因`" in only_card(
        await chat.say("E020", "帮助"), "HR助手 · 可以这样用").body
    usage = only_card(await chat.say("E020", "调岗 帮助"), "调岗申请")
    assert usage.status == "用法"
    assert "`调岗 撤回 编号 原因`" in usage.body
    mine = only_card(await chat.say("E020", "调岗"), "我的调岗申请")
    assert mine.body.startswith("你还没有调岗申请。发送 `调岗 姓名 调往单位 生效日期")
