"""PostgreSQL for tests: HRBOT_TEST_DATABASE_URL, one fresh schema-less database per test run.

Under CI=true an unreachable server fails the test; elsewhere it skips, so a laptop without
PostgreSQL still runs the rest of the suite.
"""

from __future__ import annotations

import os
import uuid

import pytest

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CREATED: list[str] = []  # databases made by this test run, dropped at its end


def pg_url() -> str:
    return os.environ.get("HRBOT_TEST_DATABASE_URL", DEFAULT_URL)


async def fresh_pg_url() -> str:
    """Create an empty database for one test and return its URL."""
    import asyncpg

    base = pg_url()
    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        message = f"PostgreSQL not reachable at {base}: {err}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    name = f"hrbot_t_{uuid.uuid4().hex[:12]}"
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    CREATED.append(name)
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}"


async def drop_created() -> None:
    """Drop the databases this run created (best effort: a leftover is harmless)."""
    import asyncpg

    if not CREATED:
        return
    dsn = pg_url().replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        while CREATED:
            await conn.execute(f'DROP DATABASE IF EXISTS "{CREATED.pop()}" WITH (FORCE)')
    finally:
        await conn.close()
