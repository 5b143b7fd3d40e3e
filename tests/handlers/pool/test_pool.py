"""The talent pool: every referred candidate stays searchable by tags and words within HR's
scope, HR tags by hand, and an opening position gets ranked pool candidates with why."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.cli.local_chat import LocalChat
from cards.models import Card
from handlers.admin.directory_import import import_positions
from storage.db import SessionFactory, session_scope
from storage.models import PoolTag, Position
from tests._support.clock import FakeClock
from tests._support.db import all_rows
from tests._support.referrals import act, submit

# The pool search is written differently for tags and words; both backends run it.
BOTH = pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)

RETAIL_SM = (
    "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%，团队留存率90%\n"
    "经历: 2019.01-2024.12 万达广场 零售 店长\n学历: 本科"
)
NO_RETAIL = (
    "推荐 导购 李四 13900139000 连续三年社区团购销量第一\n"
    "经历: 2023.01-2025.12 社区团购 电商 团长"
)
SZ = "推荐 深圳店长 王五 13700137000 带领门店团队三年零流失"
NEW_STORE = """
[[position]]
code = "HZ-SM"
title = "杭州店长"
org_path = "总部/华东/杭州店"
leader_approval = false

[[position.requirement]]
kind = "years"
label = "零售管理经验"
min_years = 3
industries = ["零售", "商场"]
titles = ["经理", "店长"]

[[position.requirement]]
kind = "education"
label = "学历"
min_level = "本科"
"""


async def pool(chat: LocalChat, who: str, text: str) -> Card:
    [message] = await chat.say(who, text)
    return message.card


def bullets(card: Card) -> list[str]:
    return [ln for ln in card.body.splitlines() if ln.startswith("- ")]


async def rejected(chat: LocalChat, factory: SessionFactory, text: str, by: str = "E020") -> int:
    rid = await submit(chat, text, by=by)
    reviewer = "E041" if by == "E050" else "E011"
    await act(chat, factory, rid, reviewer, "驳回", "暂无编制")
    return rid


@BOTH
async def test_declined_candidates_stay_searchable_by_derived_tags_within_scope(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await rejected(chat, demo, RETAIL_SM)
    clock.advance(hours=1)
    await submit(chat, NO_RETAIL)
    await submit(chat, SZ, by="E050")

    card = await pool(chat, "E011", "人才库 零售经验 店长")
    assert card.title == "人才库 · 零售经验 店长" and card.status == "共 1 人"
    [line] = bullets(card)
    assert line.startswith("- **张三** · 未通过 · 店长 · #1 · 总部/华东/上海一店 · 推荐人 张经理")
    for tag in ("经理推荐", "零售经验", "店长经验", "团队管理", "本科及以上"):
        assert tag in line
    # Words that are no tag match names, positions and employers.
    assert [b.split(" · ")[0] for b in bullets(await pool(chat, "E011", "人才库 李四"))] == [
        "- **李四**"]
    assert len(bullets(await pool(chat, "E011", "人才库 万达广场"))) == 1
    # Newest first; the South region's candidate is outside the East HR's scope.
    everyone = await pool(chat, "E002", "人才库 经理推荐")
    assert [b.split(" · ")[0] for b in bullets(everyone)] == ["- **王五**", "- **李四**",
                                                               "- **张三**"]
    assert bullets(await pool(chat, "E041", "人才库 零售经验")) == []
    assert "没有同时符合“零售经验”的候选人" in (await pool(chat, "E041", "人才库 零售经验")).body
    overview = await pool(chat, "E011", "人才库")
    assert overview.title == "人才库" and "经理推荐（2）" in overview.body
    assert (await pool(chat, "E020", "人才库 零售经验")).title == "没有权限"


@BOTH
async def test_hr_tags_by_hand_and_removed_derived_tags_stay_removed(
    chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await rejected(chat, demo, RETAIL_SM)

    card = await pool(chat, "E011", f"标签 {rid} 储备店长 -团队管理")
    assert card.title == "标签已更新 · 张三"
    assert "储备店长" in card.body and "团队管理" not in card.body
    assert len(bullets(await pool(chat, "E011", "人才库 储备店长"))) == 1
    assert bullets(await pool(chat, "E011", "人才库 团队管理")) == []
    # The referral moving on re-derives the tags: the hidden one stays hidden.
    await chat.tick()
    async with demo() as session:
        tags = {(t.tag, t.source) for t in (await session.exec(select(PoolTag))).all()}
    assert ("团队管理", "hidden") in tags and ("储备店长", "manual") in tags
    assert bullets(await pool(chat, "E011", "人才库 团队管理")) == []
    # Only HR within the referral's scope may tag; a bare command explains itself.
    assert (await pool(chat, "E041", f"标签 {rid} 优秀")).title == "没有权限"
    assert (await pool(chat, "E011", "标签 12")).title == "标签命令不完整"


@BOTH
async def test_a_new_position_gets_ranked_pool_candidates_with_why(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.tick()  # the first beat only records the open positions
    await rejected(chat, demo, RETAIL_SM)
    await rejected(chat, demo, NO_RETAIL)
    await submit(chat, "推荐 店长 赵六 13600136000 曾将社区商场月客流提升30%\n"
                       "经历: 2018.01-2024.12 印象城 商场 楼层经理\n学历: 本科")
    assert [m for m in await chat.tick() if m.card.title.startswith("人才库推荐")] == []

    async with session_scope(demo) as session:
        report = await import_positions(session=session, text=NEW_STORE)
    assert report.ok
    sent = [m for m in await chat.tick() if m.card.title.startswith("人才库推荐")]
    assert [(m.target, m.card.title) for m in sent] == [("E011", "人才库推荐 · 杭州店长")]
    body = sent[0].card.body
    # Zhang meets both requirements; Li none (not shown); Zhao is in a live referral.
    assert "**张三**（满足 2/2）" in body and "李四" not in body and "赵六" not in body
    assert "✅ 零售管理经验 6.0 年（2019.01–2024.12 万达广场 店长）；学历 本科" in body
    assert [m for m in await chat.tick() if m.card.title.startswith("人才库推荐")] == []

    # Changed requirements are a new opening; closing the position stops suggestions.
    async with session_scope(demo) as session:
        [hz] = (await session.exec(select(Position).where(Position.code == "HZ-SM"))).all()
        hz.requirements = [*hz.requirements, {"kind": "keywords", "label": "客流运营",
                                              "any": ["客流"]}]
        session.add(hz)
    sent = [m for m in await chat.tick() if m.card.title.startswith("人才库推荐")]
    assert len(sent) == 1 and "**张三**（满足 3/3）" in sent[0].card.body


async def test_match_on_demand_and_ambiguous_positions(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await rejected(chat, demo, RETAIL_SM)
    card = await pool(chat, "E011", "人才库 匹配 SH1-SM")
    assert card.title == "人才库推荐 · 店长"
    assert "**张三**（满足 5/5）" in card.body
    assert "线下客流运营（客流）；团队建设（留存率） 90%（留存率90%）" in card.body
    missing = await pool(chat, "E011", "人才库 匹配 深圳店长")  # outside the East scope
    assert missing.title == "没找到岗位"
    assert len(await all_rows(demo, PoolTag)) >= 5
