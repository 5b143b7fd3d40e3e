"""Strings from people and platforms (file names, names, positions, reasons) never become
markup in DingTalk or WeCom markdown: a hostile file name cannot add a link, a name cannot
restyle a card, a newline cannot start a heading."""

from __future__ import annotations

import json
from dataclasses import replace

import respx

from bot.adapters.dingtalk.messenger import card_markdown as dingtalk_markdown
from bot.adapters.wecom.messenger import WeComMessenger
from bot.adapters.wecom.messenger import card_markdown as wecom_markdown
from bot.cli.local_chat import LocalChat
from cards.markdown import md_text
from cards.models import Card, CardField
from cards.render_dingtalk import card_param_map
from tests._support.referrals import submit
from tests.bot.adapters.test_platform_files import (  # noqa: F401  (fixtures)
    URL,
    body_of,
    dingtalk,
    file_message,
    wecom,
)

EVIL = "http://evil.example/x"
HOSTILE_FILE = f"简历](${EVIL}) [点我]({EVIL})"
HOSTILE_PERSON = f'张三<font color="info">](<{EVIL}>)'
HOSTILE_POSITION = "店长\n# 假标题\n[链接](http://evil.example)"
CARD = Card(
    title=f"推荐审核 · {HOSTILE_PERSON} · {HOSTILE_POSITION}",
    fields=(CardField(label="候选人", value=HOSTILE_PERSON),
            CardField(label="岗位", value=HOSTILE_POSITION)),
    body="**推荐理由**：正常的正文",
)


def _assert_inert(markdown: str, *, links: int = 0) -> None:
    assert markdown.count("](") == links, markdown
    assert "<font color=\"info\">" not in markdown and "<" + EVIL not in markdown
    assert "\n# " not in markdown


def test_md_text_keeps_the_words() -> None:
    assert md_text("张三 zs_1@example.com 30%") == "张三 zs_1@example.com 30%"
    assert md_text("x](y)") == "x］（y）"
    assert md_text(None) == ""


def test_both_platforms_markdown_of_hostile_fields() -> None:
    _assert_inert(dingtalk_markdown(CARD)[1])
    _assert_inert(wecom_markdown(CARD))


async def test_wecom_markdown_message_of_hostile_card(
    wecom: tuple[WeComMessenger, respx.MockRouter],  # noqa: F811
) -> None:
    messenger, router = wecom
    message = replace(file_message("wecom", "lihr", "MEDIA-1"), card=CARD)
    await messenger.deliver(message)
    sends = [json.loads(c.request.content) for c in router.calls
             if c.request.url.path == "/cgi-bin/message/send"]
    _assert_inert(sends[0]["markdown"]["content"])


async def test_hostile_reason_and_position_on_the_review_card(chat: LocalChat) -> None:
    await submit(chat, f"推荐 店长 张三 13800138000 曾将社区商场月客流提升30% [详情]({EVIL}) "
                       '<font color="info">')
    review = chat.inbox("E011")[-1]
    assert "详情" in review.body  # the words are kept...
    _assert_inert(review.body)  # ...the markup is not
    _assert_inert(card_param_map(review)["body"])


async def test_hostile_reject_reason_on_the_cards_it_reaches(chat: LocalChat) -> None:
    rid = await submit(chat)
    sent = await chat.say("E011", f"驳回 {rid} 零售经验不足 [申诉]({EVIL})")
    bodies = [m.card.body for m in sent] + [c.body for c in chat.inbox("E020")]
    assert any("零售经验不足" in body for body in bodies)
    for body in bodies:
        _assert_inert(body)
