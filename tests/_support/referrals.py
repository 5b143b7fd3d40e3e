"""Workflow test helpers: read what a referral left in the database, and drive one through the
chat (the real dispatcher, transaction and outbox) to a given state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.cli.local_chat import LocalChat
from bot.pipeline.messenger import RecordingMessenger
from cards.models import Card
from storage.db import SessionFactory
from storage.models import DueItem, PendingInput, Person, Referral, ReferralEvent

REFER_SM = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"
REFER_SA = "推荐 导购 李四 13900139000 连续三年门店销售冠军"

# The status line of an action_done card starts with these (cards/templates/zh/_labels.j2).
ACTION_LABELS = {
    "review.pass": "HR审核通过", "review.need_info": "要求补充材料", "review.reject": "HR驳回",
    "referral.supplement": "补充材料", "approval.approve": "领导审批通过",
    "approval.reject": "领导驳回", "interview.pass": "面试通过", "interview.fail": "面试未通过",
    "feedback.request": "请用人经理反馈", "feedback.hire": "用人经理：录用",
    "feedback.another": "用人经理：再面一轮", "feedback.no": "用人经理：不合适",
    "offer.make": "发放offer", "offer.hired": "确认入职", "offer.no_show": "登记未到岗",
    "offer.declined": "候选人拒绝offer", "referral.withdraw": "撤回推荐",
}
STATE_LABELS = {
    "hr_review": "待HR审核", "needs_info": "需补充材料", "leader_approval": "待领导审批",
    "interviewing": "面试中", "offer": "已发offer", "hired": "已入职", "rejected": "未通过",
    "withdrawn": "已撤回", "no_show": "未到岗",
}
REVIEW_BUTTONS = ("通过", "需补充", "驳回", "转交/加签")
INTERVIEW_BUTTONS = ("未通过", "请用人经理反馈", "发offer")
FEEDBACK_BUTTONS = ("录用", "再面一轮", "不合适", "转交")
OFFER_BUTTONS = ("已入职", "未到岗", "拒绝offer")


async def referral_row(factory: SessionFactory, rid: int) -> Referral:
    async with factory() as session:
        row = await session.get(Referral, rid)
        assert row is not None, f"no referral #{rid}"
        return row


async def events_of(factory: SessionFactory, rid: int) -> list[ReferralEvent]:
    async with factory() as session:
        result = await session.exec(
            select(ReferralEvent).where(ReferralEvent.referral_id == rid)
            .order_by(col(ReferralEvent.id))
        )
        return list(result.all())


async def due_items_of(factory: SessionFactory, rid: int) -> list[DueItem]:
    async with factory() as session:
        result = await session.exec(
            select(DueItem).where(DueItem.subject == f"referral:{rid}").order_by(col(DueItem.id))
        )
        return list(result.all())


async def person_ids(factory: SessionFactory) -> dict[str, int]:
    """employee_no -> Person.id"""
    async with factory() as session:
        people = (await session.exec(select(Person))).all()
        return {p.employee_no: p.id or 0 for p in people}


async def pending_input_of(factory: SessionFactory, employee_no: str) -> PendingInput | None:
    ids = await person_ids(factory)
    async with factory() as session:
        result = await session.exec(
            select(PendingInput).where(PendingInput.person_id == ids[employee_no])
        )
        return result.first()


async def snapshot(factory: SessionFactory, rid: int) -> tuple[object, ...]:
    """Everything a refused or stale action must leave untouched."""
    row = await referral_row(factory, rid)
    events = await events_of(factory, rid)
    due = await due_items_of(factory, rid)
    return (row.state, row.version, row.assignee_id, row.updated_at, len(events),
            tuple((d.id, d.done_at) for d in due))


def hhmm(at: datetime) -> str:
    """A time as cards show it (the demo deployment is in Shanghai)."""
    return at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")


def field_value(card: Card, label: str) -> str:
    return next(f.value for f in card.fields if f.label == label)


def titles(cards: list[Card]) -> list[str]:
    return [c.title for c in cards]


def only_card(sent: list, title: str) -> Card:
    """The single message in ``sent`` (outbound messages) whose card has this exact title."""
    cards = [m.card for m in sent if m.card.title == title]
    assert len(cards) == 1, (title, [m.card.title for m in sent])
    return cards[0]


async def submit(chat: LocalChat, text: str = REFER_SM, by: str = "E020") -> int:
    sent = await chat.say(by, text)
    card = next(m.card for m in sent if m.card.title.startswith("推荐已提交"))
    return int(field_value(card, "编号").lstrip("#"))


async def task_card(chat: LocalChat, factory: SessionFactory, rid: int, who: str) -> Card:
    """The task card for the referral's current version in ``who``'s chat."""
    version = (await referral_row(factory, rid)).version
    prefix = f"r{rid}v{version}-"
    # A prompt for typed input carries the version's prefix too (so the answer closes it).
    cards = [c for c in chat.inbox(who)
             if c.key and c.key.startswith(prefix) and "-prompt-" not in c.key]
    assert cards, (prefix, [(c.key, c.title) for c in chat.inbox(who)])
    return cards[-1]


async def act(chat: LocalChat, factory: SessionFactory, rid: int, who: str, label: str,
              text: str | None = None) -> list:
    """Tap ``label`` on ``who``'s current task card, then type ``text`` if it asks for input."""
    card = await task_card(chat, factory, rid, who)
    sent = await chat.tap(who, card, label)
    if text is not None:
        sent += await chat.say(who, text)
    return sent


# From a fresh referral of 店长 (in hr_review) to each state, by the people the cards go to.
PATHS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "hr_review": (),
    "needs_info": (("E011", "需补充", "近三年业绩；店长经历"),),
    "leader_approval": (("E011", "通过", None),),
    "interviewing": (("E011", "通过", None), ("E010", "同意", None)),
    "feedback": (("E011", "通过", None), ("E010", "同意", None), ("E011", "请用人经理反馈", None)),
    "offer": (("E011", "通过", None), ("E010", "同意", None), ("E011", "发offer", None)),
}


async def drive(chat: LocalChat, factory: SessionFactory, rid: int, stage: str) -> None:
    for who, label, text in PATHS[stage]:
        await act(chat, factory, rid, who, label, text)


async def referral_at(chat: LocalChat, factory: SessionFactory, stage: str,
                      text: str = REFER_SM) -> int:
    rid = await submit(chat, text)
    await drive(chat, factory, rid, stage)
    return rid


def share_messenger(*chats: LocalChat) -> RecordingMessenger:
    """Several chats on one database deliver into one record, whichever worker sends a row."""
    messenger = chats[0].messenger
    for chat in chats[1:]:
        chat.messenger = messenger
        chat.worker.messenger = messenger
    return messenger


@dataclass
class OverlapProbe:
    """Wraps a session factory and records how many sessions were open at once."""

    factory: SessionFactory
    open: int = 0
    peak: int = 0

    def __call__(self) -> _Tracked:
        return _Tracked(self, self.factory())


class _Tracked:
    def __init__(self, probe: OverlapProbe, inner: object) -> None:
        self.probe, self.inner = probe, inner

    async def __aenter__(self) -> object:
        self.probe.open += 1
        self.probe.peak = max(self.probe.peak, self.probe.open)
        return await self.inner.__aenter__()  # type: ignore[attr-defined]

    async def __aexit__(self, *exc: object) -> object:
        self.probe.open -= 1
        return await self.inner.__aexit__(*exc)  # type: ignore[attr-defined]
