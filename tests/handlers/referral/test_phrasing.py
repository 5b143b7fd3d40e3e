"""Issue 16: phrasing understood and the user's own text kept as typed.

The table tests pin each everyday phrasing to its intent; the conversations run over the
sandbox's JSON API on both platforms and read the cards each person actually receives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.text import normalize_text, suggest_command
from handlers.referral.form import parse_referral
from handlers.referral.phrasing import intent_of
from tests._support.sandbox import Demo, running_sandbox

COMMANDS = ("推荐", "refer", "referral", "进度", "progress", "status", "待办", "todo", "需补充",
            "补充", "帮助", "help")


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我推荐的人怎么样了", "progress"),
        ("我推荐的候选人现在怎么样了？", "progress"),
        ("推荐进度如何", "progress"),
        ("How is my referral doing?", "progress"),
        ("any news on my referrals", "progress"),
        ("我有什么要审核的", "todos"),
        ("我的待办有哪些", "todos"),
        ("what do I need to do", "todos"),
        ("anything for me to approve?", "todos"),
        ("怎么用", "help"),
        ("你能做什么", "help"),
        ("What can you do?", "help"),
        ("人不错，推荐一下 店长 张三 13800138000", "referral"),
        ("我想推荐 店长 张三 13800138000 客流提升30%", "referral"),
        ("Great guy, please refer manager Tom Li tom@example.com", "referral"),
        ("I'd like to refer 店长 Tom Li 13800138000 grew sales by 30%", "referral"),
        # Sentences that ask for none of them: a draft's reason, thanks, a story.
        ("带领团队获得区域销售冠军", None),
        ("曾推荐过很多人", None),
        ("谢谢", None),
        ("I would like to refer", None),
    ],
)
def test_everyday_phrasings_map_to_their_intent(text: str, intent: str | None) -> None:
    assert intent_of(normalize_text(text)) == intent


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("推建 店长 张三 13800138000", "推荐 店长 张三 13800138000"),
        ("推建店长", "推荐 店长"),
        ("进渡", "进度"),
        ("需不充 12 学历", "需补充 12 学历"),
        ("refr 店长 Tom", "refer 店长 Tom"),
        ("porgress 12", "progress 12"),
        ("你好", ""),
        ("hello", ""),
    ],
)
def test_near_miss_commands_are_corrected(text: str, suggestion: str) -> None:
    assert suggest_command(text, COMMANDS) == suggestion


def test_latin_names_of_two_or_three_words_precede_the_contact() -> None:
    fields = parse_referral("店长 Tom Li 13800138000 grew sales by 30%").fields
    assert fields == {"position": "店长", "name": "Tom Li", "phone": "13800138000",
                      "reason": "grew sales by 30%"}
    fields = parse_referral("店长 Mary Ann Smith mary@example.com led 12 people").fields
    assert fields["name"] == "Mary Ann Smith" and fields["email"] == "mary@example.com"
    # Without a contact after them the words stay the reason, as before.
    assert parse_referral("店长 Tom grew sales 30%").fields["name"] == "Tom"


def test_full_width_punctuation_is_kept_where_it_is_text_and_read_where_it_separates() -> None:
    fields = parse_referral(normalize_text(
        "店长，张三，１３８００１３８０００，曾带团队（30人）把客流提升30%！")).fields
    assert fields == {"position": "店长", "name": "张三", "phone": "13800138000",
                      "reason": "曾带团队（30人）把客流提升30%！"}
    typed = "店长\n姓名：张三\n理由：带团队（30人），客流提升30%"
    labelled = parse_referral(normalize_text(typed))
    assert labelled.fields["reason"] == "带团队（30人），客流提升30%"


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    async with running_sandbox(tmp_path) as running:
        yield running


def titled(prefix: str) -> Callable[[dict[str, Any]], bool]:
    return lambda card: card["title"].startswith(prefix)


@pytest.mark.parametrize("platform", ["dingtalk", "wecom"])
async def test_a_typo_gets_a_suggestion_and_a_sentence_a_referral(
    demo: Demo, platform: str
) -> None:
    await demo.say("E020", platform, "@hrbot 推建 店长 张三 13800138000 曾将客流提升30%")
    await demo.seen("E020", platform, "你是不是想说", "推荐 店长 张三 13800138000 曾将客流提升30%")

    # The judgement before "推荐一下" is the reason when the rest names none: too vague.
    await demo.say("E020", platform, "@hrbot 人不错，推荐一下 店长 张三 13800138000")
    await demo.seen("E020", platform, "推荐还差一点", "「人不错」不够具体")
    # The draft lacks one thing; a plain sentence is that thing, kept exactly as typed.
    await demo.say("E020", platform, "@hrbot 曾将社区商场月客流提升30%（两年内），带队8人")
    submitted = await demo.seen("E020", platform, "推荐已提交", "张三")
    assert "曾将社区商场月客流提升30%（两年内），带队8人" in submitted
    review = await demo.card("E011", platform, titled("推荐审核 · 张三"))
    assert "曾将社区商场月客流提升30%（两年内），带队8人" in review["body"]

    await demo.say("E020", platform, "@hrbot 我推荐的人怎么样了")
    await demo.seen("E020", platform, "张三 · 店长", "待HR审核")


@pytest.mark.parametrize("platform", ["dingtalk", "wecom"])
async def test_an_english_one_liner_with_a_two_word_name(demo: Demo, platform: str) -> None:
    await demo.say("E020", platform, "@hrbot refer 店长 Tom Li 13900139000 grew sales by 30%")
    await demo.seen("E020", platform, "推荐已提交 · Tom Li")
    review = await demo.card("E011", platform, titled("推荐审核 · Tom Li"))
    assert "grew sales by 30%" in review["body"]


@pytest.mark.parametrize("platform", ["dingtalk", "wecom"])
async def test_a_draft_survives_a_referral_of_someone_else(demo: Demo, platform: str) -> None:
    await demo.say("E020", platform, "@hrbot 推荐 店长 张三 13800138000")
    await demo.seen("E020", platform, "推荐还差一点", "张三")
    # Fields alone complete the draft instead of replacing it.
    await demo.say("E020", platform, "@hrbot 推荐 理由: 曾将客流提升30%")
    await demo.seen("E020", platform, "推荐已提交 · 张三")

    await demo.say("E020", platform, "@hrbot 推荐 店长 李四 13700137000")
    await demo.seen("E020", platform, "推荐还差一点", "李四")
    await demo.say("E020", platform, "@hrbot 推荐 店长 王五 13600136000 带队完成年度目标120%")
    await demo.seen("E020", platform, "推荐已提交 · 王五", "未完成的推荐（李四）")
    await demo.say("E020", platform, "@hrbot 带领门店获得区域第一")
    await demo.seen("E020", platform, "推荐已提交 · 李四")
