"""Fixtures: a fresh database per test (SQLite file; PostgreSQL when asked), the demo org,
and an in-process chat driven through the real dispatcher and outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.demo import seed_demo
from bot.cli.local_chat import LocalChat
from bot.core.context import Settings
from storage.db import SessionFactory, create_all, make_engine, make_session_factory
from tests._support.clock import FakeClock
from tests._support.pg import drop_created, fresh_pg_url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import asyncio

    asyncio.run(drop_created())


@pytest.fixture
def clock() -> FakeClock:
    # A Tuesday morning in Shanghai (UTC+8), so working-hour arithmetic is unsurprising.
    return FakeClock(datetime(2026, 3, 3, 1, 30, tzinfo=UTC))


@pytest.fixture(params=["sqlite"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def session_factory(tmp_path: Path, db_kind: str) -> AsyncIterator[SessionFactory]:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'hrbot.db'}"
        if db_kind == "sqlite"
        else (await fresh_pg_url())
    )
    engine = make_engine(url)
    await create_all(engine)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def demo(session_factory: SessionFactory) -> SessionFactory:
    people, positions = await seed_demo(session_factory)
    assert people.ok and positions.ok, (people.errors, positions.errors)
    return session_factory


@pytest.fixture
async def chat(demo: SessionFactory, clock: FakeClock) -> LocalChat:
    return LocalChat(session_factory=demo, settings=Settings(), clock=clock)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # What the trust suites tried, so CI logs show the matrix was walked, not just "passed".
    import sys

    counts = []
    trust_suites = (
        "tests.handlers.referral.test_permissions",
        "tests.handlers.privacy.test_privacy",
    )
    for name in trust_suites:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "CHECKED", None):
            counts.append(f"{name.rsplit('.', 1)[1]}: " + ", ".join(
                f"{k} {v}" for k, v in module.CHECKED.items()))
    if counts:
        terminalreporter.write_line("trust checks: " + "; ".join(counts))
    from tests._support import tally

    if tally.TALLY:
        # Faults injected, inputs fuzzed, and "lost" (which must read 0).
        terminalreporter.write_line("faults and fuzzing: " + ", ".join(tally.lines()))

