"""Everyday phrasings of the main intents, for text that starts with no command word.

A small table on purpose: each pattern is one way people in the pilot stores asked, and
each has a test (tests/test_phrasing.py). Patterns run on the folded form of the text
(``matching_form``), so full-width and upper-case input match; what a handler stores is
still the text as typed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.context import Context
from bot.core.text import matching_form
from handlers.referral.form import parse_referral
from handlers.referral.progress import show_progress, show_todos
from handlers.referral.submit import submit_referral


@dataclass(frozen=True)
class Intent:
    name: str
    patterns: tuple[re.Pattern[str], ...]


def _any(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


PROGRESS = Intent("progress", _any(
    r"^我?推荐的(?:人|候选人|那个人|那位)?(?:现在)?(?:怎么样|如何|进展|到哪|进度|有消息)",
    r"^(?:我的)?推荐(?:的)?(?:进展|进度|结果)(?:如何|怎么样|呢|了吗)?[?？]?$",
    r"^(?:查|看)(?:一下|看)?(?:我的)?推荐(?:进度|进展)?",
    r"^(?:how(?:'s| is| are)|what(?:'s| is) the status of|any news (?:on|about)) my referrals?",
    r"^(?:where|how far) (?:is|are) my referrals?",
))
TODOS = Intent("todos", _any(
    r"^我?(?:有)?(?:什么|哪些|啥)(?:事|事情|任务)?(?:要|需要|待)(?:我)?(?:处理|审核|审批|做)",
    r"^(?:我的)?(?:待办|待处理)(?:事项|任务)?(?:有哪些|呢|是什么)?[?？]?$",
    r"^(?:what do i (?:need|have) to do|what(?:'s| is) (?:waiting )?for me|my (?:tasks|to-?dos))",
    r"^(?:anything|something) (?:for me )?to (?:review|approve|do)",
))
HELP = Intent("help", _any(
    r"^(?:怎么用|如何使用|怎么推荐|如何推荐|你能做什么|你会什么|有什么功能|不会用|使用说明)",
    r"^(?:how (?:do|can) i (?:use (?:this|you|it)|refer)|what can you do)",
    r"^how does (?:this|it) work",
))
# "人不错，推荐一下 店长 张三 138…": the words before the command are the referrer's own
# judgement; they become the reason when the rest names none, so nothing typed is lost.
REFERRAL = re.compile(
    r"^(?P<lead>.{0,20}?)[\s,，。.!！]*"
    r"(?:(?:我?想|我要|帮我|请|麻烦)推荐(?:一下|个|一位|一个)?|推荐(?:一下|个|一位|一个))"
    r"\s*[:：,，]?\s*(?P<rest>\S+\s+\S.*)$"
    r"|^(?P<elead>.{0,40}?)[\s,.!]*"
    r"(?:i['’]?d like to|i would like to|i want to|please|let me)\s+refer\s+"
    r"(?P<erest>\S+\s+\S.*)$",
    re.DOTALL | re.IGNORECASE,
)

INTENTS: tuple[tuple[Intent, Callable[[Context], Awaitable[None]]], ...] = (
    (PROGRESS, show_progress),
    (TODOS, show_todos),
)


def intent_of(text: str) -> str | None:
    """The intent a plain sentence asks for (progress, todos, help, referral), or None."""
    folded = matching_form(text.strip())
    for intent in (PROGRESS, TODOS, HELP):
        if any(p.search(folded) for p in intent.patterns):
            return intent.name
    return "referral" if _referral_parts(text) else None


def _referral_parts(text: str) -> tuple[str, str] | None:
    match = REFERRAL.match(text.strip())
    if match is None:
        return None
    lead = (match["lead"] if match["rest"] else match["elead"]) or ""
    return lead.strip(" ,，。.!！"), (match["rest"] or match["erest"]).strip()


async def answer_by_phrasing(ctx: Context) -> bool:
    """Run the intent the text asks for; False if it asks for none of them."""
    intent = intent_of(ctx.args)
    if intent is None:
        return False
    if intent == "help":
        ctx.reply("help")
        return True
    if intent == "referral":
        parts = _referral_parts(ctx.args)
        assert parts is not None
        lead, rest = parts
        ctx.args = rest if not lead or _has_reason(rest) else f"{rest}\n理由: {lead}"
        await submit_referral(ctx)
        return True
    handler = dict((i.name, h) for i, h in INTENTS)[intent]
    ctx.args = ""
    await handler(ctx)
    return True


def _has_reason(rest: str) -> bool:
    return bool(parse_referral(rest).fields.get("reason"))
