"""Referral bonuses: a hire earns one, the first referrer gets the credit, it becomes payable
after probation, HR marks it paid or void, HR leads set the rules."""

from __future__ import annotations

from bot.cli.local_chat import LocalChat
from cards.models import Card
from storage.db import SessionFactory
from storage.models import ReferralBonus
from tests._support.clock import FakeClock
from tests._support.db import all_rows
from tests._support.referrals import act, field_value, person_ids, submit

REFER = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"
AGAIN = "推荐 店长 张三 13800138000 带领团队获得区域销售冠军"


async def hire(chat: LocalChat, factory: SessionFactory, rid: int) -> None:
    await act(chat, factory, rid, "E011", "通过")
    await act(chat, factory, rid, "E010", "同意")
    await act(chat, factory, rid, "E011", "发offer")
    await act(chat, factory, rid, "E011", "已入职")


async def say(chat: LocalChat, who: str, text: str) -> Card:
    [message] = await chat.say(who, text)
    return message.card


async def test_bonus_is_payable_after_probation_and_paid_once(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    rid = await submit(chat, REFER)
    await hire(chat, demo, rid)

    card = await say(chat, "E011", "奖金")
    assert card.title == "推荐奖金" and card.status == "待发放 0 · 试用期中 1"
    assert field_value(card, "试用期") == "90 天"
    assert "#1 张三 · 店长 · 总部/华东/上海一店 · 推荐人 张经理" in card.body
    assert "06-01 09:30 试用期满" in card.body  # 90 days after joining on 03-03
    early = await say(chat, "E011", f"奖金 已发 {rid}")
    assert early.title == "试用期还没满"

    clock.advance(days=91)
    card = await say(chat, "E011", "奖金")
    assert card.status == "待发放 1 · 试用期中 0"
    done = await say(chat, "E011", f"奖金 已发 {rid}")
    assert done.title == "奖金已标记发放" and "张经理（E020）" in done.body
    again = await say(chat, "E011", f"奖金 已发 {rid}")
    assert again.title == "这笔奖金已处理过" and "已发放" in again.body
    [bonus] = await all_rows(demo, ReferralBonus)
    assert bonus.status == "paid" and bonus.decided_at == clock.now
    # The referrer sees their own bonus; someone out of scope cannot decide it.
    mine = await say(chat, "E020", "奖金")
    assert mine.title == "我的推荐奖金" and "已发放" in mine.body
    assert (await say(chat, "E041", f"奖金 作废 {rid} 离职")).title == "没找到这笔奖金"


async def test_the_first_referrer_keeps_the_credit(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    first = await submit(chat, REFER)
    await act(chat, demo, first, "E011", "驳回", "暂无编制")
    clock.advance(days=30)
    second = await submit(chat, AGAIN, by="E030")
    await hire(chat, demo, second)

    card = await say(chat, "E011", "奖金")
    assert f"#{second} 张三" in card.body
    assert "推荐人 张经理（首推，后由 周经理 推荐入职）" in card.body
    [bonus] = await all_rows(demo, ReferralBonus)
    ids = await person_ids(demo)
    assert (bonus.referrer_id, bonus.first_referral_id) == (ids["E020"], first)


async def test_leads_set_the_rules_and_open_bonuses_follow(
    chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await submit(chat, REFER)
    await hire(chat, demo, rid)
    await say(chat, "E011", "奖金")  # the bonus exists with the default rules

    assert (await say(chat, "E011", "奖金设置 试用期 30")).title == "没有权限"
    card = await say(chat, "E002", "奖金设置 试用期 30 金额 2000")
    assert card.title == "奖金设置" and field_value(card, "每笔金额") == "¥2000"
    listing = await say(chat, "E011", "奖金")
    assert "04-02 09:30 试用期满 · ¥2000" in listing.body
    bad = await say(chat, "E002", "奖金设置 试用期 很久")
    assert bad.title == "奖金设置未改"
    void = await say(chat, "E011", f"奖金 作废 {rid} 试用期内离职")
    assert void.title == "奖金已作废" and "备注：试用期内离职" in void.body
    assert (await say(chat, "E011", f"奖金 作废 {rid}")).title == "奖金命令不完整"
