"""storage.sql: Core statements run inside the session's unit of work, and a model's Table."""

from __future__ import annotations

from sqlalchemy import Table, func, select, text
from sqlmodel import col

from storage.db import SessionFactory, session_scope
from storage.models import Inbox, Person
from storage.sql import execute, table_of


async def test_execute_sees_what_the_session_has_not_flushed_yet(
    session_factory: SessionFactory,
) -> None:
    # Reading through session.connection() instead would skip the autoflush and count 0.
    async with session_scope(session_factory) as session:
        session.add(Person(employee_no="E1", name="张三", org_path="/总部"))
        count = (await execute(session, select(func.count(col(Person.id))))).scalar_one()
        assert count == 1


async def test_execute_runs_text_and_rolls_back_with_the_session(
    session_factory: SessionFactory,
) -> None:
    async with session_factory() as session:
        await execute(session, text("INSERT INTO person (employee_no, name, org_path, roles, "
                                    "active) VALUES ('E2', '李四', '/总部', '[]', TRUE)"))
        await session.rollback()
    async with session_factory() as session:
        rows = (await execute(session, text("SELECT count(*) FROM person"))).scalar_one()
        assert rows == 0


def test_table_of_is_the_mapped_table() -> None:
    table = table_of(Inbox)
    assert isinstance(table, Table)
    assert table.name == "inbox"
    assert {"platform", "event_id", "payload", "received_at"} <= set(table.c.keys())
