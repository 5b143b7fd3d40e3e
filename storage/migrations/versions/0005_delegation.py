"""approvers away: leave and delegation periods, working-calendar days

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 19:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def _str(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "calendar_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        _str("kind"),
        _str("name"),
        _str("source"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_day")),
        sa.UniqueConstraint("day", name=op.f("uq_calendar_day_day")),
    )
    op.create_table(
        "away_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("delegate_id", sa.Integer(), nullable=True),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("leave", sa.Boolean(), nullable=False),
        _str("source"),
        _str("external_ref", nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("cancelled_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["person.id"], name=op.f("fk_away_period_created_by_person")
        ),
        sa.ForeignKeyConstraint(
            ["delegate_id"], ["person.id"], name=op.f("fk_away_period_delegate_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_away_period_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_away_period")),
        sa.UniqueConstraint(
            "source", "external_ref", name=op.f("uq_away_period_source_external_ref")
        ),
    )
    op.create_index(
        op.f("ix_away_period_delegate_id"), "away_period", ["delegate_id"], unique=False
    )
    op.create_index(op.f("ix_away_period_person_id"), "away_period", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_away_period_person_id"), table_name="away_period")
    op.drop_index(op.f("ix_away_period_delegate_id"), table_name="away_period")
    op.drop_table("away_period")
    op.drop_table("calendar_day")
