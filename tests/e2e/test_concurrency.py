"""Two replicas of the bot on one database, two people tapping the same card at the same moment:
exactly one transition happens and the other person is told who got there first. The same event
delivered twice at once is handled once. SQLite (file) and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

import handlers.referral.workflow as workflow
from bot.cli.local_chat import LocalChat
from bot.core.context import Context, Settings
from bot.core.events import CardAction, Conversation, Event, EventKind, Platform
from handlers.referral.workflow import StaleAction, apply_transition
from storage.db import SessionFactory
from storage.models import Inbox, Person, Referral
from tests._support.clock import FakeClock
from tests._support.referrals import (
    OverlapProbe,
    due_items_of,
    events_of,
    person_ids,
    referral_row,
    share_messenger,
    submit,
    task_card,
)

BOTH = pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
POSTGRES = pytest.mark.parametrize("db_kind", ["postgres"], indirect=True)
ROUNDS = 20
HR = {"E011": "李HR", "E002": "陈HR总监"}  # both may review a 上海一店 referral


@pytest.fixture
async def replicas(demo: SessionFactory, clock: FakeClock) -> tuple[LocalChat, LocalChat]:
    """Two bots (dispatcher + outbox worker each) on one database, recording into one record."""

    def replica() -> LocalChat:
        return LocalChat(session_factory=demo, settings=Settings(), clock=clock)

    one, two = replica(), replica()
    share_messenger(one, two)
    return one, two


def probe_dispatchers(*chats: LocalChat) -> OverlapProbe:
    """Count the units of work the dispatchers have open at once (workers not included)."""
    probe = OverlapProbe(chats[0].dispatcher.session_factory)
    for chat in chats:
        chat.dispatcher.session_factory = probe  # type: ignore[assignment]
    return probe


async def submit_many(chat: LocalChat, n: int) -> list[int]:
    return [await submit(chat, f"推荐 店长 候选{i} 1380013{i:04d} 曾将社区商场月客流提升30%")
            for i in range(n)]


async def assert_moved_once(demo: SessionFactory, rid: int, action: str) -> str:
    """Version advanced exactly once, one audit event, one set of SLA items; returns the actor."""
    row = await referral_row(demo, rid)
    assert (row.state, row.version) == ("leader_approval", 2)
    moves = [e for e in await events_of(demo, rid) if e.action == action]
    assert len(moves) == 1
    due = await due_items_of(demo, rid)
    assert sorted((d.payload["stage"], d.cancelled) for d in due) == (
        [("hr_review", True)] * 3 + [("leader_approval", False)] * 3)
    return {v: k for k, v in (await person_ids(demo)).items()}[moves[0].actor_id or 0]


@BOTH
async def test_concurrent_taps_exactly_one_wins(
    replicas: tuple[LocalChat, LocalChat], demo: SessionFactory
) -> None:
    one, two = replicas
    rids = await submit_many(one, ROUNDS)
    probe = probe_dispatchers(one, two)
    messenger = one.messenger
    for i, rid in enumerate(rids):
        card = await task_card(one, demo, rid, "E011")
        start, probe.peak = len(messenger.sent), 0
        taps = [one.tap("E011", card, "通过"), two.tap("E002", card, "通过")]
        await asyncio.gather(*(taps if i % 2 else taps[::-1]))
        assert probe.peak == 2, "the two taps did not overlap"
        assert one.last_result and two.last_result
        assert not one.last_result.duplicate and not two.last_result.duplicate

        winner = await assert_moved_once(demo, rid, "review.pass")
        loser = next(who for who in HR if who != winner)
        sent = messenger.sent[start:]
        won = [m for m in sent if m.target == winner]
        assert [(m.kind, m.card.key, m.card.status[:6]) for m in won] == [
            ("card_update", card.key, "HR审核通过")]
        # The loser's own task card (if the card was theirs) is closed as well (issue 16).
        closed = [m for m in sent if m.target == loser and m.kind == "card_update"]
        assert [(m.card.key, m.card.buttons) for m in closed] == (
            [(card.key, ())] if loser == "E011" else [])
        lost = [m.card for m in sent if m.target == loser and m.kind != "card_update"]
        assert [c.title for c in lost] == [f"已处理 · 候选{i}"]
        assert lost[0].body.startswith(f"已由 {HR[winner]} 于 ")
        assert [m.target for m in sent if m.card.title.startswith("推荐审批")] == ["E010"]
        assert [m.target for m in sent if m.card.title.startswith("推荐进展")] == ["E020"]


@POSTGRES
async def test_race_decided_by_the_conditional_update(
    replicas: tuple[LocalChat, LocalChat], demo: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both taps read version 1 before either writes: the version-checked UPDATE picks one."""
    one, two = replicas
    rids = await submit_many(one, ROUNDS)
    both_read = asyncio.Barrier(2)
    outcomes: list[bool] = []
    real_move = workflow.move_referral

    async def move_after_both_read(**kw: object) -> bool:
        await asyncio.wait_for(both_read.wait(), timeout=10)
        moved = await real_move(**kw)  # type: ignore[arg-type]
        outcomes.append(moved)
        return moved

    monkeypatch.setattr(workflow, "move_referral", move_after_both_read)
    for i, rid in enumerate(rids):
        card = await task_card(one, demo, rid, "E011")
        start = len(one.messenger.sent)
        await asyncio.gather(one.tap("E011", card, "通过"), two.tap("E002", card, "通过"))
        assert outcomes[-2:] in ([True, False], [False, True])
        winner = await assert_moved_once(demo, rid, "review.pass")
        stale = [m.card for m in one.messenger.sent[start:] if m.target != winner
                 and m.card.title == f"已处理 · 候选{i}"]
        assert len(stale) == 1 and stale[0].body.startswith(f"已由 {HR[winner]} 于 ")
    assert len(outcomes) == 2 * ROUNDS


