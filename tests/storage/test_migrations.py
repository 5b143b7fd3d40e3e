"""The packaged Alembic migrations build exactly the schema storage.models describes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage.db import make_engine
from storage.migrate import alembic_config, current_revision, upgrade_database
from tests._support.paths import ROOT
from tests._support.pg import fresh_pg_url

HEAD = "0012"


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    else:
        yield await fresh_pg_url()


async def _on(url: str, fn: Any) -> Any:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, SQLModel.metadata))


def _schema(connection: Connection) -> dict[str, Any]:
    insp = inspect(connection)
    return {
        table: (
            sorted(c["name"] for c in insp.get_columns(table)),
            sorted(str(i["name"]) for i in insp.get_indexes(table)),
        )
        for table in insp.get_table_names()
    }


async def test_upgrade_builds_the_model_schema(url: str) -> None:
    assert await current_revision(url) is None

    await upgrade_database(url)

    assert await current_revision(url) == HEAD
    tables = set((await _on(url, _schema)).keys())
    assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}
    # Types, nullability, indexes, unique and foreign keys: no difference on either backend.
    assert await _on(url, _diff) == []


async def test_upgrade_twice_is_a_noop(url: str) -> None:
    await upgrade_database(url)
    received = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)

    def insert(connection: Connection) -> None:
        connection.execute(
            text(
                "INSERT INTO inbox (platform, event_id, payload, received_at, outcome) "
                "VALUES ('dingtalk', 'evt-1', '{}', :at, 'ok')"
            ),
            {"at": received},
        )

    await _on(url, insert)
    before = await _on(url, _schema)

    await upgrade_database(url)
    await upgrade_database(url, HEAD)

    assert await _on(url, _schema) == before
    assert await current_revision(url) == HEAD

    def rows(connection: Connection) -> tuple[list[Any], list[Any]]:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        events = connection.execute(text("SELECT event_id FROM inbox")).all()
        return [tuple(r) for r in versions], [tuple(r) for r in events]

    assert await _on(url, rows) == ([(HEAD,)], [("evt-1",)])


async def test_downgrade_to_base_and_back(url: str) -> None:
    await upgrade_database(url)
    config = alembic_config(url)

    def downgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    await _on(url, downgrade)

    assert await current_revision(url) is None
    assert set((await _on(url, _schema)).keys()) == {"alembic_version"}
    if url.startswith("postgresql"):
        # The native ENUM types must go too, or the next upgrade fails with "already exists".
        enums = await _on(
            url, lambda c: c.execute(text("SELECT typname FROM pg_type WHERE typtype = 'e'")).all()
        )
        assert enums == []

    await upgrade_database(url)

    assert await current_revision(url) == HEAD
    assert await _on(url, _diff) == []


def test_config_finds_packaged_scripts_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = alembic_config(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")

    script = ScriptDirectory.from_config(config)

    assert Path(script.dir) == ROOT / "storage" / "migrations"
    assert script.get_heads() == [HEAD]
    walk = [rev.revision for rev in script.walk_revisions()]
    assert walk == [f"{n:04d}" for n in range(12, 0, -1)]


def test_plain_alembic_command_runs_env_on_its_own_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No connection handed over: env.py makes its engine from the URL (the command-line path).
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    command.upgrade(alembic_config(url), "head")

    assert asyncio.run(current_revision(url)) == HEAD
