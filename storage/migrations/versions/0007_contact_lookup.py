"""contact lookups: mobiles WeCom holds for new external contacts, to link candidates by phone

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 16:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_lookup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_userid", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("employee_userid", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("mobiles", sa.JSON(), nullable=False),
        sa.Column("fetched_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("applied_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_lookup")),
    )
    op.create_index(
        op.f("ix_contact_lookup_external_userid"), "contact_lookup", ["external_userid"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_contact_lookup_external_userid"), table_name="contact_lookup")
    op.drop_table("contact_lookup")