@BOTH
async def test_stale_in_memory_version_is_refused_by_the_update(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    """A referral read before a colleague's commit still carries version 1; writing with it
    must change nothing even though the early check (on that stale copy) passes."""
    rid = await submit(chat)
    ids = await person_ids(demo)
    event = Event(platform=Platform.SHELL, event_id="x", kind=EventKind.CARD_ACTION,
                  actor_id="E002", conversation=Conversation(id="E002"))
    async with demo() as session:
        stale = await session.get(Referral, rid)
        person = await session.get(Person, ids["E002"])
        assert stale is not None and person is not None and stale.version == 1
        await session.commit()
        await chat.say("E011", f"通过 {rid}")  # commits version 2 meanwhile
        ctx = Context(event=event, session=session, person=person, now=clock.now,
                      settings=Settings())
        with pytest.raises(StaleAction) as caught:
            await apply_transition(ctx, stale, "review.pass", version=1)
        assert caught.value.event is not None and caught.value.event.actor_id == ids["E011"]
        await session.commit()
    assert await assert_moved_once(demo, rid, "review.pass") == "E011"


@BOTH
@pytest.mark.parametrize("accepted", [False, True], ids=["fed", "accepted-then-fed"])
@pytest.mark.parametrize("bots", [1, 2])
async def test_duplicate_event_delivered_twice_at_once_is_handled_once(
    bots: int, accepted: bool, replicas: tuple[LocalChat, LocalChat], demo: SessionFactory,
    clock: FakeClock,
) -> None:
    """The same platform event twice at once: straight into feed (both insert the inbox row),
    or stored at ack time first and then fed by two replicas (both lock the stored row)."""
    one, two = replicas
    rid = await submit(one)
    card = await task_card(one, demo, rid, "E011")
    button = card.buttons[0]
    assert button.action == "review.pass"
    event = Event(platform=Platform.SHELL, event_id="dt-callback-42", kind=EventKind.CARD_ACTION,
                  actor_id="E011", conversation=Conversation(id="E011"),
                  action=CardAction(button.action, dict(button.params), card.key))
    second = two if bots == 2 else one  # one bot: its per-actor lock; two: the inbox row
    if accepted:
        assert await one.dispatcher.accept(event)
        assert not await two.dispatcher.accept(event)  # a platform retry before handling
    probe = probe_dispatchers(one, two)
    start = len(one.messenger.sent)
    results = await asyncio.gather(one.dispatcher.feed(event), second.dispatcher.feed(event))
    await one.worker.drain()
    assert sorted(r.duplicate for r in results) == [False, True]
    handled = next(r for r in results if not r.duplicate)
    duplicate = next(r for r in results if r.duplicate)
    assert (handled.route, duplicate.route, duplicate.outbox_ids) == (
        "action:review.pass", "duplicate", ())
    assert probe.peak == bots
    assert await assert_moved_once(demo, rid, "review.pass") == "E011"
    sent = one.messenger.sent[start:]
    # The tapped card's update, the approval task, the progress notice, and (issue 16) the
    # referrer's 推荐已提交 card following the state.
    assert len(sent) == len(handled.outbox_ids) == 4
    assert sorted(m.target for m in sent if m.kind == "card_update") == ["E011", "E020"]
    async with demo() as session:
        rows = (await session.exec(select(Inbox).where(Inbox.event_id == event.event_id))).all()
        assert [(r.processed_at, r.outcome) for r in rows] == [(clock.now, "action:review.pass")]
    clock.advance(seconds=1)
    assert (await one.dispatcher.feed(event)).duplicate  # and a later retry too
    assert (await referral_row(demo, rid)).version == 2


async def test_second_local_chat_on_one_database_is_heard(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await submit(chat)
    restarted = LocalChat(session_factory=demo, settings=Settings(), clock=clock)
    sent = await restarted.say("E011", "待办")
    assert restarted.last_result is not None and not restarted.last_result.duplicate
    assert sent
