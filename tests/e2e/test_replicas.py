"""Several bot replicas as real processes on one PostgreSQL database (PostgreSQL only).

Three replicas share 2,000 due SLA items falling due over a few seconds of real time; one is
SIGKILLed mid-run, the other two take over its claims when the lease runs out. Every item runs
once, every reminder reaches the "platform" (an HTTP sink in the test process that, like
WeCom and DingTalk, absorbs a repeated idempotency key), and a send repeated after the crash is
the only duplicate attempt. A replica stopped with SIGTERM exits 0 and leaves nothing locked.

The replicas run on the real clock, so everything here polls with a timeout; nothing asserts
timing by sleeping.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.cli.demo import seed_demo
from storage.db import SessionFactory, make_engine, make_session_factory, session_scope
from storage.migrate import upgrade_database
from storage.models import Candidate, DueItem, Person, Position, Referral, ReferralState
from tests._support.paths import ROOT as _ROOT
from tests._support.pg import fresh_pg_url

# PostgreSQL only (FOR UPDATE SKIP LOCKED between processes); the ids read test_...[postgres].
pytestmark = pytest.mark.parametrize("db_kind", ["postgres"], indirect=True)

ROOT = _ROOT
SWEEP_SECONDS = 0.2
CLAIM_SECONDS = 8  # lease: how soon a killed replica's claims are taken over
OUTBOX_BATCH = 100  # OutboxWorker.drain's claim batch: the most sends a crash can leave open
REPLICA_CMD = [sys.executable, "-m", "tests._support.replica"]
HR, HR_LEAD = "E011", "E002"  # 李HR reviews 店长 referrals; her lead 陈HR总监 gets escalations


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    factory: SessionFactory

    async def scalar(self, sql: str, **params: object) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text(sql), params)).scalar_one())

    async def due_progress(self) -> tuple[int, int]:
        """(done, all) due items."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(text("SELECT count(done_at), count(*) FROM due_item"))).one()
        return int(row[0]), int(row[1])

    async def outbox_progress(self) -> tuple[int, int]:
        """(sent, all) outbox rows."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FROM outbox")
                )
            ).one()
        return int(row[0]), int(row[1])


@dataclass
class Sink:
    """A platform stand-in: the first POST of an idempotency key is delivered, later ones are
    duplicate attempts it absorbs (answered 200 as well)."""

    url: str = ""
    delivered: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> first body
    attempts: Counter[str] = field(default_factory=Counter)  # key -> POSTs
    posts_by: Counter[str] = field(default_factory=Counter)  # owner -> POSTs

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = str(body["idempotency_key"])
        self.attempts[key] += 1
        self.posts_by[str(body["owner"])] += 1
        self.delivered.setdefault(key, {k: str(v) for k, v in body.items()})
        return web.json_response({"ok": True, "duplicate": self.attempts[key] > 1})

    @property
    def posts(self) -> int:
        return sum(self.attempts.values())

    def duplicates(self) -> dict[str, int]:
        return {key: n for key, n in self.attempts.items() if n > 1}


@dataclass
class Replica:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @classmethod
    def start(cls, name: str, db: Database, sink: Sink, log_dir: Path) -> Replica:
        log_path = log_dir / f"{name}.log"
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            [
                *REPLICA_CMD,
                "--database-url", db.url,
                "--sink", sink.url,
                "--owner", name,
                "--sweep-seconds", str(SWEEP_SECONDS),
                "--claim-seconds", str(CLAIM_SECONDS),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        return cls(name=name, process=process, log_path=log_path, log_file=log_file)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    async def exit_code(self, timeout: float) -> int | None:
        """The exit code, or None if still running after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.alive and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.process.poll()

    def log_tail(self, lines: int = 25) -> str:
        self.log_file.flush()
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} (exit {self.process.poll()}) ---\n" + "\n".join(tail)

    def close(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        self.log_file.close()


@pytest.fixture
async def database(db_kind: str) -> AsyncIterator[Database]:
    """A fresh PostgreSQL database, migrated to head, with the demo org."""
    assert db_kind == "postgres"
    url = await fresh_pg_url()  # skips without PostgreSQL; fails under CI=true
    await upgrade_database(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    people, positions = await seed_demo(factory)
    assert people.ok and positions.ok, (people.errors, positions.errors)
    yield Database(url=url, engine=engine, factory=factory)
    await engine.dispose()


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    recorder = Sink()
    app = web.Application()
    app.router.add_post("/messages", recorder.receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    recorder.url = f"http://{host}:{port}/messages"
    yield recorder
    await runner.cleanup()


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    """Every replica a test starts; whatever is still running at the end is killed."""
    started: list[Replica] = []
    yield started
    for replica in started:
        replica.close()


async def seed_due_referrals(
    db: Database, count: int, due_at: Callable[[int], datetime]
) -> list[int]:
    """``count`` 店长 referrals waiting for 李HR's review, each with a reminder and an
    escalation due at ``due_at(i)``, written directly; returns the due item ids."""
    async with session_scope(db.factory) as session:
        position = (await session.exec(select(Position).where(Position.code == "SH1-SM"))).one()
        people = {p.employee_no: p for p in (await session.exec(select(Person))).all()}
        hr, referrer = people[HR], people["E020"]
        now = datetime.now(UTC)
        candidates = [
            Candidate(name=f"候选{i}", phone=f"1380013{i:04d}", consent=True, consent_at=now)
            for i in range(count)
        ]
        session.add_all(candidates)
        await session.flush()
        referrals = [
            Referral(
                candidate_id=candidate.id or 0,
                position_id=position.id or 0,
                referrer_id=referrer.id or 0,
                reason="曾将社区商场月客流提升30%",
                state=ReferralState.HR_REVIEW,
                version=1,
                assignee_id=hr.id,
                stage_due_at=due_at(i),
                stage_entered_at=now,
            )
            for i, candidate in enumerate(candidates)
        ]
        session.add_all(referrals)
        await session.flush()
        items: list[DueItem] = []
        for referral in referrals:
            assert referral.stage_due_at is not None
            payload = {"stage": "hr_review", "assignee_id": hr.id, "version": 1}
            for kind, extra in (("sla.remind", {"fraction": 1.0}), ("sla.escalate", {})):
                items.append(
                    DueItem(
                        kind=kind,
                        subject=f"referral:{referral.id}",
                        referral_id=referral.id,
                        due_at=referral.stage_due_at,
                        payload={**payload, **extra},
                        created_at=now,
                    )
                )
        session.add_all(items)
        await session.flush()
        return [item.id or 0 for item in items]


async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    *,
    timeout: float,
    what: str,
    running: list[Replica],
    every: float = 0.5,
) -> float:
    """Poll ``condition`` until true; returns the seconds it took. Fails at ``timeout`` or as
    soon as one of the ``running`` replicas dies, with their logs."""
    start = time.monotonic()
    while not await condition():
        dead = [r for r in running if not r.alive]
        if dead or time.monotonic() - start > timeout:
            problem = f"{[r.name for r in dead]} died" if dead else f"timed out after {timeout}s"
            logs = "\n".join(r.log_tail() for r in running)
            pytest.fail(f"waiting for {what}: {problem}\n{logs}")
        await asyncio.sleep(every)
    return time.monotonic() - start


async def stop_cleanly(replicas: list[Replica], timeout: float = 15) -> None:
    """SIGTERM each replica; every one must exit 0 within ``timeout`` seconds."""
    for replica in replicas:
        replica.signal(signal.SIGTERM)
    codes = [await replica.exit_code(timeout) for replica in replicas]
    logs = "\n".join(r.log_tail() for r in replicas)
    assert codes == [0] * len(replicas), f"exit codes {codes}\n{logs}"


# Real processes and 2,000 due items: about 25 s alone.
@pytest.mark.timeout(300)
async def test_three_replicas_share_the_clock_and_survive_one_killed(
    database: Database, sink: Sink, replicas: list[Replica], tmp_path: Path
) -> None:
    referrals = 1000
    began = time.monotonic()
    base = datetime.now(UTC) + timedelta(seconds=1)
    ids = await seed_due_referrals(
        database, referrals, lambda i: base + timedelta(seconds=8 * i / referrals)
    )
    total = len(ids)
    assert total == 2000
    seeded = time.monotonic()

    replicas.extend(Replica.start(name, database, sink, tmp_path) for name in ("r1", "r2", "r3"))
    victim, survivors = replicas[0], replicas[1:]

    async def victim_busy() -> bool:
        done, _ = await database.due_progress()
        return done >= 0.3 * total and sink.posts_by[victim.name] > 0

    await wait_until(victim_busy, timeout=60, what="30 % done", running=replicas, every=0.05)
    assert victim.alive
    sent_by_victim = sink.posts_by[victim.name]
    done_at_kill, _ = await database.due_progress()
    victim.signal(signal.SIGKILL)
    assert await victim.exit_code(10) == -signal.SIGKILL
    killed = time.monotonic()
    orphaned = await database.scalar(
        "SELECT count(*) FROM due_item WHERE claimed_by = :owner AND done_at IS NULL",
        owner=victim.name,
    )
    assert done_at_kill < total, "everything was done before the kill: nothing to take over"

    async def all_delivered() -> bool:
        done, _ = await database.due_progress()
        sent, queued = await database.outbox_progress()
        return done == total and sent == queued == total and len(sink.delivered) == total

    await wait_until(all_delivered, timeout=120, what="all done and sent", running=survivors)
    finished = time.monotonic()
    await stop_cleanly(survivors)

    # Every due item ran exactly once: done, without error, and its one card was queued once
    # (an item's outbox rows commit with its done_at, so a second run would add a second row
    # or fail on the unique idempotency key).
    async with database.factory() as session:
        every = list((await session.exec(select(DueItem))).all())
    items = [i for i in every if i.id in set(ids)]
    assert len(items) == total
    assert all(i.done_at is not None and not i.cancelled and i.error == "" for i in items)
    # Each escalation also booked the next one a day later (issue 16), still waiting.
    later = [i for i in every if i.id not in set(ids)]
    assert len(later) == referrals
    assert all(i.kind == "sla.escalate" and i.done_at is None for i in later)
    async with database.engine.connect() as conn:
        keys = (await conn.execute(text("SELECT idempotency_key, status FROM outbox"))).all()
    assert len(keys) == total
    assert {key for key, _ in keys} == {f"due:{item_id}:0" for item_id in ids}
    assert {status for _, status in keys} == {"sent"}

    # The platform got every reminder and escalation, none missing.
    assert set(sink.delivered) == {f"due:{item_id}:0" for item_id in ids}
    targets = Counter(body["target"] for body in sink.delivered.values())
    assert targets == {HR: referrals, HR_LEAD: referrals}
    # A repeated send is possible only for what the killed replica had claimed and not
    # recorded as sent; the platform absorbs it.
    duplicates = sink.duplicates()
    assert sum(n - 1 for n in duplicates.values()) <= OUTBOX_BATCH, duplicates
    assert sent_by_victim > 0

    ran_by = Counter(i.claimed_by for i in items)
    delivered_by = Counter(body["owner"] for body in sink.delivered.values())
    print(
        f"\n{total} due items, {referrals} referrals; seeding {seeded - began:.1f}s, "
        f"start to all delivered {finished - seeded:.1f}s (kill at {killed - seeded:.1f}s, "
        f"{done_at_kill / total:.0%} done, {orphaned} claims orphaned by {victim.name}); "
        f"items run by {dict(ran_by)}; delivered by {dict(delivered_by)}; "
        f"POSTs by {dict(sink.posts_by)}; duplicate attempts {duplicates or 'none'}"
    )


async def test_sigterm_mid_work_stops_cleanly_and_another_replica_finishes(
    database: Database, sink: Sink, replicas: list[Replica], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    ids = await seed_due_referrals(database, 250, lambda i: now - timedelta(seconds=1))
    total = len(ids)
    assert total == 500

    first = Replica.start("first", database, sink, tmp_path)
    replicas.append(first)

    async def sending() -> bool:
        return sink.posts > 0

    await wait_until(sending, timeout=45, what="the first message", running=[first], every=0.02)
    first.signal(signal.SIGTERM)
    code = await first.exit_code(15)
    assert code == 0, first.log_tail()

    # A clean stop leaves nothing locked: no due item still leased to it, no outbox row
    # claimed and unsent. What it had not claimed waits for the next replica.
    leased = await database.scalar(
        "SELECT count(*) FROM due_item WHERE claimed_by = 'first' AND done_at IS NULL "
        "AND claimed_until > now()"
    )
    assert leased == 0
    stuck = await database.scalar(
        "SELECT count(*) FROM outbox WHERE status NOT IN ('sent', 'pending') "
        "OR (status = 'pending' AND claimed_until > now())"
    )
    assert stuck == 0
    done_by_first, _ = await database.due_progress()
    sent_by_first, queued_by_first = await database.outbox_progress()
    assert sink.posts == len(sink.delivered) == sent_by_first

    second = Replica.start("second", database, sink, tmp_path)
    replicas.append(second)

    async def all_delivered() -> bool:
        done, _ = await database.due_progress()
        sent, queued = await database.outbox_progress()
        return done == total and sent == queued == total and len(sink.delivered) == total

    took = await wait_until(all_delivered, timeout=45, what="the rest", running=[second])
    await stop_cleanly([second])

    assert set(sink.delivered) == {f"due:{item_id}:0" for item_id in ids}
    assert sink.duplicates() == {}  # a clean stop repeats nothing
    print(
        f"\nSIGTERM after {sent_by_first} of {total} sent ({done_by_first} items done, "
        f"{queued_by_first} queued by then); the second replica finished in {took:.1f}s; "
        f"POSTs by {dict(sink.posts_by)}"
    )
