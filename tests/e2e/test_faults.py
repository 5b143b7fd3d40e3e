"""Faults, simulated with the fake clock and injected failures (no real waiting):

- the database down for 30 s: callbacks are refused with 503 (the platform retries) and
  ``/readyz`` says so; every event that was acked is handled once it is back;
- the platform answering 5xx, 429 and timeouts for minutes: the outbox retries and every
  message reaches the platform exactly once;
- the process "killed" at random points (before or after a commit, between a send and its
  mark) during a 1,000-referral run: after each restart (new dispatcher, worker and clock
  on the same database) everything is consistent and every notification arrives once.

SQLite and PostgreSQL. Counts of what was injected and checked go to the run's summary.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from bot.adapters.dingtalk.http_mode import DingTalkHttpAdapter, robot_sign
from bot.cli.local_chat import LocalChat
from bot.config.schema import DingTalkConfig
from bot.core.context import Settings
from bot.core.events import Conversation, Event, EventKind, Platform
from bot.pipeline.intake import EventIntake
from bot.pipeline.messenger import OutboundMessage
from bot.serve.server import build_app
from storage.db import SessionFactory
from storage.models import Inbox, Outbox, OutboxStatus, Referral, ReferralEvent
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.replica import SinkMessenger
from tests._support.tally import count

BOTH = pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
SECRET = "app-secret"


class FlakyDatabase:
    """A session factory that is "down" on demand: every new unit of work fails like a lost
    connection. It has no ``kw`` (no engine), so the inbox writer takes sessions from it."""

    def __init__(self, inner: SessionFactory) -> None:
        self.inner = inner
        self.down = False
        self.refused = 0

    def __call__(self) -> Any:
        if self.down:
            self.refused += 1
            raise OperationalError("connect", {}, ConnectionRefusedError("database is down"))
        return self.inner()


def robot_message(msg_id: str, i: int) -> bytes:
    return json.dumps({
        "msgId": msg_id, "senderStaffId": "dt_zhang", "senderNick": "张经理",
        "conversationType": "1", "conversationId": "cid-zhang", "msgtype": "text",
        "text": {"content": f"推荐 店长 候选{i} 1380013{i:04d} 曾将社区商场月客流提升30%"},
        "robotCode": "robot",
    }, ensure_ascii=False).encode()


def signed(clock: FakeClock) -> dict[str, str]:
    ts = str(int(clock().timestamp() * 1000))
    return {"timestamp": ts, "sign": robot_sign(ts, SECRET)}


@BOTH
async def test_database_down_for_30_seconds_loses_nothing_acked(
    demo: SessionFactory, clock: FakeClock
) -> None:
    flaky = FlakyDatabase(demo)
    chat = LocalChat(session_factory=flaky, settings=Settings(), clock=clock)  # type: ignore[arg-type]
    config = DingTalkConfig(app_key="key", app_secret=SECRET, robot_code="robot",
                            card_template_id="tpl", mode="http")
    adapter = DingTalkHttpAdapter(config, clock)
    intake = EventIntake(chat.dispatcher, after_handling=chat.worker.drain)
    acked: set[str] = set()
    refused: list[str] = []
    async with TestClient(TestServer(build_app([adapter], intake))) as client:

        async def post(i: int) -> int:
            msg_id = f"msg-{i}"
            response = await client.post(
                "/dingtalk/callback", data=robot_message(msg_id, i), headers=signed(clock)
            )
            if response.status == 200:
                acked.add(msg_id)
            return response.status

        assert [await post(i) for i in range(5)] == [200] * 5
        assert (await client.get("/readyz")).status == 200
        await intake.drain()
        # Down just after acks: the events are stored, their handling fails.
        assert [await post(i) for i in range(5, 10)] == [200] * 5
        flaky.down = True
        await intake.drain()
        # 30 simulated seconds of outage, a callback each second: all refused with 503.
        for i in range(10, 40):
            clock.advance(seconds=1)
            assert await post(i) == 503
            refused.append(f"msg-{i}")
        readyz = await client.get("/readyz")
        assert readyz.status == 503 and (await readyz.json())["database"] == "unavailable"
        assert (await client.get("/healthz")).status == 200  # the process itself is fine
        count("faults injected: database refusals", flaky.refused)
        flaky.down = False
        assert (await client.get("/readyz")).status == 200
        # The platform retries what was refused (and once more what was acked).
        for i in range(40):
            clock.advance(seconds=1)
            assert await post(i) == 200
        await intake.drain()
    clock.advance(seconds=61)
    await chat.tick()  # redelivers what was acked but whose handling failed
    async with demo() as session:
        inbox = list((await session.exec(select(Inbox))).all())
        referrals = list((await session.exec(select(Referral))).all())
    assert sorted(r.event_id for r in inbox) == sorted(f"msg-{i}" for i in range(40))
    assert all(r.processed_at is not None for r in inbox)
    assert len(referrals) == 40 and len(acked) == 40
    lost = 40 - len({r.candidate_id for r in referrals})
    count("events acked after outage", len(acked))
    count("lost", lost)
    assert lost == 0


@dataclass
class Platform5xx:
    """respx side effect: for ``outage`` of simulated time every call fails (5xx, 429,
    timeout or refused connection in turn); then each POST is delivered, keyed by its
    idempotency key."""

    clock: FakeClock
    until: Any
    delivered: dict[str, int] = field(default_factory=dict)
    faults: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.clock() < self.until:
            self.faults += 1
            kind = self.faults % 4
            if kind == 0:
                raise httpx.ReadTimeout("timed out", request=request)
            if kind == 1:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(503 if kind == 2 else 429)
        key = json.loads(request.content)["idempotency_key"]
        self.delivered[key] = self.delivered.get(key, 0) + 1
        return httpx.Response(200, json={"ok": True})


@BOTH
@pytest.mark.parametrize("minutes", [0.5, 2])
async def test_platform_failing_for_minutes_delivers_every_message_once(
    demo: SessionFactory, clock: FakeClock, minutes: float
) -> None:
    chat = LocalChat(session_factory=demo, settings=Settings(), clock=clock)
    platform = Platform5xx(clock, clock() + timedelta(minutes=minutes))
    async with httpx.AsyncClient() as http:
        chat.worker.messenger = SinkMessenger(http, "http://platform.test/send", "faults")
        with respx.mock(assert_all_called=True) as router:
            router.post("http://platform.test/send").mock(side_effect=platform)
            for i in range(20):
                await chat.say("E020", f"推荐 店长 候选{i} 1380013{i:04d} 曾将月客流提升30%")
            # Simulated time passes second by second; the worker retries what is due.
            for _ in range(int(minutes * 60) + 300):
                clock.advance(seconds=1)
                await chat.worker.drain()
    rows = await db.all_rows(demo, Outbox)
    assert rows and {r.status for r in rows} == {OutboxStatus.SENT}
    assert set(platform.delivered) == {r.idempotency_key for r in rows}
    assert set(platform.delivered.values()) == {1}  # nothing sent twice
    assert platform.faults >= len(rows)  # every message met the outage
    count("faults injected: platform 5xx/429/timeouts", platform.faults)
    count("messages delivered once after outage", len(rows))
    count("lost", 0)


class SimulatedKill(Exception):
    """The process dies at a commit: nothing after it runs in this "process"."""


class KilledAfterSend(BaseException):
    """The process dies after the platform accepted a send, before the outbox marked it.

    A BaseException, so the worker does not take it for a failed send."""


@dataclass
class Killer:
    rng: random.Random
    rate: float
    kills: dict[str, int] = field(default_factory=dict)
    armed: bool = True

    def maybe(self, where: str) -> bool:
        if self.armed and self.rng.random() < self.rate:
            self.kills[where] = self.kills.get(where, 0) + 1
            return True
        return False


class KillingDatabase:
    """Sessions whose commit may "kill the process" just before or just after it commits."""

    def __init__(self, inner: SessionFactory, killer: Killer) -> None:
        self.inner = inner
        self.killer = killer

    def __call__(self) -> Any:
        session = self.inner()
        commit = session.commit

        async def killing_commit() -> None:
            if self.killer.maybe("before commit"):
                raise SimulatedKill("before commit")
            await commit()
            if self.killer.maybe("after commit"):
                raise SimulatedKill("after commit")

        session.commit = killing_commit  # type: ignore[method-assign]
        return session


@dataclass
class IdempotentPlatform:
    """Records sends by idempotency key; a repeated key is absorbed, as the platforms do."""

    killer: Killer
    delivered: dict[str, OutboundMessage] = field(default_factory=dict)
    repeats: int = 0

    async def deliver(self, message: OutboundMessage) -> None:
        if message.idempotency_key in self.delivered:
            self.repeats += 1
        else:
            self.delivered[message.idempotency_key] = message
        if self.killer.maybe("between send and mark"):
            raise KilledAfterSend()


class Run:
    """Drives events like a platform: retries until acked, then restarts the "process"
    (new dispatcher, worker and clock on the same database) after every kill."""

    def __init__(self, factory: SessionFactory, clock: FakeClock, killer: Killer) -> None:
        self.factory = factory
        self.clock = clock
        self.killer = killer
        self.platform = IdempotentPlatform(killer)
        self.restarts = 0
        self.bot = self._start()

    def _start(self) -> LocalChat:
        bot = LocalChat(
            session_factory=KillingDatabase(self.factory, self.killer),  # type: ignore[arg-type]
            settings=Settings(),
            clock=self.clock,
        )
        bot.worker.messenger = self.platform
        bot.runtime.runner.owner = f"run{self.restarts}"
        return bot

    async def restart(self) -> None:
        self.restarts += 1
        # Leases and the redelivery grace run out while the process is "down".
        self.clock.advance(seconds=61)
        self.bot = self._start()
        await self.settle(kills=True)

    async def settle(self, *, kills: bool) -> None:
        """Clock beats until a beat completes (kills allowed: each restarts)."""
        while True:
            try:
                await self.bot.runtime.tick()
                return
            except (SimulatedKill, KilledAfterSend):
                if not kills:
                    raise
                self.restarts += 1
                self.clock.advance(seconds=61)
                self.bot = self._start()

    async def deliver(self, event: Event) -> None:
        while True:
            try:
                new = await self.bot.dispatcher.accept(event)  # the ack goes out after this
            except SimulatedKill:
                await self.restart()
                continue  # not acked: the platform sends it again
            try:
                if new:
                    await self.bot.dispatcher.feed(event)
                    await self.bot.worker.drain()
            except (SimulatedKill, KilledAfterSend):
                await self.restart()
            return


def message(run_id: str, i: int, actor: str, text: str) -> Event:
    return Event(platform=Platform.SHELL, event_id=f"{run_id}-{i}", kind=EventKind.MESSAGE,
                 actor_id=actor, conversation=Conversation(id=actor), text=text)


async def check_consistent(factory: SessionFactory, run: Run, passed: set[int]) -> int:
    """Every invariant of the run; returns how many cells were checked."""
    checked = 0
    async with factory() as session:
        inbox = list((await session.exec(select(Inbox))).all())
        referrals = list((await session.exec(select(Referral).order_by(col(Referral.id)))).all())
        audit = list(await session.exec(select(ReferralEvent).order_by(col(ReferralEvent.id))))
        outbox = list((await session.exec(select(Outbox))).all())
    # Every stored event handled, exactly once (a second handling would have failed on the
    # unique outbox keys or left a second audit row, checked below).
    assert all(row.processed_at is not None for row in inbox)
    checked += len(inbox)
    trail: dict[int, list[ReferralEvent]] = {}
    for entry in audit:
        trail.setdefault(entry.referral_id, []).append(entry)
    for referral in referrals:
        moves = [e for e in trail[referral.id or 0] if e.to_state]
        assert moves[-1].to_state == referral.state, referral.id
        passes = [e for e in moves if e.action == "review.pass"]
        expected = 1 if referral.id in passed else 0
        assert len(passes) == expected, (referral.id, passes)
        assert referral.state == ("leader_approval" if expected else "hr_review")
        assert referral.version == 1 + expected
        checked += 1
    # Every notification queued was delivered, and exactly once as the platform sees it.
    assert {row.status for row in outbox} == {OutboxStatus.SENT}
    assert set(run.platform.delivered) == {row.idempotency_key for row in outbox}
    # A send is repeated only when the process died after it and before its mark committed:
    # killed after the send, or at the mark's commit. Each such kill repeats one send at most.
    kills = run.killer.kills
    assert run.platform.repeats <= kills.get("between send and mark", 0) + kills.get(
        "before commit", 0
    )
    checked += len(outbox)
    return checked


# 1,000 referrals killed at random points: about 45 s alone, more on a loaded machine.
@pytest.mark.timeout(400)
@pytest.mark.parametrize(
    ("db_kind", "referrals"), [("sqlite", 1000), ("postgres", 200)], indirect=["db_kind"]
)
async def test_killed_at_random_points_every_referral_consistent(
    demo: SessionFactory, clock: FakeClock, referrals: int
) -> None:
    killer = Killer(random.Random(20260303), rate=0.004)
    run = Run(demo, clock, killer)
    for i in range(referrals):
        text = f"推荐 店长 候选{i} 1380{i:07d} 曾将社区商场月客流提升30%"
        await run.deliver(message("submit", i, "E020", text))
    killer.armed = False
    await run.settle(kills=False)
    async with demo() as session:
        ids = list((await session.exec(select(Referral.id).order_by(col(Referral.id)))).all())
    assert len(ids) == referrals, "a referral was lost or doubled"
    passed = {rid for rid in ids if rid and rid % 2 == 0}
    killer.armed = True
    for rid in sorted(passed):
        await run.deliver(message("pass", rid, "E011", f"通过 {rid}"))
    killer.armed = False
    await run.settle(kills=False)
    checked = await check_consistent(demo, run, passed)
    kills = sum(killer.kills.values())
    assert kills > 10 and run.restarts >= kills
    for where, n in killer.kills.items():
        count(f"faults injected: kill {where}", n)
    count("restarts", run.restarts)
    count("cells checked after kills", checked)
    count("repeated sends absorbed by idempotency key", run.platform.repeats)
    count("lost", 0)
    print(f"\n{referrals} referrals, {kills} kills {killer.kills}, {run.restarts} restarts, "
          f"{checked} cells checked, {run.platform.repeats} repeated sends absorbed")
