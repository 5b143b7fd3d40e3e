"""Recall test helpers: no-shows recorded through the chat, their profiles filled in from
the profile card, and messages sent the way a person sends them outside WeCom."""

from __future__ import annotations

from sqlmodel import col, select

from bot.cli.local_chat import LocalChat
from cards.models import Card
from storage.db import SessionFactory
from storage.models import Candidate, RecallContact, Referral, TalentProfile
from tests._support.referrals import act, only_card, referral_at

Chat = LocalChat
DB = SessionFactory
CONCERN = "团队太年轻，没有有经验的带教"
MENTORS = "今年三位资深导师加入，每位新人每周一次一对一带教"
NEWS = {"team": (MENTORS,), "family": ("门店推出弹性排班，可以按家庭需要选班次",)}


def refer_text(index: int) -> str:
    return f"推荐 店长 候选人{index:02d} 1390000{index:04d} 曾将社区商场月客流提升30%"


async def no_show(chat: Chat, demo: DB, text: str, reason: str = "团队氛围/缺少带教") -> int:
    """A referral of 店长 driven to an offer, then recorded as a no-show for ``reason``."""
    rid = await referral_at(chat, demo, "offer", text)
    choice = only_card(await act(chat, demo, rid, "E011", "未到岗"),
                       f"未到岗原因 · {(await candidate_of(demo, rid)).name}")
    if reason not in [b.label for b in choice.buttons]:
        choice = next(m.card for m in await chat.tap("E011", choice, "更多原因…"))
    await chat.tap("E011", choice, reason)
    return rid


async def candidate_of(demo: DB, rid: int) -> Candidate:
    async with demo() as session:
        referral = await session.get(Referral, rid)
        assert referral is not None
        candidate = await session.get(Candidate, referral.candidate_id)
        assert candidate is not None
        return candidate


async def profile_of(demo: DB, rid: int) -> TalentProfile:
    candidate = await candidate_of(demo, rid)
    async with demo() as session:
        result = await session.exec(
            select(TalentProfile).where(TalentProfile.candidate_id == candidate.id))
        profile = result.first()
        assert profile is not None, f"no profile for referral #{rid}"
        return profile


async def contacts(demo: DB) -> list[RecallContact]:
    async with demo() as session:
        result = await session.exec(select(RecallContact).order_by(col(RecallContact.id)))
        return list(result.all())


def latest(chat: Chat, who: str, prefix: str) -> Card:
    cards = [c for c in chat.inbox(who) if c.title.startswith(prefix)]
    assert cards, (prefix, [c.title for c in chat.inbox(who)])
    return cards[-1]


async def fill_profile(chat: Chat, who: str, card: Card, note: str = CONCERN,
                       consent: bool = True) -> Card:
    """Record the candidate's words (and consent) from the profile card; returns the card."""
    await chat.tap(who, card, "记录原话")
    await chat.say(who, note)
    card = next(c for c in chat.inbox(who) if c.key == card.key)
    if consent:
        await chat.tap(who, card, "同意联系")
        card = next(c for c in chat.inbox(who) if c.key == card.key)
    return card


async def recorded_no_show(chat: Chat, demo: DB, text: str, reason: str = "团队氛围/缺少带教",
                           note: str = CONCERN, consent: bool = True) -> int:
    rid = await no_show(chat, demo, text, reason)
    await chat.tick()
    name = (await candidate_of(demo, rid)).name
    await fill_profile(chat, "E011", latest(chat, "E011", f"人才档案 · {name}"), note, consent)
    return rid


async def send_by_copy(chat: Chat, who: str, preview: Card) -> Card:
    """[发送] then [已发送] on the copy card: the way a message leaves outside WeCom."""
    name = preview.title.split(" · ")[-1]
    copy = only_card(await chat.tap(who, preview, "发送"), f"请复制并发送 · {name}")
    return only_card(await chat.tap(who, copy, "已发送"), f"召回 · {name}")


