"""PostgreSQL for tests: HRBOT_TEST_DATABASE_URL, one fresh schema-less database per test run.

Under CI=true an unreachable server fails the test; elsewhere it skips, so a laptop without
PostgreSQL still runs the rest of the suite.
"""

from __future__ import annotations

import os
import uuid

import pytest

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


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
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}"
