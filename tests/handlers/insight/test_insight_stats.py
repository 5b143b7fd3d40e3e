"""`统计`: referral figures for the asker's scope, computed from the audit trail through the
insight facts, answered as a card with a chart (the real dispatcher, clock and outbox)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import select

from bot.cli.local_chat import LocalChat
from cards.models import Card
from storage.db import SessionFactory, session_scope
from storage.models import (
    Candidate,
    InsightChart,
    Person,
    RecallContact,
    ReferralFact,
    SlaBreach,
    TalentProfile,
)
from storage.repo.insight_settings import load_chart
from tests._support.clock import FakeClock
from tests._support.db import all_rows
from tests._support.referrals import act, field_value, submit

# The statistics queries differ by backend (percentiles, grouping sets, inlined prefixes).
BOTH = pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)

RETAIL_SM = (
    "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%\n"
    "经历: 2019.01-2024.12 万达广场 零售 店长\n学历: 本科"
)
NO_RETAIL = (
    "推荐 店长 李四 13900139000 连续三年社区团购销量第一\n"
    "经历: 2023.01-2025.12 社区团购 电商 团长\n学历: 大专"
)
SZ = "推荐 深圳店长 王五 13700137000 带领门店团队三年零流失"


async def stats(chat: LocalChat, who: str, text: str = "统计") -> Card:
    [message] = await chat.say(who, text)
    return message.card


def lines(card: Card) -> list[str]:
    return card.body.splitlines()


def line_with(card: Card, start: str) -> str:
    found = [ln for ln in lines(card) if ln.startswith(start + "：")]
    assert len(found) == 1, (start, lines(card))
    return found[0]


@BOTH
async def test_funnel_stage_times_and_the_slowest_node(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    first = await submit(chat, RETAIL_SM)
    second = await submit(chat, NO_RETAIL)
    clock.advance(hours=6)
    await act(chat, demo, first, "E011", "通过")
    clock.advance(hours=2)
    await act(chat, demo, second, "E011", "驳回", "零售经验不足")
    clock.advance(hours=46)
    await act(chat, demo, first, "E010", "同意")
    clock.advance(hours=20)
    await act(chat, demo, first, "E011", "发offer")
    clock.advance(days=3)
    await act(chat, demo, first, "E011", "已入职")

    card = await stats(chat, "E002")
    assert card.title == "推荐统计 · 总部"
    assert field_value(card, "推荐") == "2"
    assert field_value(card, "入职") == "1（50%）"
    assert field_value(card, "进行中") == "0"
    # HR review took 6 and 8 hours, the leader 2 days: the approval node is the slowest.
    assert field_value(card, "最慢环节") == "领导审批 · 中位 2.0 天 · 平均 2.0 天"
    assert [ln for ln in lines(card) if ln.startswith("- ")][:5] == [
        "- 推荐 2",
        "- 通过HR审核 1（50%）",
        "- 进入面试 1（100%）",
        "- 发offer 1（100%）",
        "- 入职 1（100%）",
    ]
    assert line_with(card, "- HR审核") == "- HR审核：7.0 小时 / 7.8 小时 / 7.0 小时（2 次）"
    assert line_with(card, "- 面试") == "- 面试：20.0 小时 / 20.0 小时 / 20.0 小时（1 次）"
    assert line_with(card, "- offer到入职") == "- offer到入职：3.0 天 / 3.0 天 / 3.0 天（1 次）"
    assert line_with(card, "- 零售管理经验") == (
        "- 零售管理经验：满足 1 人 入职 100% · 不满足 1 人 入职 0%"
    )
    assert line_with(card, "- 张经理") == "- 张经理：推荐 2 · 入职 1（50%）"
    assert line_with(card, "- 华东/上海一店") == "- 华东/上海一店：推荐 2 · 入职 1（50%）"
    assert line_with(card, "- 店长") == "- 店长：推荐 2 · 入职 1（50%）"
    assert line_with(card, "- 内部推荐") == "- 内部推荐：推荐 2 · 入职 1（50%）"

    # The chart went with the card: a PNG stored once, found by the card's reference.
    assert card.image.startswith("chart:")
    async with demo() as session:
        png = await load_chart(session=session, ref=card.image)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    again = await stats(chat, "E002")
    assert again.image == card.image
    assert len(await all_rows(demo, InsightChart)) == 1


@BOTH
async def test_scope_is_the_askers_org_subtree(chat: LocalChat, demo: SessionFactory) -> None:
    await submit(chat, RETAIL_SM)
    await submit(chat, SZ, by="E050")

    assert field_value(await stats(chat, "E002"), "推荐") == "2"  # HQ sees both regions
    east = await stats(chat, "E011")
    assert east.title == "推荐统计 · 总部/华东" and field_value(east, "推荐") == "1"
    assert line_with(east, "- 上海一店") == "- 上海一店：推荐 1 · 入职 0（0%）"
    south = await stats(chat, "E040")
    assert south.title == "推荐统计 · 总部/华南" and field_value(south, "推荐") == "1"

    # Narrowing to a unit: inside the scope by name, outside it refused.
    narrowed = await stats(chat, "E002", "统计 深圳店")
    assert narrowed.title == "推荐统计 · 总部/华南/深圳店"
    outside = await stats(chat, "E011", "统计 深圳店")
    assert outside.title == "统计范围不明确" and "（总部/华东）" in outside.body
    assert (await stats(chat, "E020")).title == "没有权限"


async def test_time_window_words(chat: LocalChat, demo: SessionFactory, clock: FakeClock) -> None:
    await submit(chat, RETAIL_SM)
    clock.advance(days=40)
    await submit(chat, NO_RETAIL)

    assert field_value(await stats(chat, "E002", "统计 30天"), "推荐") == "1"
    assert field_value(await stats(chat, "E002"), "推荐") == "2"
    card = await stats(chat, "E002", "统计 2026-03-01 2026-03-31")
    assert field_value(card, "推荐") == "1"
    assert card.status.startswith("2026-03-01 至 2026-03-31 · 推荐 1")
    clock.advance(days=400)
    assert field_value(await stats(chat, "E002"), "推荐") == "0"
    assert field_value(await stats(chat, "E002", "统计 全部"), "推荐") == "2"
    empty = await stats(chat, "E002")
    assert lines(empty)[0] == "这个范围和时间段内还没有推荐。" and empty.image == ""
    # Tasks overdue right now are shown whatever the window: they still wait for someone.
    assert line_with(empty, "- 李HR") == "- 李HR：仍超时未办 2 件"


@BOTH
async def test_sla_breaches_per_assignee_finished_and_still_open(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    late = await submit(chat, RETAIL_SM)
    clock.advance(hours=30)  # HR's SLA is 24 h
    await act(chat, demo, late, "E011", "通过")
    await submit(chat, NO_RETAIL)
    clock.advance(hours=25)

    card = await stats(chat, "E002")
    assert line_with(card, "- 李HR") == "- 李HR：超时办结 1 次（HR审核 1） · 仍超时未办 1 件"
    [breach] = await all_rows(demo, SlaBreach)
    assert (breach.stage, breach.sla_s, breach.took_s) == ("hr_review", 24 * 3600, 30 * 3600)


@BOTH
async def test_interview_score_bands_and_recall_reply_rates(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    rid = await submit(chat, RETAIL_SM)
    await act(chat, demo, rid, "E011", "通过")
    await act(chat, demo, rid, "E010", "同意")
    await chat.say("E011", f"面试 {rid} 通过 85 沟通好")
    await act(chat, demo, rid, "E011", "发offer")
    await act(chat, demo, rid, "E011", "已入职")
    await _recall_contacts(demo, clock.now)

    card = await stats(chat, "E002")
    assert line_with(card, "- 80 分及以上") == "- 80 分及以上：1 人 入职 100%"
    assert line_with(card, "**召回回复率**") == (
        "**召回回复率**：发出 3 条，回复 2（67%），回归入职 1 人"
    )
    assert line_with(card, "- 岗位机会") == "- 岗位机会：2 条 回复 100%"
    assert line_with(card, "- 用人经理发出") == "- 用人经理发出：2 条 回复 100%"
    assert line_with(card, "- HR发出") == "- HR发出：1 条 回复 0%"
    async with demo() as session:
        [fact] = (await session.exec(select(ReferralFact))).all()
    assert fact.score == 85 and fact.state == "hired"


async def _recall_contacts(factory: SessionFactory, now: datetime) -> None:
    async with session_scope(factory) as session:
        ids = {p.employee_no: p.id for p in (await session.exec(select(Person))).all()}
        candidate = Candidate(name="赵六", phone="13600136000", created_at=now)
        session.add(candidate)
        await session.flush()
        profile = TalentProfile(candidate_id=candidate.id or 0, org_path="总部/华东/上海一店",
                                since=now, created_at=now, updated_at=now)
        session.add(profile)
        await session.flush()
        for stage, sender, replied, rehired in (
            ("opening", "E021", True, True), ("opening", "E021", True, False),
            ("greeting", "E011", False, False),
        ):
            session.add(RecallContact(
                profile_id=profile.id or 0, stage=stage, category="team",
                sender_id=ids[sender], sent_at=now, status="sent",
                replied_at=now if replied else None, rehired_at=now if rehired else None,
                created_at=now, updated_at=now,
            ))


async def test_answers_go_to_the_askers_own_chat_even_from_a_group(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await submit(chat, RETAIL_SM)
    sent = await chat.say("E011", "统计", group="上海一店")
    assert [(m.target, m.card.title) for m in sent] == [("E011", "推荐统计 · 总部/华东")]
    sent = await chat.say("E011", "人才库 零售经验", group="上海一店")
    assert [(m.target, m.card.title) for m in sent] == [("E011", "人才库 · 零售经验")]
    assert chat.group("上海一店") == []
