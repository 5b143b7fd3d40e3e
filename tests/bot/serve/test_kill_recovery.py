"""Real processes killed with SIGKILL at a random moment of a burst: nothing acked is lost,
nothing is sent twice (the sink sees one idempotency key per event, retries absorbed), and the
restarted process handles every event the dead one acked but had not handled within 5 s of
listening again. Replies the dead process had claimed but not sent wait for their claim's
lease (``--claim-seconds`` 3 here, ``[scheduler] claim_seconds`` in production), as a live
replica might still be sending them. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from aiohttp import web
from sqlmodel import col, select

from bot.cli.demo import seed_demo
from storage.db import SessionFactory, create_all, make_engine, make_session_factory
from storage.models import Inbox
from tests._support.paths import ROOT as _ROOT
from tests._support.pg import fresh_pg_url
from tests.e2e.test_replicas import Sink

BOTH = pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
ROOT = _ROOT
BURST = 200
RESUME_SECONDS = 5.0
CHECKED: dict[str, int] = {"kills": 0, "acked": 0, "lost": 0, "duplicate_attempts": 0}


@pytest.fixture
async def database(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    url = (f"sqlite+aiosqlite:///{tmp_path / 'kill.db'}" if db_kind == "sqlite"
           else await fresh_pg_url())
    engine = make_engine(url)
    await create_all(engine)
    factory: SessionFactory = make_session_factory(engine)
    people, positions = await seed_demo(factory)
    assert people.ok and positions.ok
    await engine.dispose()
    yield url


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


_LOGS: list[IO[bytes]] = []  # closed at the end of the test


def _start(url: str, sink: Sink, port: int, name: str, log_dir: Path) -> subprocess.Popen[bytes]:
    log = (log_dir / f"{name}.log").open("wb")
    _LOGS.append(log)
    return subprocess.Popen(
        [sys.executable, "-m", "tests._support.intake_replica", "--database-url", url,
         "--sink", sink.url, "--port", str(port), "--owner", name],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=log,
    )


async def _listening(port: int, limit: float = 30.0) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        while time.monotonic() - started < limit:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the replica did not start listening")


async def _unhandled(url: str, acked: set[str]) -> int:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            rows = (await session.exec(
                select(Inbox.event_id).where(col(Inbox.processed_at).is_(None))
            )).all()
    finally:
        await engine.dispose()
    return len(set(rows) & acked)


@BOTH
async def test_sigkill_mid_burst_loses_nothing_and_resumes_fast(
    database: str, sink: Sink, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    first = _start(database, sink, port, "first", tmp_path)
    second: subprocess.Popen[bytes] | None = None
    try:
        await _listening(port)
        acked: set[str] = set()

        async def send(client: httpx.AsyncClient, n: int) -> None:
            try:
                response = await client.post(f"http://127.0.0.1:{port}/events", json={
                    "id": f"burst-{n}", "actor": "E020", "text": "帮助"})
            except httpx.HTTPError:
                return  # not acked: the platform would retry it
            if response.status_code == 200:
                acked.add(f"burst-{n}")

        kill_after = random.randint(BURST // 10, BURST // 2)  # a random moment of the burst

        async def kill_later() -> None:
            while len(acked) < kill_after and first.poll() is None:
                await asyncio.sleep(0.005)
            first.send_signal(signal.SIGKILL)

        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=20)) as client:
            await asyncio.gather(kill_later(), *(send(client, n) for n in range(BURST)))
        assert first.wait(10) == -signal.SIGKILL
        assert acked, "the kill came before anything was acked"
        CHECKED["kills"] += 1
        CHECKED["acked"] += len(acked)
        second = _start(database, sink, port, "second", tmp_path)
        ready = await _listening(port)
        while await _unhandled(database, acked) and time.monotonic() - ready < 30:
            await asyncio.sleep(0.05)
        resumed_in = time.monotonic() - ready
        wanted = {f"shell:{event}:0" for event in acked}
        while not wanted <= set(sink.delivered) and time.monotonic() - ready < 30:
            await asyncio.sleep(0.05)
        lost = wanted - set(sink.delivered)
        CHECKED["lost"] += len(lost)
        CHECKED["duplicate_attempts"] += sum(n - 1 for n in sink.duplicates().values())
        assert lost == set()
        assert resumed_in < RESUME_SECONDS, f"handling resumed after {resumed_in:.1f} s"
        # One reply per event, whoever sent it: no event answered under a second key.
        per_event: dict[str, int] = {}
        for key in sink.delivered:
            event = key.split(":")[1]
            per_event[event] = per_event.get(event, 0) + 1
        assert all(n == 1 for n in per_event.values())
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        while _LOGS:
            _LOGS.pop().close()
