"""Benchmark: a bulk backlog drained at DingTalk's limits by two replicas, one killed midway.

Run from the repository root (PostgreSQL must be up)::

    .venv/bin/python -m bench.delivery                     # 800 cards + 800 copies, 400 people
    .venv/bin/python -m bench.delivery --people 2000 --cards 8000   # the issue's full size

What it does, all on 127.0.0.1: starts the sandbox (the fake DingTalk enforces 20 calls a
second per API and answers the 21st with ``QpsLimitForAppkeyAndApi``) with a generated
directory; queues ``--cards`` personal task cards (each its own ``createAndDeliver``) and one
announcement to every person (batched, 20 per ``batchSend``) on a fresh PostgreSQL database;
starts two replica processes (``--replica``), each an outbox worker with the shared send
window; SIGKILLs one when half is sent and starts it again a second later; while they drain,
queues an answer to a tap every 0.2 s and times it from queued to sent.

Prints: completion time against the minimum the documented limits allow (calls needed per
API / 20 per second, the slowest API decides), throttling errors and duplicate deliveries
seen by the fake, the taps' p50/p99, and each replica's peak RSS. Never a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlmodel import col

from bot.adapters.dingtalk.client import MAX_BATCH_USERS, DingTalkClient
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.dingtalk.ratelimit import DEFAULT_LIMIT, DEFAULT_WINDOW
from bot.config.schema import DingTalkConfig
from bot.pipeline.outbox import OutboxWorker
from bot.serve.send_windows import DatabaseSendWindow
from cards.models import Button, Card
from sandbox.app import start_sandbox, world_of
from sandbox.settings import SandboxSettings
from storage.db import (
    SessionFactory,
    create_all,
    make_engine,
    make_session_factory,
    session_scope,
)
from storage.models import Outbox, OutboxStatus, SendLane
from storage.repo.outbox import enqueue_message

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "hrbot_bench_delivery"
KEY, SECRET, ROBOT, TEMPLATE = "benchkey", "benchsecret", "benchrobot", "benchtpl"
LEASE_SECONDS = 3.0


def _people_csv(path: Path, people: int) -> None:
    rows = ["employee_no,name,org_path,roles,dingtalk_user_id,dingtalk_union_id,wecom_userid,lead"]
    rows += [f"B{n:05d},员工{n},总部/华东/门店{n % 50},referrer,dt_b{n},un_b{n},wx_b{n},"
             for n in range(people)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _config(sandbox_url: str) -> DingTalkConfig:
    return DingTalkConfig(app_key=KEY, app_secret=SECRET, robot_code=ROBOT,
                          card_template_id=TEMPLATE, api_base=sandbox_url,
                          oapi_base=sandbox_url)


async def _replica(db_url: str, sandbox_url: str) -> None:
    """One replica: an outbox worker on the shared database and send window, until killed."""
    engine = make_engine(db_url)
    factory = make_session_factory(engine)

    def clock() -> datetime:
        return datetime.now(UTC)

    async with httpx.AsyncClient() as http:
        client = DingTalkClient(_config(sandbox_url), http, clock,
                                window=DatabaseSendWindow(factory, clock))
        messenger = DingTalkMessenger(client, TEMPLATE, ROBOT, plain_as_markdown=True)
        worker = OutboxWorker(session_factory=factory, messenger=messenger, clock=clock,
                              lease=timedelta(seconds=LEASE_SECONDS))
        while True:
            if not await worker.drain(limit=40):
                await asyncio.sleep(0.05)


def _start_replica(db_url: str, sandbox_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.delivery", "--replica", "--db", db_url,
         "--sandbox", sandbox_url],
    )


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def _fresh_database(admin_url: str) -> str:
    engine = make_engine(admin_url)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        await conn.exec_driver_sql(f"CREATE DATABASE {BENCH_DB}")
    await engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + BENCH_DB


async def _queue(factory: SessionFactory, people: int, cards: int) -> None:
    now = datetime.now(UTC)
    notice = Card(title="通知", body="本周五 18:00 前提交门店推荐名单").to_dict()
    async with session_scope(factory) as session:
        for n in range(cards):
            card = Card(title=f"推荐审核 · 候选人{n}", key=f"r{n}v1-review_task",
                        buttons=(Button(label="通过", action="review.pass",
                                        params={"rid": str(n)}),)).to_dict()
            await enqueue_message(
                session=session, idempotency_key=f"card:{n}", platform="dingtalk",
                target_kind="person", target=f"dt_b{n % people}", group=False, kind="card",
                payload={"card": card}, now=now, lane=SendLane.BULK,
            )
        for n in range(people):
            await enqueue_message(
                session=session, idempotency_key=f"notice:{n}", platform="dingtalk",
                target_kind="person", target=f"dt_b{n}", group=False, kind="card",
                payload={"card": notice}, now=now, lane=SendLane.BULK,
            )


async def _pending(factory: SessionFactory) -> int:
    async with factory() as session:
        return int(await session.scalar(
            select(func.count()).where(col(Outbox.status) == OutboxStatus.PENDING)
        ) or 0)


async def _taps(factory: SessionFactory, stop: asyncio.Event) -> list[str]:
    """An answer to a tap every 0.2 s while the backlog drains (each its own content)."""
    keys: list[str] = []
    while not stop.is_set():
        key = f"tap:{len(keys)}"
        async with session_scope(factory) as session:
            await enqueue_message(
                session=session, idempotency_key=key, platform="dingtalk",
                target_kind="person", target=f"dt_b{len(keys) % 7}", group=False, kind="card",
                payload={"card": Card(title="已通过", body=f"第 {len(keys)} 次点击").to_dict()},
                now=datetime.now(UTC), lane=SendLane.REPLY,
            )
        keys.append(key)
        await asyncio.sleep(0.2)
    return keys


async def _tap_latencies(factory: SessionFactory, keys: list[str]) -> list[float]:
    async with factory() as session:
        rows = (await session.execute(
            select(col(Outbox.created_at), col(Outbox.sent_at))
            .where(col(Outbox.idempotency_key).in_(keys))
        )).all()
    return sorted((sent - created).total_seconds() for created, sent in rows if sent)


async def run(args: argparse.Namespace) -> None:
    db_url = await _fresh_database(args.db)
    engine = make_engine(db_url)
    await create_all(engine)
    factory = make_session_factory(engine)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "people.csv"
        _people_csv(csv, args.people)
        runner, sandbox_url = await start_sandbox(SandboxSettings(
            people_csv=csv, dingtalk_app_key=KEY, dingtalk_app_secret=SECRET,
            dingtalk_robot_code=ROBOT, dingtalk_card_template_id=TEMPLATE,
        ))
        world = world_of(runner.app)
        await _queue(factory, args.people, args.cards)
        total = args.cards + args.people
        # The slowest API decides: createAndDeliver per card, batchSend per 20 people.
        batch_calls = math.ceil(args.people / MAX_BATCH_USERS)
        minimum = max(args.cards, batch_calls) * DEFAULT_WINDOW / DEFAULT_LIMIT
        stop_taps = asyncio.Event()
        taps = asyncio.create_task(_taps(factory, stop_taps))
        started = time.perf_counter()
        replicas = [_start_replica(db_url, sandbox_url) for _ in range(2)]
        killed_rss = 0.0
        try:
            while (await _pending(factory)) > total // 2:
                await asyncio.sleep(0.1)
            killed_rss = _peak_rss_mb(replicas[0].pid)
            replicas[0].send_signal(signal.SIGKILL)
            replicas[0].wait()
            killed_at = time.perf_counter() - started
            await asyncio.sleep(1.0)
            replicas[0] = _start_replica(db_url, sandbox_url)
            while await _pending(factory) > 0:
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - started
            rss = [killed_rss, *(_peak_rss_mb(r.pid) for r in replicas)]
        finally:
            stop_taps.set()
            for replica in replicas:
                replica.kill()
                replica.wait()
        keys = await taps
        await asyncio.sleep(0.5)
        latencies = await _tap_latencies(factory, keys)
        limits = world.limits.counts()
        cards_seen = Counter(
            c["body"]["outTrackId"] for c in world.calls
            if c["path"].endswith("/createAndDeliver") and c["status"] == 200
        )
        notices = Counter(m.conversation for m in world.messages
                          if "门店推荐名单" in (m.text or ""))
        async with factory() as session:
            failed = await session.scalar(
                select(func.count()).where(col(Outbox.status) == OutboxStatus.FAILED))
        await runner.cleanup()
    await engine.dispose()
    print(f"backlog: {args.cards} personal cards + {args.people} copies of one announcement "
          f"to {args.people} people; two replicas, one SIGKILLed at {killed_at:.1f} s")
    print(f"completion: {elapsed:.1f} s; minimum the limits allow: {minimum:.1f} s "
          f"(20 calls per 1.05 s per API); ratio {elapsed / minimum:.2f}")
    print(f"throttling errors from the fake: {limits['dingtalk_throttled']}; "
          f"failed rows: {failed}")
    print(f"cards delivered: {len(cards_seen)} of {args.cards}, "
          f"delivered twice: {sum(1 for n in cards_seen.values() if n > 1)}; "
          f"announcement copies: {sum(notices.values())} to {len(notices)} people "
          f"(duplicates: {sum(n - 1 for n in notices.values())})")
    if latencies:
        p99 = latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)]
        print(f"answers to taps during the drain: {len(latencies)}, "
              f"p50 {statistics.median(latencies):.2f} s, p99 {p99:.2f} s")
    print("peak RSS per replica (MB): " + ", ".join(f"{r:.0f}" for r in rss)
          + " (the first is the killed one)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--cards", type=int, default=800)
    parser.add_argument("--db", default=os.environ.get("HRBOT_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--replica", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sandbox", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replica:
        asyncio.run(_replica(args.db, args.sandbox))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
