"""Priority lanes and shared send windows (issue: delivery at the platforms' limits).

An answer to the person who just tapped goes before any reminder or bulk card, bulk is
round-robin over recipients, and a platform's per-member limit is counted in the database so
two replicas together never exceed it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage.db import SessionFactory, make_engine, make_session_factory, session_scope
from storage.models import SendLane
from storage.repo.outbox import claim_messages, enqueue_message
from storage.repo.send_window import take_send_slot
from tests._support.clock import FakeClock

BOTH = pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
WECOM_MEMBER = ((30, 60.0), (1000, 3600.0))


async def _queue(factory: SessionFactory, clock: FakeClock, target: str, lane: int, n: int,
                 tag: str) -> None:
    async with session_scope(factory) as session:
        for i in range(n):
            await enqueue_message(
                session=session, idempotency_key=f"{tag}:{target}:{i}", platform="wecom",
                target_kind="person", target=target, group=False, kind="card",
                payload={"card": {}}, now=clock(), lane=lane,
            )


@BOTH
async def test_a_reply_goes_before_a_bulk_backlog_and_a_batch_takes_turns(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    await _queue(session_factory, clock, "lihr", SendLane.BULK, 3, "digest")
    for person in ("wangzong", "zhaozong"):
        await _queue(session_factory, clock, person, SendLane.BULK, 2, "weekly")
    await _queue(session_factory, clock, "zhangjl", SendLane.NOTIFY, 1, "task")
    await _queue(session_factory, clock, "zhangjl", SendLane.REPLY, 1, "tap")  # queued last
    async with session_scope(session_factory) as session:
        rows = await claim_messages(session=session, now=clock(), lease=timedelta(seconds=60),
                                    limit=9)
    order = [(row.lane, row.target) for row in rows]
    assert order[0] == (SendLane.REPLY, "zhangjl")
    assert order[1] == (SendLane.NOTIFY, "zhangjl")
    # Within the batch the first bulk round reaches everyone before anyone's second card.
    assert [target for _, target in order[2:5]] == ["lihr", "wangzong", "zhaozong"]


@BOTH
async def test_the_member_window_is_counted_in_the_database(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    waits = []
    for _ in range(31):
        async with session_scope(session_factory) as session:
            waits.append(await take_send_slot(session=session, key="wecom:member:lihr",
                                              limits=WECOM_MEMBER, now=clock()))
        clock.advance(seconds=1)
    assert waits[:30] == [None] * 30
    # The 31st, one second after the 30th: the first send leaves the minute 29 s later.
    assert waits[30] == pytest.approx(30.0, abs=0.01)
    clock.advance(seconds=30)
    async with session_scope(session_factory) as session:
        assert await take_send_slot(session=session, key="wecom:member:lihr",
                                    limits=WECOM_MEMBER, now=clock()) is None
        # Other members have their own window.
        assert await take_send_slot(session=session, key="wecom:member:zhaozong",
                                    limits=WECOM_MEMBER, now=clock()) is None


@pytest.mark.parametrize("db_kind", ["postgres"], indirect=True)
async def test_two_replicas_together_never_pass_the_member_limit(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    # A second engine on the same database is a second replica: its own pool, its own process
    # state, the same rows.
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    other_engine = make_engine(url)
    other = make_session_factory(other_engine)
    now = clock()

    async def take(factory: SessionFactory) -> bool:
        async with session_scope(factory) as session:
            return await take_send_slot(session=session, key="wecom:member:lihr",
                                        limits=WECOM_MEMBER, now=now) is None

    try:
        granted = await asyncio.gather(*(take(f) for _ in range(20)
                                         for f in (session_factory, other)))
    finally:
        await other_engine.dispose()
    assert sum(granted) == 30
