"""Core SQL through a SQLModel session, typed: the table behind a model, and Core statements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, inspect
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession as SQLAlchemyAsyncSession
from sqlalchemy.sql.base import Executable
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def table_of(model: type[SQLModel]) -> Table:
    """``model.__table__`` as a ``Table``: SQLModel sets the attribute but does not declare it."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to one table")
    return table


async def execute(session: AsyncSession, statement: Executable) -> Result[*tuple[Any, ...]]:
    """Run a Core statement (a select of columns, ``text()``) in the session's transaction.

    SQLModel's ``exec()`` is typed only for its own ``select()`` of up to four entities and
    for DML, and its ``execute()`` override only adds a deprecation warning (an error under
    the test settings) before calling SQLAlchemy's, which this calls directly.
    """
    return await SQLAlchemyAsyncSession.execute(session, statement)
