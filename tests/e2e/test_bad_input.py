"""Everything a user can type gets a clear answer; nothing crashes, nothing half-written stays."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli.local_chat import LocalChat
from bot.core.events import CardAction, Conversation, Event, EventKind, Platform
from cards.models import Button
from storage.db import SessionFactory
from storage.models import Candidate, Referral, ReferralDraft
from tests._support import db

REFER = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"


@pytest.mark.parametrize("text", ["", "   ", "@hrbot", "@hrbot  ", "\u3000"])
async def test_empty_or_mention_only_gets_help(chat: LocalChat, text: str) -> None:
    sent = await chat.say("E020", text)
    assert [m.card.title for m in sent] == ["HR助手 · 可以这样用"]


async def test_unknown_text_gets_help_naming_it(chat: LocalChat) -> None:
    sent = await chat.say("E020", "今天天气怎么样")
    assert sent[0].card.title == "HR助手 · 可以这样用"
    assert "没看懂「今天天气怎么样」" in sent[0].card.body


async def test_person_not_in_directory(chat: LocalChat, demo: SessionFactory) -> None:
    sent = await chat.say("STRANGER", REFER)
    assert [m.card.title for m in sent] == ["还不认识你"]
    assert (await db.counts(demo))["referrals"] == 0


async def test_five_thousand_character_reason_is_kept_whole(
    chat: LocalChat, demo: SessionFactory
) -> None:
    reason = "带领团队把门店月销售额提升30%。" + "细节" * 2490
    sent = await chat.say("E020", f"推荐 店长 张三 13800138000 {reason}")
    assert sent[0].card.title == "推荐已提交 · 张三"
    stored = await db.referral(demo, 1)
    assert stored.reason == reason and len(reason) > 4990
    assert len(sent[1].card.body) < 2000  # the card shows it shortened


async def test_emoji_and_full_width_punctuation(chat: LocalChat, demo: SessionFactory) -> None:
    text = "推荐　店长　张三😀　１３８００１３８０００　带领团队获得区域销售冠军！🎉"
    sent = await chat.say("E020", text)
    assert sent[0].card.title == "推荐已提交 · 张三😀"
    candidate = (await db.all_rows(demo, Candidate))[0]
    assert candidate.phone == "13800138000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("推荐 店长 张三 12345 曾将客流提升30%", "「12345」不是有效的手机号"),
        ("推荐 保安队长 张三 13800138000 曾将客流提升30%", "没有在招的**岗位**「保安队长」"),
        ("推荐 店长", "缺少**姓名**"),
        ("推荐 店长 张三 13800138000", "缺少**推荐理由**"),
        ("推荐\n岗位: 店长\n姓名: 张三\n邮箱: not-an-email\n理由: 业绩第一",
         "**邮箱**「not-an-email」"),
        ("推荐\n岗位: 店长\n姓名: 张三\n电话: 13800138000\n经历: 去年 某地\n理由: 业绩第一",
         "**经历**「去年 某地」没看懂"),
    ],
)
async def test_incomplete_referral_keeps_draft_and_names_the_problem(
    chat: LocalChat, demo: SessionFactory, text: str, expected: str
) -> None:
    sent = await chat.say("E020", text)
    assert [m.card.title for m in sent] == ["推荐还差一点"]
    assert expected in sent[0].card.body
    counts = await db.counts(demo)
    assert counts["referrals"] == 0 and counts["candidates"] == 0 and counts["drafts"] == 1


async def test_forged_action_id_and_params(chat: LocalChat, demo: SessionFactory) -> None:
    await chat.say("E020", REFER)
    card = chat.inbox("E011")[-1]
    forged = [
        Button("x", "review.pass", {"rid": "1; DROP TABLE referral", "v": "1"}),
        Button("x", "review.pass", {"rid": "999", "v": "1"}),
        Button("x", "admin.nuke", {"rid": "1", "v": "1"}),
        Button("x", "review.pass", {}),
    ]
    answers = [(await chat.tap("E011", card, b))[0].card.title for b in forged]
    assert answers == ["无法识别的操作", "没找到这条推荐", "这个按钮已失效", "无法识别的操作"]
    referral = await db.referral(demo, 1)
    assert referral.state == "hr_review" and referral.version == 1


async def test_retried_event_is_handled_once(chat: LocalChat, demo: SessionFactory) -> None:
    event = Event(platform=Platform.SHELL, event_id="retry-1", kind=EventKind.MESSAGE,
                  actor_id="E020", conversation=Conversation(id="E020"), text=REFER)
    first = await chat.feed(event)
    again = await chat.feed(event)
    assert len(first) == 2 and again == []
    assert chat.last_result is not None and chat.last_result.duplicate
    assert (await db.counts(demo))["referrals"] == 1


async def test_card_tap_from_unknown_person(chat: LocalChat) -> None:
    sent = await chat.feed(Event(
        platform=Platform.SHELL, event_id="tap-x", kind=EventKind.CARD_ACTION, actor_id="NOBODY",
        conversation=Conversation(id="NOBODY"),
        action=CardAction(action_id="review.pass", params={"rid": "1", "v": "1"}),
    ))
    assert [m.card.title for m in sent] == ["还不认识你"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
async def test_any_text_gets_exactly_one_clear_answer_and_no_partial_rows(
    chat: LocalChat, demo: SessionFactory, text: str
) -> None:
    before = await db.counts(demo)
    sent = await chat.say("E030", text)
    mine = [m for m in sent if m.target == "E030"]
    assert len(mine) == 1
    assert mine[0].card.title != "出错了"
    after = await db.counts(demo)
    # A referral either exists with its audit trail and candidate, or nothing of it does.
    new = after["referrals"] - before["referrals"]
    assert after["events"] - before["events"] == 2 * new
    assert after["candidates"] - before["candidates"] <= new
    referrals = await db.all_rows(demo, Referral)
    drafts = await db.all_rows(demo, ReferralDraft)
    assert all(r.reason for r in referrals) and len(drafts) <= 1
