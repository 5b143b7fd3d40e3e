"""What every table module shares: the constraint naming convention, UTC now, column helpers.

Imported first by ``storage.models``, so the naming convention is on the metadata before any
table is declared.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

# Named constraints, so later migrations (SQLite batch mode included) can alter or drop them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def enum_type(enum: type[StrEnum]) -> Enum:
    # Store the values ("hr_review"), not the member names, as plain VARCHAR: reports can
    # filter on the words people see, and a new state needs no ALTER TYPE on PostgreSQL.
    return Enum(
        enum,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        create_constraint=False,
        length=32,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_field(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_type=UTCDateTime,
        nullable=nullable,
        index=index,
    )
