"""The durable inbox: every platform event once, from before its ack until it is handled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Inbox
from storage.sql import table_of
from storage.types import UTCDateTime


async def record_event(
    *, session: AsyncSession, platform: str, event_id: str, payload: dict[str, Any], now: datetime
) -> bool:
    """Store an event; False if it was already there (a platform retry)."""
    try:
        async with session.begin_nested():
            session.add(
                Inbox(platform=platform, event_id=event_id, payload=payload, received_at=now)
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


async def lock_event(*, session: AsyncSession, platform: str, event_id: str) -> Inbox | None:
    """The inbox row, locked for this transaction (PostgreSQL; SQLite locks the database)."""
    query = select(Inbox).where(Inbox.platform == platform, Inbox.event_id == event_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def list_unprocessed_events(
    *, session: AsyncSession, received_before: datetime, limit: int = 100
) -> list[Inbox]:
    result = await session.exec(
        select(Inbox)
        .where(col(Inbox.processed_at).is_(None), col(Inbox.received_at) < received_before)
        .order_by(col(Inbox.id))
        .limit(limit)
    )
    return list(result.all())


def _insert_new(dialect: str) -> Any:
    table = table_of(Inbox)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(table.c.platform, table.c.event_id)
    )


# One statement per dialect, built once: SQLAlchemy compiles it once and caches it, where a
# multi-row ``.values([...])`` is compiled again for every batch (most of a batch's CPU time).
_INSERT_NEW = {name: _insert_new(name) for name in ("postgresql", "sqlite")}


def _insert_statement(dialect: str) -> Any:
    return _INSERT_NEW["postgresql" if dialect == "postgresql" else "sqlite"]


NewEvent = tuple[str, str, dict[str, Any]]  # (platform, event_id, payload)


async def record_events(
    *, session: AsyncSession, events: Sequence[NewEvent], now: datetime
) -> set[tuple[str, str]]:
    """Store many (platform, event_id, payload) at once; returns the keys that were new.

    A key already stored (a retry) is skipped by the database, and only inserted rows come
    back. The rows go as one executemany of a Core statement, which SQLAlchemy sends as
    multi-row ``INSERT … VALUES`` batches on both SQLite and PostgreSQL.
    """
    if not events:
        return set()
    connection = await session.connection()
    statement = _insert_statement(connection.dialect.name)
    result = await connection.execute(statement, _rows(events, now))
    return {(row[0], row[1]) for row in result.all()}


# SQLite builds older than 3.32 allow 999 bound variables per statement; four per row.
_SQLITE_ROWS_PER_STATEMENT = 240


Inserter = Callable[[Sequence[NewEvent], datetime], Awaitable[set[tuple[str, str]]]]


@asynccontextmanager
async def inbox_inserter(engine: AsyncEngine) -> AsyncIterator[Inserter]:
    """Hold one connection and yield a function that stores and commits events on it.

    The function returns the keys that were new (not retries), like :func:`record_events`
    in a committed session, at a fraction of the cost. On SQLite the rows go straight to
    the driver as one autocommit ``INSERT … ON CONFLICT DO NOTHING RETURNING`` per 240 rows:
    SQLite runs a lone statement as a transaction of its own, so a batch is one trip to
    aiosqlite's thread instead of nine (cursor, ``BEGIN IMMEDIATE``, insert, fetch, commit
    and the pool's rollback, each its own). The connection still comes from the engine's
    pool, so stores take turns with every other unit of work as usual.
    """
    async with engine.connect() as connection:
        if engine.dialect.driver != "aiosqlite":
            statement = _insert_statement(engine.dialect.name)

            async def insert(events: Sequence[NewEvent], now: datetime) -> set[tuple[str, str]]:
                if not events:
                    return set()
                async with connection.begin():
                    result = await connection.execute(statement, _rows(events, now))
                    return {(row[0], row[1]) for row in result.all()}

            yield insert
            return
        driver = (await connection.get_raw_connection()).driver_connection
        if driver is None:  # only an invalidated pool entry has none
            raise RuntimeError("the pooled SQLite connection has no driver connection")
        to_json, to_stamp = _sqlite_binds(connection.dialect)

        async def insert_sqlite(
            events: Sequence[NewEvent], now: datetime
        ) -> set[tuple[str, str]]:
            stamp = to_stamp(now)
            new: set[tuple[str, str]] = set()
            for start in range(0, len(events), _SQLITE_ROWS_PER_STATEMENT):
                chunk = events[start : start + _SQLITE_ROWS_PER_STATEMENT]
                params: list[Any] = []
                for platform, event_id, payload in chunk:
                    params += (platform, event_id, to_json(payload), stamp)
                rows = await driver.execute_fetchall(_sqlite_insert_sql(len(chunk)), params)
                if driver.in_transaction:  # only if the driver was set to open them itself
                    await driver.commit()
                new.update((row[0], row[1]) for row in rows)
            return new

        yield insert_sqlite


def _rows(events: Sequence[NewEvent], now: datetime) -> list[dict[str, Any]]:
    return [
        {"platform": p, "event_id": e, "payload": payload, "received_at": now, "outcome": ""}
        for p, e, payload in events
    ]


_SQLITE_ROW = "(?, ?, ?, ?, '')"
_SQL_BY_SIZE: dict[int, str] = {}


def _sqlite_insert_sql(rows: int) -> str:
    sql = _SQL_BY_SIZE.get(rows)
    if sql is None:
        table = table_of(Inbox)
        sql = _SQL_BY_SIZE[rows] = (
            f"INSERT INTO {table.name} (platform, event_id, payload, received_at, outcome) "
            f"VALUES {', '.join([_SQLITE_ROW] * rows)} "
            "ON CONFLICT (platform, event_id) DO NOTHING RETURNING platform, event_id"
        )
    return sql


def _sqlite_binds(dialect: Dialect) -> tuple[Callable[[Any], Any], Callable[[datetime], Any]]:
    """The column types' own conversions, so rows read back exactly as ORM-written ones."""
    columns = table_of(Inbox).c
    json_bind = columns.payload.type.bind_processor(dialect)
    stamp_type = columns.received_at.type
    assert isinstance(stamp_type, UTCDateTime)  # as Inbox declares it
    stamp_bind = stamp_type.dialect_impl(dialect).bind_processor(dialect)

    def to_json(value: Any) -> Any:
        return json_bind(value) if json_bind is not None else value

    def to_stamp(value: datetime) -> Any:
        utc = stamp_type.process_bind_param(value, dialect)
        return stamp_bind(utc) if stamp_bind is not None else utc

    return to_json, to_stamp
